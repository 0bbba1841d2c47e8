package xunjian

decision := {"action": "allow", "reasons": [], "alerts": [], "sample": n}

n := count(42)
