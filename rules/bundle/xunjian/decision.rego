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
#   - decision has three branches. A draft without findings, without
#     custom or shadow reasons and below the conversation's thresholds
#     (most drafts) takes the first: a few lookups and a constant
#     decision, the one the last branch would give it. An agent's draft
#     whose findings all map through the finding table and raise no
#     alert, under the same conditions, takes the second: one lookup per
#     finding, whose entry is taken apart by unification, and no alert
#     work. Everything else takes the last.
#   - What follows from data alone is worked out once per policy, not per
#     draft: finding_tables_zh and _en (what each kind and severity of an
#     agent's finding maps to, per tenant and language), alert_specs,
#     threshold_tables, ranks and the other tables are constant rules,
#     which the gateway's engine evaluates for the first draft and serves
#     to every other (rules/constants.go). An agent's finding then costs a
#     table lookup.
#   - The last branch computes reasons, action, alerts and sample in its
#     own body, from locals looked up once (the findings' kinds, the role,
#     the language). A call whose result is bound to a fresh variable is
#     written with the variable as its output argument
#     (concat(".", [...], k)), which saves an expression per finding over
#     k := concat(".", [...]).
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
	th := object.get(threshold_tables, [object.get(input, ["tenant", "id"], null)], data.xunjian.config.thresholds)
	input.conversation.risk < th.risk
	input.conversation.wait_seconds < th.wait
} else := {
	"action": action_names[highest_rank],
	"reasons": reasons,
	"alerts": [],
	"sample": highest_rank == 4,
	"shadow": [],
} if {
	# An agent's draft whose findings are all in the finding table and
	# raise no alert (the table's third element), none of them the learned
	# model's, without custom or shadow reasons, below the conversation's
	# thresholds: what the last branch would give it, with the table's
	# entries taken apart once per finding. entries[i] is the entry of
	# input.findings[i] (each finding has one, or the branch fails).
	object.get(input, ["draft", "role"], "agent") == "agent"
	custom_reasons == set()
	shadow_reasons == set()
	tenant_id := object.get(input, ["tenant", "id"], null)
	th := object.get(threshold_tables, [tenant_id], data.xunjian.config.thresholds)
	input.conversation.risk < th.risk
	input.conversation.wait_seconds < th.wait
	language := lang
	table := finding_table_of(tenant_id, language)
	entries := [e |
		some f in input.findings
		startswith(object.get(f, "rule", ""), "model:", false)
		[by, other, false] = table[f.detector][f.kind]
		object.get(by, f.severity, other, e)
	]
	count(entries) == count(input.findings)
	reasons := [{"rule": rule, "action": action, "message": message, "finding": i, "suggestion": suggestion} |
		some i, [rule, action, message, suggestion, _] in entries
	]
	max(array.concat([0], [e[4] | some e in entries]), highest_rank)
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

	# The reasons: one per finding that maps to an action above allow, in
	# the order of input.findings; then those of the learned model's
	# findings (rule "model:<version>"): the action of the highest band the
	# score reaches (tenant's model_bands, then config's; a kind without
	# bands raises none); then those of the enforced custom rules (package
	# xunjian.custom). An agent's finding is looked up in the finding
	# table of the tenant and the draft's language (finding_table_of,
	# below): its detector and kind, then its severity (one the table does
	# not name is "other") give the reason's rule, action and texts, or
	# false for none.
	table := finding_table_of(object.get(input, ["tenant", "id"], null), language)
	reasons := array.concat(
		array.concat(
			array.concat(
				[r |
					who == "agent"
					some i, f in input.findings
					startswith(object.get(f, "rule", ""), "model:", false)
					[by, other, _] := table[f.detector][f.kind]
					[rule, action, message, suggestion, _] := object.get(by, f.severity, other)
					r := {"rule": rule, "action": action, "message": message, "finding": i, "suggestion": suggestion}
				],
				# A role other than agent and customer (the gateway sends
				# neither): the same mapping (finding_entry), worked out per
				# finding for that role.
				[r |
					who != "agent"
					who != "customer"
					tenant := tenant_actions
					some i, f in input.findings
					not startswith(object.get(f, "rule", ""), "model:")
					severity := f.severity
					concat(".", [f.detector, f.kind], k)
					object.get(kinds, k, {}, spec)
					base := object.get(tenant, k, object.get(data.xunjian.config.actions, k, "allow"))
					cap := object.get({"info": ranks[data.xunjian.config.info_max_action]}, severity, 4)
					e := finding_entry(k, spec, object.get(spec, ["severity_actions", severity], base), cap, who)
					r := {
						"rule": e.rule,
						"action": e.action,
						"message": object.get(spec, ["message", language], k),
						"finding": i,
						"suggestion": object.get(spec, ["suggestion", language], ""),
					}
				],
			),
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
					"message": object.get(spec, ["message", language], k),
					"finding": i,
					"suggestion": object.get(spec, ["suggestion", language], ""),
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
			spec := alert_specs[f.detector][f.kind]
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

# finding_tables_zh and finding_tables_en hold, for each tenant with
# actions of its own, what an agent's finding maps to in that language
# (finding_table); default_finding_table_zh and _en are the others'. They
# read data only, so the gateway evaluates them once per policy and serves
# them to every draft (a policy's constant rules, see rules/constants.go);
# opa eval and opa test evaluate them per query, to the same values. A rule
# per language, so that such a query builds only its draft's language's.
finding_tables_zh := {id: finding_table(t.actions, "zh") | some id, t in data.xunjian.tenants; t.actions}

finding_tables_en := {id: finding_table(t.actions, "en") | some id, t in data.xunjian.tenants; t.actions}

default_finding_table_zh := finding_table({}, "zh")

default_finding_table_en := finding_table({}, "en")

# finding_table_of(tenant_id, language) is the finding table of a draft of
# that tenant and language.
finding_table_of(tenant_id, "zh") := object.get(finding_tables_zh, tenant_id, default_finding_table_zh)

finding_table_of(tenant_id, "en") := object.get(finding_tables_en, tenant_id, default_finding_table_en)

# finding_table(tenant, language) maps each kind named in config.kinds,
# config.actions or tenant (a tenant's actions), by detector and kind
# (by_parts), to [by, other, alerts]: by maps the severities the kind's
# severity_actions names, and info, to an entry; other is the entry of
# every other severity; alerts is whether the kind's alert spec names
# agents among its roles (an agent's finding of it may raise an alert). An
# entry is the reason an agent's finding of that kind and severity gets,
# as [rule, action, message, suggestion, rank] (the kind's texts in
# language, the action's rank), or false for none. Its action is the
# severity's (severity_actions), else the tenant's, else config's, else
# allow, capped at info_max_action for info; there is a reason only when
# that is above allow and agents are among the kind's roles. Every kind
# maps to nothing when info_max_action is not an action. Entries are
# arrays, so that decision takes one apart in one unification.
finding_table(tenant, language) := by_parts({k: [by, other, alerts] |
	info_cap := ranks[data.xunjian.config.info_max_action]
	some k in ((object.keys(data.xunjian.config.kinds) | object.keys(data.xunjian.config.actions)) | object.keys(tenant))
	spec := object.get(data.xunjian.config.kinds, k, {})
	base := object.get(tenant, k, object.get(data.xunjian.config.actions, k, "allow"))
	message := object.get(spec, ["message", language], k)
	suggestion := object.get(spec, ["suggestion", language], "")
	by := {s: reason_entry(finding_entry(k, spec, object.get(spec, ["severity_actions", s], base), cap, "agent"), message, suggestion) |
		some s in (object.keys(object.get(spec, "severity_actions", {})) | {"info"})
		cap := object.get({"info": info_cap}, s, 4)
	}
	other := reason_entry(finding_entry(k, spec, base, 4, "agent"), message, suggestion)
	alerts := "agent" in object.get(spec, ["alert", "roles"], [])
})

# reason_entry is finding_table's entry for finding_entry's e and the
# kind's texts: [rule, action, message, suggestion, rank], or false when
# e is.
reason_entry(e, message, suggestion) := [e.rule, e.action, message, suggestion, ranks[e.action]] if {
	is_object(e)
} else := false

# alert_specs holds the alert spec of each kind that has one, by detector
# and kind (by_parts). A constant.
alert_specs := by_parts({k: spec.alert | some k, spec in data.xunjian.config.kinds; spec.alert})

# by_parts(m) re-keys m, keyed by "detector.kind", by detector, then kind:
# m[k] is by_parts(m)[d][x] for every d and x that concat(".", [d, x])
# makes k of (every split of k at one of its dots), so that a finding's
# entry is found without building its name.
by_parts(m) := object.union_n([{substring(k, 0, i): {substring(k, i + 1, -1): v}} |
	some k, v in m
	some i in indexof_n(k, ".")
])

# finding_entry is the rule and action of the reason a finding of kind k
# (its spec) gets from a draft of role who, for an action a0 and a cap;
# false when there is none. finding_table uses it for agents.
finding_entry(k, spec, a0, cap, who) := {"rule": concat(".", [k, a]), "action": a} if {
	who in object.get(spec, "roles", [who])
	rank := min([ranks[a0], cap])
	rank > 0
	a := action_names[rank]
} else := false

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

default lang := "zh"

lang := "en" if startswith(input.draft.lang, "en")

# A missing role is an agent draft. Customer messages are observed, never
# held: they get no reasons, only alerts.
default role := "agent"

role := input.draft.role
