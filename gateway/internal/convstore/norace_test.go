//go:build !race

package convstore

const raceEnabled = false
