package admin

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// What the dashboard counts as a sign-in and as a failed one.
var (
	signInActions  = []string{"login.success"}
	failureActions = []string{"login.failure"}
)

// dashboardTTL is how long a node reuses its dashboard figures: the page
// is cheap to reload, and a week of events is counted at most once a
// minute.
const dashboardTTL = time.Minute

// homePage is the data of "admin_home".
type homePage struct {
	Nav               []navItem
	Notice            string
	Waiting           int
	SignIns, Failures int64
	ActiveSessions    int64
	HasSessions       bool
	Chart             chart
	Since, Until      string
}

// chart is the sign-ins per hour over seven days, drawn server-side as
// SVG: no script, no external library, fine on a closed network.
type chart struct {
	Width, Height int
	Bars          []bar
	Days          []dayMark
	Max           int64
	Total         int64
}

type bar struct {
	X, Y, W, H int
	Label      string // the hour and count, as the bar's tooltip
}

type dayMark struct {
	X     int
	Label string
}

type dashboardCache struct {
	mu   sync.Mutex
	at   time.Time
	page homePage
}

func (c *Console) showHome(w http.ResponseWriter, r *http.Request, op operator) error {
	p, err := c.dashboard(r.Context())
	if err != nil {
		return err
	}
	p.Nav = nav("/admin")
	return c.render.Render(w, r, http.StatusOK, "admin_home", p)
}

// dashboard returns the figures, computed about once per dashboardTTL.
// The lock guards the cached figures only, never the queries (a Redis
// session count takes seconds at millions of keys): two admins missing the
// cache together both count, which is cheaper than one waiting.
func (c *Console) dashboard(ctx context.Context) (homePage, error) {
	now := c.Now()
	c.dash.mu.Lock()
	page, at := c.dash.page, c.dash.at
	c.dash.mu.Unlock()
	if !at.IsZero() && now.Sub(at) < dashboardTTL && !now.Before(at) {
		return page, nil
	}
	p, err := c.countDashboard(ctx, now)
	if err != nil {
		return p, err
	}
	c.dash.mu.Lock()
	c.dash.at, c.dash.page = now, p
	c.dash.mu.Unlock()
	return p, nil
}

// countDashboard reads the dashboard's figures at now.
func (c *Console) countDashboard(ctx context.Context, now time.Time) (homePage, error) {
	var p homePage
	open, err := c.Registrations.OpenRegistrationCounts(ctx)
	if err != nil {
		return p, fmt.Errorf("admin: dashboard: %w", err)
	}
	for _, n := range open {
		p.Waiting += n
	}
	// Whole hours: the chart's last bar is the current hour.
	until := now.UTC().Truncate(time.Hour).Add(time.Hour)
	from := until.Add(-7 * 24 * time.Hour)
	hourly, err := c.Stats.AuditHourly(ctx, signInActions, from, until)
	if err != nil {
		return p, fmt.Errorf("admin: dashboard: %w", err)
	}
	// The last 24 whole-hour buckets, the current one included.
	day := until.Add(-24 * time.Hour)
	for h, n := range hourly {
		if !time.Unix(h, 0).Before(day) {
			p.SignIns += n
		}
	}
	failures, err := c.Stats.AuditHourly(ctx, failureActions, day, until)
	if err != nil {
		return p, fmt.Errorf("admin: dashboard: %w", err)
	}
	for _, n := range failures {
		p.Failures += n
	}
	if c.SessionCount != nil {
		n, err := c.SessionCount(ctx)
		if err != nil {
			c.Logger.WarnContext(ctx, "count sessions failed", "error", err)
		} else {
			p.ActiveSessions, p.HasSessions = n, true
		}
	}
	p.Chart = drawChart(hourly, from)
	p.Since, p.Until = when(from), when(until)
	return p, nil
}

// drawChart lays out one bar per hour from from, scaled to the busiest.
func drawChart(hourly map[int64]int64, from time.Time) chart {
	const hours, barW, height, top = 7 * 24, 5, 160, 10
	ch := chart{Width: hours * barW, Height: height}
	for i := range hours {
		n := hourly[from.Add(time.Duration(i)*time.Hour).Unix()]
		ch.Max = max(ch.Max, n)
		ch.Total += n
	}
	for i := range hours {
		at := from.Add(time.Duration(i) * time.Hour)
		n := hourly[at.Unix()]
		if at.In(wib).Hour() == 0 {
			ch.Days = append(ch.Days, dayMark{X: i * barW, Label: at.In(wib).Format("02/01")})
		}
		if n == 0 {
			continue
		}
		h := int(int64(height-top) * n / ch.Max)
		h = max(h, 1)
		ch.Bars = append(ch.Bars, bar{X: i * barW, Y: height - h, W: barW - 1, H: h,
			Label: fmt.Sprintf("%s: %d", at.In(wib).Format("02/01 15:00"), n)})
	}
	return ch
}
