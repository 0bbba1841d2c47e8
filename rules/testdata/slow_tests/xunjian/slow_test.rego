# Tests that take a while: each builds a large set, as a compliance team's
# exhaustive table test might. Used to check that vetting such a bundle
# during a hot reload leaves live decisions their speed, and that a budget
# stops it. There are more of them than cores, so that run unthrottled
# they would take every core for a while.
package xunjian_test

test_slow_one if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}

test_slow_two if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}

test_slow_three if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}

test_slow_four if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}

test_slow_five if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}

test_slow_six if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}

test_slow_seven if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}

test_slow_eight if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}
