# Early receipt: asking a customer to confirm receipt before the goods (or
# the refund) have arrived releases the payment to the shop and strips the
# customer of the platform's protection. The lexicon entry
# commitment.early_receipt finds it; its kind (commitment.compensation) is
# held for the agent to confirm. This rule stops it outright.
#
# On trial: in package xunjian.shadow the rule runs on live traffic and its
# would-be reason goes into each event's shadow field and the metric
# xunjian_shadow_fires_total, without changing any action. To enforce it,
# change the package line to: package xunjian.custom
package xunjian.shadow

reasons contains {
	"rule": "commitment.early_receipt.block",
	"action": "block",
	"message": "禁止要求顾客提前确认收货",
	"finding": i,
	"suggestion": "请等顾客收到商品（或退款到账）后再请其确认收货。",
} if {
	some i, f in input.findings
	f.lexicon == "commitment.early_receipt"
}
