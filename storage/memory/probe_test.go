package memory

import "testing"

// The readiness probe writes through the counters, and stays one small
// entry however often it runs.
func TestProbeWrite(t *testing.T) {
	s := New(nil)
	for range 3 {
		if err := s.ProbeWrite(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Count(t.Context(), probeKey); err != nil || n != 3 {
		t.Errorf("probe counter = %d, %v; want 3", n, err)
	}
	if len(s.counters.rows) != 1 {
		t.Errorf("%d counters after three probes, want 1", len(s.counters.rows))
	}
}
