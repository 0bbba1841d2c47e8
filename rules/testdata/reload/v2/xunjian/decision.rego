package xunjian

decision := {"action": action, "reasons": [], "alerts": [], "sample": false}

default action := "allow"

action := "block" if count(input.findings) > 0
