//go:build !race

package ack

const raceEnabled = false
