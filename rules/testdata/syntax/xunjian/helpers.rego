package xunjian

also_bad := [1, 2
