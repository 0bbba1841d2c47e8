package xunjian.custom

# Only for tenant acme, only when the customer has escalated twice or more:
# a reason with a finding index that is not a number.
reasons contains {
	"rule": "acme.vip_escalation.confirm",
	"action": "confirm",
	"message": "VIP 顾客已多次升级，请主管确认",
	"finding": "all",
} if {
	input.tenant.id == "acme"
	input.conversation.customer_escalations >= 2
	input.draft.role == "agent"
	some f in input.findings
	f.detector == "tone"
}
