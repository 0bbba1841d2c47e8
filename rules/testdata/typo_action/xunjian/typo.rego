# A custom rule with a typo in its action: "blok" is not an action.
package xunjian.custom

reasons contains {
	"rule": "diversion.payment.typo",
	"action": "blok",
	"message": "禁止引导站外付款",
} if {
	some f in input.findings
	f.detector == "diversion"
	f.kind == "payment"
}
