package xunjian_test

import data.xunjian

early_receipt_draft := {
	"tenant": {"id": "shop"},
	"draft": {"role": "agent", "lang": "zh"},
	"conversation": {"risk": 0, "wait_seconds": 0},
	"findings": [{
		"detector": "commitment", "kind": "compensation", "severity": "medium",
		"score": 0.85, "start": 1, "end": 6, "evidence": "先确认收货",
		"lexicon": "commitment.early_receipt",
	}],
}

# The rule proposes block for an early-receipt request (in shadow while on
# trial, in reasons once enforced)...
test_early_receipt_fires if {
	d := xunjian.decision with input as early_receipt_draft
	some r in array.concat(d.shadow, d.reasons)
	r.rule == "commitment.early_receipt.block"
	r.finding == 0
}

# ...and for nothing else: another compensation promise is left alone.
test_early_receipt_only_its_lexicon if {
	other := json.patch(early_receipt_draft, [{"op": "replace", "path": "/findings/0/lexicon", "value": "compensation.refund"}])
	d := xunjian.decision with input as other
	every r in array.concat(d.shadow, d.reasons) {
		r.rule != "commitment.early_receipt.block"
	}
}
