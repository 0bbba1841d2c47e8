package xunjian

decision := {"action": "allow", "reasons": [], "alerts": [], "sample": false}

bad if {
	input.x ==
}
