# Package xunjian is the default Xunjian inspection policy.
#
# Entry point: data.xunjian.decision, an object
#   {action, reasons: [{rule, action, message, finding, suggestion}],
#    alerts: [{level, kind, message}], sample, shadow}.
#
# Custom rules beyond the data-driven ones are written as
#   reasons contains {"rule": ..., "action": ..., "message": ...} if { ... }
# in one of two packages:
#   - xunjian.shadow: on trial. It runs on live traffic, its would-be
#     reasons go to the decision's shadow array (into every event and a
#     metric), and it never changes the action.
#   - xunjian.custom: enforced. Its reasons join the data-driven ones and
#     count for the action.
# Moving a rule from trial to enforcement is changing its package line.
#
# Compliance teams edit data.xunjian.config (data.json beside this file):
#   actions[<detector.kind>]   the action for a finding of that kind
#   kinds[<detector.kind>]     severity_actions, roles, message, suggestion, alert
#   model_bands[<detector.kind>] for the learned model's findings (rule
#                              "model:<version>"): {action: lowest score}, the
#                              action of the highest band the score reaches
#   info_max_action, thresholds, conversation_alerts
# data.xunjian.tenants[<tenant id>].actions / .thresholds / .model_bands
# override them for one tenant. The action of a draft is the highest action over its findings,
# by allow < warn < redact < confirm < block.
#
# Performance: this runs on every draft with a budget of a few tens of
# microseconds. Each finding costs a few object lookups; keep helper
# functions and else-chains off the per-finding path.
package xunjian

# decision is what the gateway reads.
decision := {
	"action": action,
	"reasons": reasons,
	"alerts": alerts,
	"sample": sample,
	"shadow": shadow_results,
}

# shadow_results lists the would-be reasons of the shadow rules (a set, so
# in a fixed order); [] when there are none. (data.xunjian.shadow is the
# package of the shadow rules.)
shadow_results := [r | some r in shadow_reasons]

default shadow_reasons := set()

shadow_reasons := data.xunjian.shadow.reasons

# ranks orders the actions; action_names is its inverse.
ranks := {"allow": 0, "warn": 1, "redact": 2, "confirm": 3, "block": 4}

action_names := ["allow", "warn", "redact", "confirm", "block"]

# The tenant's overrides, {} when there are none.
default tenant_actions := {}

tenant_actions := data.xunjian.tenants[input.tenant.id].actions

default tenant_model_bands := {}

tenant_model_bands := data.xunjian.tenants[input.tenant.id].model_bands

default tenant_thresholds := {}

tenant_thresholds := data.xunjian.tenants[input.tenant.id].thresholds

default lang := "zh"

lang := "en" if startswith(input.draft.lang, "en")

# A missing role is an agent draft. Customer messages are observed, never
# held: they get no reasons, only alerts.
default role := "agent"

role := input.draft.role

# reasons are the data-driven reasons (the lexicons' and validators'
# findings, then the model's), then those of the enforced custom rules
# (package xunjian.custom).
reasons := array.concat(array.concat(finding_reasons, model_reasons), [r | some r in custom_reasons])

default custom_reasons := set()

custom_reasons := data.xunjian.custom.reasons

# finding_reasons holds one entry per finding that maps to an action above
# allow, in the order of input.findings. Per finding: one spec lookup, one action
# lookup (tenant, then config), the severity cap as a rank, and path
# lookups for the texts; no helper-function calls.
finding_reasons := [r |
	role != "customer"
	some i, f in input.findings
	not startswith(object.get(f, "rule", ""), "model:")
	k := concat(".", [f.detector, f.kind])
	spec := object.get(data.xunjian.config.kinds, k, {})
	role in object.get(spec, "roles", [role])
	a0 := object.get(spec, ["severity_actions", f.severity], object.get(
		tenant_actions, k,
		object.get(data.xunjian.config.actions, k, "allow"),
	))
	rank := min([ranks[a0], object.get(severity_caps, f.severity, 4)])
	rank > 0
	a := action_names[rank]
	r := {
		"rule": concat(".", [k, a]),
		"action": a,
		"message": object.get(spec, ["message", lang], k),
		"finding": i,
		"suggestion": object.get(spec, ["suggestion", lang], ""),
	}
]

# model_reasons holds one entry per finding of the learned model (its rule
# is "model:<version>") whose score reaches a band of its kind: the action
# of the highest band reached (tenant's model_bands, then config's). A kind
# without bands raises no action; its findings still reach the client and
# the events.
model_reasons := [r |
	role != "customer"
	some i, f in input.findings
	startswith(object.get(f, "rule", ""), "model:")
	k := concat(".", [f.detector, f.kind])
	bands := object.get(tenant_model_bands, k, object.get(data.xunjian.config.model_bands, k, {}))
	rank := max(array.concat([0], [ranks[a] | some a, floor in bands; f.score >= floor]))
	rank > 0
	a := action_names[rank]
	spec := object.get(data.xunjian.config.kinds, k, {})
	r := {
		"rule": concat(".", [k, "model", a]),
		"action": a,
		"message": object.get(spec, ["message", lang], k),
		"finding": i,
		"suggestion": object.get(spec, ["suggestion", lang], ""),
	}
]

# severity_caps holds the highest rank a finding of a severity may reach:
# findings of severity info never raise the action above info_max_action.
severity_caps := {"info": ranks[data.xunjian.config.info_max_action]}

action := action_names[max(array.concat([0], [ranks[r.action] | some r in reasons]))]

default sample := false

sample if action == "block"

sample if {
	some a in alerts
	a.level in {"high", "critical"}
}
