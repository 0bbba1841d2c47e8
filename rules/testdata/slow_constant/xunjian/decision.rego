package xunjian

# A constant (it reads data only) that takes far too long to work out:
# loading the policy must not wait for it.
huge := count({x | some x in numbers.range(1, 100000000)})

decision := {"action": "allow", "reasons": [], "alerts": [], "sample": false, "shadow": []} if input.draft.text == "ok"

decision := {"action": "warn", "reasons": [], "alerts": [], "sample": false, "shadow": []} if {
	input.draft.text != "ok"
	huge > 0
}
