package xunjian

decision := {"action": "explode", "reasons": [], "alerts": [], "sample": false}
