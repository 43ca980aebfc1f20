package bench

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
)

// serverSample is what the server's metrics say at one moment.
type serverSample struct {
	cpu      float64 // process_cpu_seconds_total
	requests float64 // the sum of satupintu_http_requests_total
}

// scrape reads the server's metrics; nil when there are none to read.
func (t *Target) scrape(ctx context.Context) *serverSample {
	if t.MetricsURL == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.MetricsURL, nil)
	if err != nil {
		return nil
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	return parseSample(bufio.NewScanner(resp.Body))
}

// parseSample sums the two series out of Prometheus text.
func parseSample(sc *bufio.Scanner) *serverSample {
	var s serverSample
	found := false
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Labels may hold spaces: the value follows the closing brace.
			end := strings.LastIndexByte(line, '}')
			name, rest = line[:i], strings.TrimSpace(line[end+1:])
		}
		v, err := strconv.ParseFloat(strings.Fields(rest + " 0")[0], 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			s.cpu, found = v, true
		case "satupintu_http_requests_total":
			s.requests += v
		}
	}
	if !found {
		return nil
	}
	return &s
}
