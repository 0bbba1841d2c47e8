package xunjian_test

import data.xunjian

test_no_finding_allows if {
	xunjian.decision.action == "allow" with input as {"findings": []}
}

test_finding_blocks if {
	xunjian.decision.action == "block" with input as {"findings": [{}]}
}
