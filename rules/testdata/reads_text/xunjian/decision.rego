package xunjian

# Reads the draft text, so the decision cache must key on it.
default decision := {"action": "allow"}

decision := {"action": "block"} if contains(input.draft.text, "x")
