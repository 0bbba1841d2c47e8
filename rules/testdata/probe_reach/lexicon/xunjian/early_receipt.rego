package xunjian.custom

# A typo in the action: "blok".
reasons contains {
	"rule": "commitment.early_receipt.block",
	"action": "blok",
	"message": "禁止要求顾客提前确认收货",
	"finding": i,
} if {
	some i, f in input.findings
	f.lexicon == "commitment.early_receipt"
}
