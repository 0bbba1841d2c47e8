package xunjian

verdict := {"action": "allow", "reasons": [], "alerts": [], "sample": false}
