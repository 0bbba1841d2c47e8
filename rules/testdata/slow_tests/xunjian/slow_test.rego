# Tests that take a while: each builds a large set, as a compliance team's
# exhaustive table test might. Used to check that vetting such a bundle
# during a hot reload leaves live decisions their speed, and that a budget
# stops it.
package xunjian_test

test_slow_one if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}

test_slow_two if {
	count({x | some x in numbers.range(1, 80000)}) == 80000
}
