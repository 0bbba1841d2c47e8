package xunjian_test

import data.xunjian

# f builds a finding of detector.kind at the given severity.
f(detector, kind, severity) := {
	"detector": detector, "kind": kind, "severity": severity,
	"score": 0.9, "start": 0, "end": 1, "evidence": "x",
}

agent_draft(findings) := {
	"draft": {"text": "x", "normalized": "x", "role": "agent", "lang": "zh"},
	"findings": findings,
	"conversation": {"id": "c1", "turns": 3, "customer_escalations": 0, "risk": 0.1, "wait_seconds": 5},
	"agent": {"id": "a1"},
	"tenant": {"id": "t1"},
}

customer_msg(findings) := object.union(agent_draft(findings), {"draft": {"role": "customer"}})

action_of(detector, kind, severity) := d.action if {
	d := xunjian.decision with input as agent_draft([f(detector, kind, severity)])
}

test_kind_actions if {
	every kind, want in {
		"privacy.credential": "block",
		"privacy.id_card": "redact",
		"privacy.bank_card": "redact",
		"privacy.passport": "redact",
		"privacy.phone": "redact",
		"privacy.email": "redact",
		"privacy.address": "redact",
		"privacy.license_plate": "redact",
		"diversion.contact": "block",
		"diversion.payment": "block",
		"tone.rude": "block",
		"tone.profanity": "block",
		"tone.dismissive": "confirm",
		"tone.impatient": "warn",
		"commitment.guarantee": "confirm",
		"commitment.compensation": "confirm",
		"commitment.absolute_claim": "warn",
		"link.external": "confirm",
		"complaint.escalation": "allow",
	} {
		parts := split(kind, ".")
		action_of(parts[0], parts[1], "medium") == want
	}
}

test_no_findings_allow if {
	d := xunjian.decision with input as agent_draft([])
	d == {"action": "allow", "reasons": [], "alerts": [], "sample": false, "shadow": []}
}

test_unknown_kind_allow if {
	action_of("privacy", "shoe_size", "high") == "allow"
}

test_max_over_findings if {
	d := xunjian.decision with input as agent_draft([
		f("tone", "impatient", "low"),
		f("privacy", "phone", "medium"),
		f("link", "external", "medium"),
	])
	d.action == "confirm"
	[r.rule | some r in d.reasons] == ["tone.impatient.warn", "privacy.phone.redact", "link.external.confirm"]
	[r.finding | some r in d.reasons] == [0, 1, 2]
}

test_compensation_by_severity if {
	action_of("commitment", "compensation", "low") == "confirm"
	action_of("commitment", "compensation", "high") == "block"
	action_of("commitment", "compensation", "critical") == "block"
}

test_info_severity_capped_at_warn if {
	action_of("privacy", "credential", "info") == "warn"
	action_of("tone", "rude", "info") == "warn"
	action_of("tone", "impatient", "info") == "warn"
}

test_phone_only_for_agent_role if {
	inp := object.union(agent_draft([f("privacy", "phone", "medium")]), {"draft": {"role": "bot"}})
	d := xunjian.decision with input as inp
	d.action == "allow"
	d.reasons == []

	inp2 := object.union(agent_draft([f("privacy", "email", "medium")]), {"draft": {"role": "bot"}})
	d2 := xunjian.decision with input as inp2
	d2.action == "redact"
}

test_missing_role_is_agent if {
	inp := json.remove(agent_draft([f("tone", "rude", "high")]), ["draft/role"])
	d := xunjian.decision with input as inp
	d.action == "block"
}

test_diversion_suggestion_by_lang if {
	d := xunjian.decision with input as agent_draft([f("diversion", "contact", "high")])
	d.reasons[0].suggestion == "请通过平台内聊天与顾客沟通"
	d.reasons[0].rule == "diversion.contact.block"

	en := object.union(agent_draft([f("diversion", "payment", "high")]), {"draft": {"lang": "en"}})
	d2 := xunjian.decision with input as en
	d2.reasons[0].suggestion == "Please keep talking with the customer in the platform chat"
	d2.reasons[0].message == "Do not ask for payment outside the platform"
}

test_rude_has_rewrite if {
	every kind in ["rude", "profanity"] {
		d := xunjian.decision with input as agent_draft([f("tone", kind, "high")])
		d.action == "block"
		count(d.reasons[0].suggestion) > 0
	}
}

test_no_suggestion_for_redact if {
	d := xunjian.decision with input as agent_draft([f("privacy", "id_card", "high")])
	d.reasons[0].suggestion == ""
	d.reasons[0].message == "身份证号已遮盖"
}

test_customer_always_allow if {
	d := xunjian.decision with input as customer_msg([
		f("tone", "profanity", "high"),
		f("privacy", "credential", "high"),
		f("complaint", "escalation", "high"),
	])
	d.action == "allow"
	d.reasons == []
	d.alerts == [{"level": "high", "kind": "complaint", "message": "顾客威胁投诉或升级"}]
	d.sample == true
}

test_customer_tenant_cannot_hold if {
	d := xunjian.decision with input as customer_msg([f("tone", "rude", "high")])
		with data.xunjian.tenants as {"t1": {"actions": {"tone.rude": "block"}}}
	d.action == "allow"
}

test_complaint_alert_levels if {
	d := xunjian.decision with input as customer_msg([f("complaint", "risk", "medium")])
	d.alerts == [{"level": "medium", "kind": "complaint", "message": "会话投诉风险升高"}]
	d.sample == false

	d2 := xunjian.decision with input as customer_msg([f("complaint", "escalation", "critical")])
	d2.alerts[0].level == "critical"
}

test_complaint_on_agent_draft_no_alert if {
	d := xunjian.decision with input as agent_draft([f("complaint", "escalation", "high")])
	d.alerts == []
}

test_risk_threshold_alert if {
	below := object.union(agent_draft([]), {"conversation": {"risk": 0.79}})
	d := xunjian.decision with input as below
	d.alerts == []

	at := object.union(agent_draft([]), {"conversation": {"risk": 0.8}})
	d2 := xunjian.decision with input as at
	d2.alerts == [{"level": "high", "kind": "risk", "message": "会话风险超过阈值"}]
	d2.sample == true
	d2.action == "allow"
}

test_wait_threshold_alert if {
	waited := object.union(customer_msg([]), {"conversation": {"wait_seconds": 180}, "draft": {"lang": "en"}})
	d := xunjian.decision with input as waited
	d.alerts == [{"level": "medium", "kind": "wait", "message": "Customer has been waiting too long"}]
	d.sample == false

	short := object.union(customer_msg([]), {"conversation": {"wait_seconds": 179}})
	d2 := xunjian.decision with input as short
	d2.alerts == []
}

test_tenant_threshold_override if {
	inp := object.union(agent_draft([]), {"conversation": {"wait_seconds": 60}})
	d := xunjian.decision with input as inp
		with data.xunjian.tenants as {"t1": {"thresholds": {"wait": 30}}}
	d.alerts[0].kind == "wait"
}

test_tenant_action_override if {
	tenants := {"t1": {"actions": {"link.external": "block", "tone.impatient": "allow"}}}
	d := xunjian.decision with input as agent_draft([f("link", "external", "medium")])
		with data.xunjian.tenants as tenants
	d.action == "block"
	d.reasons[0].rule == "link.external.block"

	d2 := xunjian.decision with input as agent_draft([f("tone", "impatient", "medium")])
		with data.xunjian.tenants as tenants
	d2.action == "allow"
	d2.reasons == []

	# Another tenant keeps the defaults.
	other := object.union(agent_draft([f("link", "external", "medium")]), {"tenant": {"id": "t2"}})
	d3 := xunjian.decision with input as other
		with data.xunjian.tenants as tenants
	d3.action == "confirm"
}

test_config_table_drives_action if {
	d := xunjian.decision with input as agent_draft([f("tone", "impatient", "medium")])
		with data.xunjian.config.actions["tone.impatient"] as "confirm"
	d.action == "confirm"
}

test_sample_on_block if {
	d := xunjian.decision with input as agent_draft([f("privacy", "credential", "high")])
	d.sample == true
	d.reasons[0].rule == "privacy.credential.block"
}

# A shadow rule fires into shadow and never changes the action.
test_shadow_never_changes_action if {
	d := xunjian.decision with input as agent_draft([f("tone", "impatient", "medium")])
		with xunjian.shadow_reasons as {{"rule": "shadow.impatient.block", "action": "block", "message": "trial"}}
	d.action == "warn"
	d.shadow == [{"rule": "shadow.impatient.block", "action": "block", "message": "trial"}]
}

# An enforced custom rule (package xunjian.custom) counts for the action.
test_custom_rule_enforced if {
	d := xunjian.decision with input as agent_draft([f("tone", "impatient", "medium")])
		with xunjian.custom_reasons as {{"rule": "custom.impatient.block", "action": "block", "message": "m"}}
	d.action == "block"
	[r.rule | some r in d.reasons] == ["tone.impatient.warn", "custom.impatient.block"]
	d.shadow == []
}

# "再不处理我就打12315投诉你们" holds two complaint.escalation findings (the
# regulator's hotline, high; 投诉, medium) and a complaint.risk one: the
# decision carries the escalation alert once, beside the risk alerts.
test_alert_once_per_kind_and_message if {
	inp := object.union(
		customer_msg([
			f("complaint", "escalation", "high"),
			f("complaint", "escalation", "medium"),
			f("complaint", "risk", "high"),
		]),
		{"conversation": {"risk": 0.86}},
	)
	d := xunjian.decision with input as inp
	d.alerts == [
		{"level": "high", "kind": "complaint", "message": "顾客威胁投诉或升级"},
		{"level": "medium", "kind": "complaint", "message": "会话投诉风险升高"},
		{"level": "high", "kind": "risk", "message": "会话风险超过阈值"},
	]
}

# Merged alerts keep the highest level any of them had, wherever it came.
test_alert_merge_keeps_highest_level if {
	d := xunjian.decision with input as customer_msg([
		f("complaint", "escalation", "medium"),
		f("complaint", "escalation", "critical"),
		f("complaint", "escalation", "low"),
	])
	d.alerts == [{"level": "critical", "kind": "complaint", "message": "顾客威胁投诉或升级"}]

	en := object.union(customer_msg([f("complaint", "risk", "medium"), f("complaint", "risk", "medium")]), {"draft": {"lang": "en"}})
	d2 := xunjian.decision with input as en
	d2.alerts == [{"level": "medium", "kind": "complaint", "message": "Conversation complaint risk is rising"}]
}

# Two kinds that share a message stay two alerts.
test_alert_kinds_stay_apart if {
	d := xunjian.decision with input as customer_msg([f("complaint", "escalation", "high"), f("complaint", "risk", "medium")])
		with data.xunjian.config.kinds["complaint.risk"].alert as {
			"level": "medium", "kind": "risk", "roles": ["customer"],
			"message": {"zh": "顾客威胁投诉或升级", "en": "x"},
		}
	d.alerts == [
		{"level": "high", "kind": "complaint", "message": "顾客威胁投诉或升级"},
		{"level": "medium", "kind": "risk", "message": "顾客威胁投诉或升级"},
	]
}

# A misspelt level is kept as written, for the decision schema to refuse,
# rather than dropped by the merge.
test_alert_unknown_level_kept if {
	d := xunjian.decision with input as customer_msg([f("complaint", "escalation", "high")])
		with data.xunjian.config.kinds["complaint.escalation"].alert.level as "hgih"
	d.alerts == [{"level": "hgih", "kind": "complaint", "message": "顾客威胁投诉或升级"}]
}

# Two kinds of finding whose alert specs share kind and message raise one
# alert, at the higher level.
test_alert_specs_sharing_kind_and_message_merge if {
	shared := {
		"level": "critical", "kind": "complaint", "roles": ["customer"],
		"message": {"zh": "顾客威胁投诉或升级", "en": "x"},
	}
	d := xunjian.decision with input as customer_msg([f("complaint", "escalation", "high"), f("complaint", "risk", "medium")])
		with data.xunjian.config.kinds["complaint.risk"].alert as shared
	d.alerts == [{"level": "critical", "kind": "complaint", "message": "顾客威胁投诉或升级"}]
}

# A finding of the learned model (rule "model:…") takes the action of the
# highest band of its kind its score reaches: the low grey zone warns, the
# upper one holds for confirmation, a high score blocks, below every band
# there is no reason.
model_f(kind, score) := {"detector": "tone", "kind": kind, "severity": "low", "score": score, "start": 0, "end": 9, "evidence": "", "rule": "model:0123abcd"}

test_model_bands if {
	every score, want in {0.95: "block", 0.8: "block", 0.65: "confirm", 0.6: "confirm", 0.55: "warn", 0.4: "warn", 0.3: "allow"} {
		d := xunjian.decision with input as agent_draft([model_f("rude", score)])
		d.action == want
	}
	d := xunjian.decision with input as agent_draft([model_f("dismissive", 0.9)])
	d.action == "confirm"
	d.reasons[0].rule == "tone.dismissive.model.confirm"
	d.reasons[0].finding == 0
	r := xunjian.decision with input as agent_draft([model_f("rude", 0.9)])
	r.reasons[0].suggestion != ""
}

# The same kind from the lexicon keeps its kind's action, whatever its score.
test_model_bands_only_for_model_findings if {
	d := xunjian.decision with input as agent_draft([object.union(f("tone", "rude", "low"), {"score": 0.3})])
	d.action == "block"
	d.reasons[0].rule == "tone.rude.block"
}

# A tenant's bands replace the defaults for that tenant only.
test_model_bands_per_tenant if {
	bands := {"t1": {"model_bands": {"tone.rude": {"confirm": 0.5}}}}
	d := xunjian.decision with input as agent_draft([model_f("rude", 0.9)])
		with data.xunjian.tenants as bands
	d.action == "confirm"
	other := object.union(agent_draft([model_f("rude", 0.9)]), {"tenant": {"id": "t2"}})
	d2 := xunjian.decision with input as other
		with data.xunjian.tenants as bands
	d2.action == "block"
}

# Customer messages are observed: a model finding raises no reason.
test_model_customer_no_reasons if {
	d := xunjian.decision with input as customer_msg([model_f("rude", 0.99)])
	d.action == "allow"
	d.reasons == []
}

# An agent's offensive draft (rude or profane, from the lexicon or the
# model's confident findings) and an off-platform payment raise a
# supervisor alert of kind conduct; a low-severity finding (the model's
# grey zone) and a customer's words do not.
test_conduct_alerts if {
	d := xunjian.decision with input as agent_draft([f("tone", "rude", "high")])
	d.alerts == [{"level": "medium", "kind": "conduct", "message": "坐席草稿言辞不当"}]
	p := xunjian.decision with input as agent_draft([f("diversion", "payment", "medium")])
	p.alerts == [{"level": "high", "kind": "conduct", "message": "坐席引导顾客私下付款"}]
	grey := xunjian.decision with input as agent_draft([model_f("rude", 0.5)])
	grey.alerts == []
	sure := xunjian.decision with input as agent_draft([object.union(model_f("rude", 0.95), {"severity": "high"})])
	count(sure.alerts) == 1
	c := xunjian.decision with input as customer_msg([f("tone", "profanity", "high")])
	c.alerts == []
}

# Several findings of kinds that raise no alert (the common draft): a
# reason for each, in the findings' order and pointing at its finding, the
# highest action, and a sample because it blocks.
test_reasons_follow_findings if {
	d := xunjian.decision with input as agent_draft([f("tone", "impatient", "low"), f("privacy", "phone", "medium"), f("diversion", "contact", "high")])
	[[r.finding, r.action] | some r in d.reasons] == [[0, "warn"], [1, "redact"], [2, "block"]]
	d.action == "block"
	d.sample == true
	d.alerts == []
}

# A finding whose kind raises an alert among findings that raise none:
# every finding's reason and the one alert.
test_alerting_finding_among_others if {
	d := xunjian.decision with input as agent_draft([f("tone", "impatient", "low"), f("tone", "rude", "high")])
	[r.finding | some r in d.reasons] == [0, 1]
	d.action == "block"
	d.alerts == [{"level": "medium", "kind": "conduct", "message": "坐席草稿言辞不当"}]
}

# Findings that raise no alert in a conversation past its risk threshold:
# their reasons, the conversation's alert, and a sample for its level.
test_findings_in_a_risky_conversation if {
	risky := object.union(agent_draft([f("tone", "impatient", "low")]), {"conversation": {"risk": 0.95}})
	d := xunjian.decision with input as risky
	d.action == "warn"
	[r.rule | some r in d.reasons] == ["tone.impatient.warn"]
	d.alerts == [{"level": "high", "kind": "risk", "message": "会话风险超过阈值"}]
	d.sample == true
}

# A model finding among lexicon findings: each keeps its own mapping.
test_model_finding_among_others if {
	d := xunjian.decision with input as agent_draft([f("privacy", "phone", "medium"), model_f("rude", 0.6)])
	[[r.finding, r.rule] | some r in d.reasons] == [[0, "privacy.phone.redact"], [1, "tone.rude.model.confirm"]]
	d.action == "confirm"
}
