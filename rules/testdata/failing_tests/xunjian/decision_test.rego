package xunjian.decision_test

import data.xunjian

test_empty_allows if {
	xunjian.decision.action == "allow" with input as {"findings": []}
}

test_wrong_expectation if {
	xunjian.decision.action == "warn" with input as {"findings": [{}]}
}
