package xunjian

# Depends on the clock, so its decisions must never be cached.
decision := {"action": "warn"} if time.now_ns() % 2 == 0

decision := {"action": "allow"} if time.now_ns() % 2 == 1
