package sqlstore

import (
	"fmt"
	"time"

	"satupintu/storage"
)

// PlannedQuery is one shape of a query whose cost must not grow with the
// tables: the backends' plan tests ask their database how it would run it
// and fail on a scan of a table.
type PlannedQuery struct {
	Name string
	SQL  string
	Args []any
	// Ordered marks a shape that selects by order alone (the officer queue
	// unfiltered): reading its index in order until LIMIT is the plan, so
	// an index scan without a condition is expected there.
	Ordered bool
	// Bounded marks a queue shape with a lower time bound: the planner may
	// read the time index from now back to the bound and filter the
	// status or trader type, a cost the officer's date range caps (an
	// equality keeps the scan stopping at the bound; see
	// listRegistrationsQuery).
	Bounded bool
}

// PlannedQueries lists every shape of the lookups that run per sign-in,
// per user search and per officer-queue page, built by the same functions
// the store uses, so a new filter or search kind is checked the day it is
// added. A query added to that path belongs here too.
func (s *Store) PlannedQueries() []PlannedQuery {
	qs := []PlannedQuery{
		{Name: "user by login", SQL: UserByLoginQuery, Args: []any{"budi@contoh.co.id"}},
		{Name: "user by id", SQL: userByIDQuery, Args: []any{"u1"}},
		// The operators' console.
		{Name: "sign-ins per hour", SQL: auditHourlyQuery(2), Args: []any{int64(0), int64(3600000000), "login.success", "login.failure"}},
		{Name: "organizations by npwp", SQL: organizationsByNPWPQuery, Args: []any{"012345678901000"}},
		{Name: "registrations by nib", SQL: registrationsByNIBQuery, Args: []any{"9120000000001", int64(50)}},
	}
	cursor := userCursor([]byte("budi santoso"), "u1")
	for _, by := range []string{storage.SearchUsername, storage.SearchEmail, storage.SearchNIB, storage.SearchNPWP, storage.SearchName} {
		value := map[string]string{storage.SearchUsername: "budi", storage.SearchEmail: "budi@contoh.co.id",
			storage.SearchNIB: "9120000000001", storage.SearchNPWP: "012345678901000", storage.SearchName: "budi"}[by]
		for _, after := range []string{"", cursor} {
			sql, args, err := searchUsersQuery(storage.UserSearch{By: by, Value: value, After: after, Limit: 20})
			if err != nil {
				panic(err) // the arguments above are valid
			}
			name := "search users by " + by
			if after != "" {
				name += ", next page"
			}
			qs = append(qs, PlannedQuery{Name: name, SQL: sql, Args: args})
		}
	}
	for _, f := range queueShapes() {
		sql, args := listRegistrationsQuery(f, s.d.PinQueueIndex)
		ordered := f.Status == "" && f.TraderType == "" && f.From.IsZero() && f.To.IsZero() && f.AfterID == ""
		qs = append(qs, PlannedQuery{Name: fmt.Sprintf("officer queue %s", describeFilter(f)), SQL: sql, Args: args,
			Ordered: ordered, Bounded: !f.From.IsZero()})
	}
	for _, m := range []struct{ nib, email string }{{"9120000000001", ""}, {"", "budi@contoh.co.id"}, {"9120000000001", "budi@contoh.co.id"}} {
		sql, args := openRegistrationQuery(m.nib, m.email)
		qs = append(qs, PlannedQuery{Name: fmt.Sprintf("open registration for nib %q email %q", m.nib, m.email), SQL: sql, Args: args})
	}
	return qs
}

// queueShapes is every combination of the officer queue's filters, paged
// as the queue pages them (registration/officer.go).
func queueShapes() []storage.RegistrationFilter {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []storage.RegistrationFilter
	for bits := range 1 << 5 {
		f := storage.RegistrationFilter{Limit: 51}
		if bits&1 != 0 {
			f.Status = storage.StatusSubmitted
		}
		if bits&2 != 0 {
			f.TraderType = "importir"
		}
		if bits&4 != 0 {
			f.From = from
		}
		if bits&8 != 0 {
			f.To = from.AddDate(0, 1, 0)
		}
		if bits&16 != 0 {
			f.AfterSubmitted, f.AfterID = from.AddDate(0, 0, 10), "r1"
		}
		out = append(out, f)
	}
	return out
}

func describeFilter(f storage.RegistrationFilter) string {
	s := "["
	if f.Status != "" {
		s += " status"
	}
	if f.TraderType != "" {
		s += " trader_type"
	}
	if !f.From.IsZero() {
		s += " from"
	}
	if !f.To.IsZero() {
		s += " to"
	}
	if f.AfterID != "" {
		s += " after"
	}
	return s + " ]"
}
