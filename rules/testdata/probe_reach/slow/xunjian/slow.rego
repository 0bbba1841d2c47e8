package xunjian.custom

# Builds a large set on every draft: correct, and far too slow.
reasons contains {"rule": "slow.never", "action": "warn", "message": "never"} if {
	count({x | some x in numbers.range(1, 400000)}) < 0
}
