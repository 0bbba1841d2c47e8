package metrics

import (
	"crypto/x509"
	"testing"
	"time"
)

// TestCertExpiry: each use's gauge is its certificate's not-after time in
// Unix seconds, read at the scrape; a use whose certificate is nil has no
// series, and the series carry the use label alone.
func TestCertExpiry(t *testing.T) {
	var agent *x509.Certificate
	kafkaClient := &x509.Certificate{NotAfter: time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)}
	m := New()
	m.CertExpiry("agent", func() *x509.Certificate { return agent })
	m.CertExpiry("admin", func() *x509.Certificate { return nil })
	m.CertExpiry("kafka_client", func() *x509.Certificate { return kafkaClient })
	scrape := func() map[string]float64 {
		mfs, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "xunjian_tls_certificate_not_after_timestamp_seconds" {
				continue
			}
			for _, s := range mf.GetMetric() {
				if l := s.GetLabel(); len(l) != 1 || l[0].GetName() != "use" {
					t.Fatalf("labels %v, want use alone", l)
				}
				got[s.GetLabel()[0].GetValue()] = s.GetGauge().GetValue()
			}
		}
		return got
	}
	for _, tc := range []struct {
		name  string
		agent time.Time // the agent's certificate at this scrape
		want  map[string]float64
	}{
		{"start", time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC), map[string]float64{"agent": 1803902400, "kafka_client": 1798070400}},
		{"rotated", time.Date(2027, 4, 1, 12, 0, 0, 0, time.UTC), map[string]float64{"agent": 1806580800, "kafka_client": 1798070400}},
	} {
		agent = &x509.Certificate{NotAfter: tc.agent}
		got := scrape()
		if len(got) != len(tc.want) {
			t.Errorf("%s: series %v, want %v", tc.name, got, tc.want)
		}
		for use, v := range tc.want {
			if got[use] != v {
				t.Errorf("%s: %s = %v, want %v", tc.name, use, got[use], v)
			}
		}
	}
}
