package xunjian

decision := {"action": "allow", "reasons": [], "alerts": [], "sample": false} if input.tenant.id == "only-this-one"
