package xunjian.custom

# Builds a large set on every draft: correct, and far too slow. (It reads
# the input: a rule that reads data only is evaluated once per policy.)
reasons contains {"rule": "slow.never", "action": "warn", "message": "never"} if {
	count({x | some x in numbers.range(1, 400000 + count(input.findings))}) < 0
}
