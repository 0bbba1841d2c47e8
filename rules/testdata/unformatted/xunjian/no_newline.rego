package xunjian

helper(x) := x + 1