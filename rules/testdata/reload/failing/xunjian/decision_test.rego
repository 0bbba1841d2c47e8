package xunjian_test

import data.xunjian

test_finding_warns if {
	xunjian.decision.action == "warn" with input as {"findings": [{}]}
}
