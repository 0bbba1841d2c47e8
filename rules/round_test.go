package rules

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestRoundRisk: the rounded risk reaches every two-decimal threshold
// exactly when the risk does, is never above it, and has two decimals.
func TestRoundRisk(t *testing.T) {
	var risks []float64
	for j := range 101 {
		r := float64(j) / 100
		risks = append(risks, r, math.Nextafter(r, -1), math.Nextafter(r, 2), r-1e-12, r+1e-12, r+0.005)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		risks = append(risks, rng.Float64())
	}
	for _, r := range risks {
		got := RoundRisk(r)
		if got > r {
			t.Fatalf("RoundRisk(%v) = %v, above it", r, got)
		}
		if s := strconv.FormatFloat(got, 'f', -1, 64); len(s) > 4 && !strings.HasPrefix(s, "-") {
			t.Fatalf("RoundRisk(%v) = %s, more than two decimals", r, s)
		}
		for j := range 101 {
			th, _ := strconv.ParseFloat(fmt.Sprintf("0.%02d", j), 64)
			if j == 100 {
				th = 1
			}
			if (got >= th) != (r >= th) {
				t.Fatalf("risk %v (rounded %v) against threshold %v: %v, exact %v", r, got, th, got >= th, r >= th)
			}
		}
	}
	if !math.IsNaN(RoundRisk(math.NaN())) || !math.IsInf(RoundRisk(math.Inf(1)), 1) {
		t.Error("NaN or infinity changed")
	}
	for w, want := range map[float64]float64{0: 0, 0.99: 0, 179.999: 179, 180: 180, 612.25: 612} {
		if got := RoundWait(w); got != want {
			t.Errorf("RoundWait(%v) = %v, want %v", w, got, want)
		}
	}
}
