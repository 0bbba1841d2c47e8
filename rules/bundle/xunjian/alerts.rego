package xunjian

# Alerts are for supervisors: findings whose kind has an alert spec (for the
# roles given there, e.g. complaint.* on customer messages) and
# conversation-level thresholds (risk, wait time). decision (decision.rego)
# raises the findings' alerts, then conversation_alerts.
#
# A decision carries each alert once. One message often holds several
# findings of one kind ("再不处理我就打12315投诉你们" names a regulator and
# says 投诉: two complaint.escalation findings); they raise one alert.
# Alerts that still repeat one another's kind and message (two kinds whose
# specs share them) are merged into the first of them, at the highest
# level any had (in decision). Alerts of one kind with different messages
# (complaint.escalation's and complaint.risk's) stay apart.

# alert_level_ranks orders the alerts' levels, for the merge.
alert_level_ranks := {"low": 0, "medium": 1, "high": 2, "critical": 3}

# critical_levels gives the level of an alert one of whose findings is
# critical.
critical_levels := {true: "critical"}

# severity_ranks orders the findings' severities, for an alert's
# min_severity (a finding below it raises no alert).
severity_ranks := {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

# conversation_alerts raises the risk and wait alerts of the conversation
# at or above their thresholds (the tenant's, else config's). Its first
# branch, the common case (both below), is decision's first branch's check
# and gives what the second would.
conversation_alerts := [] if {
	th := object.get(threshold_tables, [object.get(input, ["tenant", "id"], null)], data.xunjian.config.thresholds)
	input.conversation.risk < th.risk
	input.conversation.wait_seconds < th.wait
} else := [al |
	th := object.get(threshold_tables, [object.get(input, ["tenant", "id"], null)], data.xunjian.config.thresholds)
	some kind, value in {"risk": input.conversation.risk, "wait": input.conversation.wait_seconds}
	value >= th[kind]
	spec := data.xunjian.config.conversation_alerts[kind]
	al := {"level": spec.level, "kind": kind, "message": object.get(spec.message, lang, kind)}
]

# threshold_tables holds the thresholds of each tenant that has its own:
# config's, with the tenant's in their place. A constant (data only).
threshold_tables := {id: object.union(data.xunjian.config.thresholds, t.thresholds) | some id, t in data.xunjian.tenants; t.thresholds}
