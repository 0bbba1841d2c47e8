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
# Performance: this runs on every draft that misses the decision cache,
# with a budget of a few tens of microseconds. OPA's evaluator pays for
# every expression it evaluates, every rule it enters and every
# comprehension it builds (each about as much as a built-in call), so:
#   - decision has two branches. A draft without findings, without custom
#     or shadow reasons and below the conversation's thresholds (most
#     drafts) takes the first: a few lookups and a constant decision, the
#     one the second branch would give it. Everything else takes the
#     second.
#   - The second branch computes reasons, action, alerts and sample in its
#     own body, from locals looked up once (kinds, the action tables, the
#     role, the language): a lexicon finding's reason reads no rule. A call whose
#     result is bound to a fresh variable is written with the variable as
#     its output argument (concat(".", [...], k)), which saves an
#     expression per finding over k := concat(".", [...]).
#   - Helper rules (the tenant's overrides, the conversation's alerts, the
#     alert tables) are evaluated once per draft, and only when needed.
# rules/policy_reference_test.go holds decisions to those of the policy
# before this layout (rules/testdata/reference_policy) on generated
# drafts, tenants and data.
package xunjian

# decision is what the gateway reads.
decision := {"action": "allow", "reasons": [], "alerts": [], "sample": false, "shadow": []} if {
	input.findings == []
	custom_reasons == set()
	shadow_reasons == set()

	# conversation_alerts's thresholds, as it reads them.
	thresholds := object.get(data.xunjian.tenants, [input.tenant.id, "thresholds"], {})
	input.conversation.risk < object.get(thresholds, "risk", data.xunjian.config.thresholds.risk)
	input.conversation.wait_seconds < object.get(thresholds, "wait", data.xunjian.config.thresholds.wait)
} else := {
	"action": name_of[highest_rank],
	"reasons": reasons,
	"alerts": alerts,
	"sample": sample,
	"shadow": [r | some r in shadow_reasons],
} if {
	# Locals for the per-finding paths: a rule read costs more than a
	# variable. rank_of and name_of are ranks and action_names; who is
	# role.
	rank_of := {"allow": 0, "warn": 1, "redact": 2, "confirm": 3, "block": 4}
	name_of := ["allow", "warn", "redact", "confirm", "block"]
	who := object.get(input, ["draft", "role"], "agent")
	language := lang
	kinds := data.xunjian.config.kinds
	actions := data.xunjian.config.actions
	tenant := tenant_actions
	whos := [who]
	message := ["message", language]
	suggestion := ["suggestion", language]

	# severity_caps, or nothing when info_max_action is not an action (then
	# no finding maps to a reason, as before).
	caps := [{"info": c} | c := rank_of[data.xunjian.config.info_max_action]]

	# The reasons: one per finding that maps to an action above allow, in
	# the order of input.findings (per finding: the spec, the action
	# (severity, tenant, config), the severity cap as a rank, the texts);
	# then those of the learned model's findings (rule "model:<version>"):
	# the action of the highest band the score reaches (tenant's
	# model_bands, then config's; a kind without bands raises none); then
	# those of the enforced custom rules (package xunjian.custom).
	reasons := array.concat(
		array.concat(
			[r |
				who != "customer"
				some i, f in input.findings
				not startswith(object.get(f, "rule", ""), "model:")
				severity := f.severity
				concat(".", [f.detector, f.kind], k)
				object.get(kinds, k, {}, spec)
				who in object.get(spec, "roles", whos)
				object.get(spec, ["severity_actions", severity], object.get(tenant, k, object.get(actions, k, "allow")), a0)
				min([rank_of[a0], object.get(caps[0], severity, 4)], rank)
				rank > 0
				a := name_of[rank]
				r := {
					"rule": concat(".", [k, a]),
					"action": a,
					"message": object.get(spec, message, k),
					"finding": i,
					"suggestion": object.get(spec, suggestion, ""),
				}
			],
			[r |
				who != "customer"
				some i, f in input.findings
				startswith(f.rule, "model:")
				concat(".", [f.detector, f.kind], k)
				bands := object.get(tenant_model_bands, k, object.get(data.xunjian.config.model_bands, k, {}))
				max(array.concat([0], [rank_of[a] | some a, floor in bands; f.score >= floor]), rank)
				rank > 0
				a := name_of[rank]
				object.get(kinds, k, {}, spec)
				r := {
					"rule": concat(".", [k, "model", a]),
					"action": a,
					"message": object.get(spec, message, k),
					"finding": i,
					"suggestion": object.get(spec, suggestion, ""),
				}
			],
		),
		[r | some r in custom_reasons],
	)

	# The action is the highest over the reasons (a reason whose action is
	# not one counts for none).
	max(array.concat([0], [rank_of[r.action] | some r in reasons]), highest_rank)

	# The findings' alerts: one per kind of finding that has an alert spec
	# (for the roles given there), at its first finding: the findings of a
	# kind share one alert, which is critical when any of them is
	# (whatever the configured level). A kind without an alert spec costs
	# one lookup. Then the conversation's (alerts.rego).
	raised := array.concat(
		[al |
			some i, f in input.findings
			spec := kinds[concat(".", [f.detector, f.kind])].alert
			who in spec.roles
			severity_ranks[f.severity] >= severity_ranks[object.get(spec, "min_severity", "info")]
			same := [g.severity | some j, g in input.findings; g.kind == f.kind; g.detector == f.detector; j <= i]
			count(same) == 1
			critical := [1 | some g in input.findings; g.severity == "critical"; g.kind == f.kind; g.detector == f.detector]
			al := {
				"level": object.get(critical_levels, count(critical) > 0, spec.level),
				"kind": spec.kind,
				"message": object.get(spec.message, language, spec.kind),
			}
		],
		conversation_alerts,
	)

	# Each alert once: alerts that repeat one another's kind and message
	# are merged into the first of them, at the highest level any had (a
	# level the ranks do not know ranks lowest and is kept as written, so
	# that a misspelt level in data.json still breaks the decision schema).
	# An alert that repeats none is kept as it is.
	alerts := [al |
		some i, a in raised
		same := [j | some j, b in raised; b.kind == a.kind; b.message == a.message]
		i == same[0]
		levels := [raised[j].level | some j in same]
		level_ranks := [object.get(alert_level_ranks, l, -1) | some l in levels]
		highest := max(level_ranks)
		al := object.union(a, {"level": [l | some j, l in levels; level_ranks[j] == highest][0]})
	]

	# Sample every block and every high or critical alert.
	max(array.concat([highest_rank], [4 | some a in alerts; a.level in {"high", "critical"}]), sample_rank)
	sample := sample_rank == 4
}

# shadow_reasons are the would-be reasons of the shadow rules (package
# xunjian.shadow), a set; empty when there are none.
default shadow_reasons := set()

shadow_reasons := data.xunjian.shadow.reasons

# custom_reasons are the reasons of the enforced custom rules (package
# xunjian.custom).
default custom_reasons := set()

custom_reasons := data.xunjian.custom.reasons

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

# severity_caps holds the highest rank a finding of a severity may reach:
# findings of severity info never raise the action above info_max_action.
severity_caps := {"info": ranks[data.xunjian.config.info_max_action]}
