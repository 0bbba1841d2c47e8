package xunjian

# alerts are for supervisors: findings whose kind has an alert spec (for the
# roles given there, e.g. complaint.* on customer messages) and
# conversation-level thresholds (risk, wait time).
#
# A decision carries each alert once. One message often holds several
# findings of one kind ("再不处理我就打12315投诉你们" names a regulator and
# says 投诉: two complaint.escalation findings); they raise one alert (see
# finding_alerts). Alerts that still repeat one another's kind and message
# (two kinds whose specs share them) are merged into the first of them, at
# the highest level any had. Alerts of one kind with different messages
# (complaint.escalation's and complaint.risk's) stay apart.
#
# Performance: the merge is an else-chain evaluated only as far as needed,
# so a message with fewer than two alerts, or none repeated, skips it. A
# level the ranks do not know ranks lowest and is kept as written, so that
# a misspelt level in data.json still breaks the decision schema (and the
# bundle is refused) rather than vanishing.
alerts := raised_alerts if {
	count(raised_alerts) < 2
} else := raised_alerts if {
	count({[a.kind, a.message] | some a in raised_alerts}) == count(raised_alerts)
} else := merged_alerts

merged_alerts := [al |
	some i, a in raised_alerts
	same := [j | some j, b in raised_alerts; b.kind == a.kind; b.message == a.message]
	i == same[0]
	ranks := [object.get(alert_level_ranks, raised_alerts[j].level, -1) | some j in same]
	top := max(ranks)
	levels := [raised_alerts[j].level | some k, j in same; ranks[k] == top]
	al := object.union(a, {"level": levels[0]})
]

# raised_alerts holds the findings' alerts, then the conversation's.
raised_alerts := array.concat(finding_alerts, conversation_alerts)

alert_level_ranks := {"low": 0, "medium": 1, "high": 2, "critical": 3}

# finding_alerts raises one alert per kind of finding that has an alert
# spec, at its first finding: the findings of a kind share one alert, which
# is critical when any of them is (whatever the configured level). A kind
# without an alert spec costs one lookup, as before.
finding_alerts := [al |
	some i, f in input.findings
	spec := data.xunjian.config.kinds[concat(".", [f.detector, f.kind])].alert
	role in spec.roles
	severity_ranks[f.severity] >= severity_ranks[object.get(spec, "min_severity", "info")]
	same := [g.severity | some j, g in input.findings; g.kind == f.kind; g.detector == f.detector; j <= i]
	count(same) == 1
	critical := [1 | some g in input.findings; g.severity == "critical"; g.kind == f.kind; g.detector == f.detector]
	al := {
		"level": object.get(critical_levels, count(critical) > 0, spec.level),
		"kind": spec.kind,
		"message": object.get(spec.message, lang, spec.kind),
	}
]

critical_levels := {true: "critical"}

# severity_ranks orders the findings' severities, for an alert's
# min_severity (a finding below it raises no alert).
severity_ranks := {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

conversation_alerts := [al |
	some kind, value in {"risk": input.conversation.risk, "wait": input.conversation.wait_seconds}
	value >= object.get(tenant_thresholds, kind, data.xunjian.config.thresholds[kind])
	spec := data.xunjian.config.conversation_alerts[kind]
	al := {"level": spec.level, "kind": kind, "message": object.get(spec.message, lang, kind)}
]
