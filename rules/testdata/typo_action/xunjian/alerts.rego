package xunjian

# alerts are for supervisors: findings whose kind has an alert spec (for the
# roles given there, e.g. complaint.* on customer messages) and
# conversation-level thresholds (risk, wait time).
alerts := array.concat(finding_alerts, conversation_alerts)

finding_alerts := [al |
	some f in input.findings
	spec := data.xunjian.config.kinds[concat(".", [f.detector, f.kind])].alert
	role in spec.roles
	al := {
		# A critical finding makes a critical alert whatever the configured level.
		"level": object.get(critical_levels, f.severity, spec.level),
		"kind": spec.kind,
		"message": object.get(spec.message, lang, spec.kind),
	}
]

critical_levels := {"critical": "critical"}

conversation_alerts := [al |
	some kind, value in {"risk": input.conversation.risk, "wait": input.conversation.wait_seconds}
	value >= object.get(tenant_thresholds, kind, data.xunjian.config.thresholds[kind])
	spec := data.xunjian.config.conversation_alerts[kind]
	al := {"level": spec.level, "kind": kind, "message": object.get(spec.message, lang, kind)}
]
