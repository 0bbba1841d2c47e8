package xunjian.shadow

# On trial, with an action in the wrong case: "Block".
reasons contains {
	"rule": "commitment.refund_promise.block",
	"action": "Block",
	"message": "未经授权的退款承诺",
	"finding": i,
} if {
	some i, f in input.findings
	f.detector == "commitment"
	f.kind == "compensation"
	f.severity == "critical"
}
