package conformance

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"satupintu/storage"
)

// searchIDs runs q and every page after it, and returns the ids found in
// order, page by page.
func searchIDs(t *testing.T, s storage.Durable, q storage.UserSearch) [][]string {
	t.Helper()
	var pages [][]string
	for range 100 {
		p, err := s.SearchUsers(t.Context(), q)
		if err != nil {
			t.Fatalf("SearchUsers(%+v): %v", q, err)
		}
		var ids []string
		for _, u := range p.Users {
			ids = append(ids, u.ID)
		}
		pages = append(pages, ids)
		if p.Next == "" {
			return pages
		}
		q.After = p.Next
	}
	t.Fatalf("SearchUsers(%+v): no last page after 100", q)
	return nil
}

func testSearchUsers(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	a, b := newOrg(t, s, "9130000000001"), newOrg(t, s, "9130000000002")
	c := storage.Organization{ID: storage.NewID(), NIB: "9130000000003", NPWP: "019876543210000", Name: "CV Lain",
		TraderType: "eksportir", BusinessType: "cv", CreatedAt: instant(0), UpdatedAt: instant(0)}
	mustOK(t, "CreateOrganization", s.CreateOrganization(ctx, c))
	// Ids chosen so that id order and name order differ.
	people := []struct{ id, username, name, org string }{
		{"s5", "budi", "Budi Santoso", a.ID},
		{"s4", "budi2", "budi santoso", a.ID},
		{"s3", "BUDIMAN", "Budiman Hakim", b.ID},
		{"s2", "siti", "Siti Rahayu", c.ID},
		{"s1", "bu", "Bu", ""},
		{"s6", "ayu", "Ayu Budi", ""},
		{"s7", "eko", "Élise Budi", ""},
	}
	for _, p := range people {
		u := storage.User{ID: p.id, Username: p.username, Email: p.username + "@Contoh.co.id", Name: p.name,
			OrganizationID: p.org, CreatedAt: instant(0), UpdatedAt: instant(0)}
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	}
	// A member of a second organization with the same NPWP is listed once.
	mustOK(t, "AddMembership", s.AddMembership(ctx, storage.Membership{OrganizationID: b.ID, UserID: "s5",
		Role: storage.MemberStaff, CreatedAt: instant(0)}))
	all := func(by, value string) []string {
		var ids []string
		for _, p := range searchIDs(t, s, storage.UserSearch{By: by, Value: value}) {
			ids = append(ids, p...)
		}
		return ids
	}
	tests := []struct {
		name, by, value string
		want            []string
	}{
		{"a name prefix, any case, ordered by name then id", storage.SearchName, "BUD", []string{"s4", "s5", "s3"}},
		{"a name prefix with a space", storage.SearchName, "budi s", []string{"s4", "s5"}},
		{"the whole name is a prefix of itself", storage.SearchName, "bu", []string{"s1", "s4", "s5", "s3"}},
		{"a non-ASCII prefix, any case", storage.SearchName, "ÉLI", []string{"s7"}},
		{"a name is matched from its start only", storage.SearchName, "santoso", nil},
		{"username, any case", storage.SearchUsername, "BudiMan", []string{"s3"}},
		{"username is matched whole", storage.SearchUsername, "bud", nil},
		{"email, any case", storage.SearchEmail, " SITI@contoh.CO.ID ", []string{"s2"}},
		{"an empty email matches nobody", storage.SearchEmail, "", nil},
		{"members of the NIB's organization", storage.SearchNIB, a.NIB, []string{"s4", "s5"}},
		{"a NIB written with separators", storage.SearchNIB, "9130-0000-00002", []string{"s5", "s3"}},
		{"members of every organization of the NPWP, each once", storage.SearchNPWP, "01.234.567.8-901.000", []string{"s4", "s5", "s3"}},
		{"an unknown NPWP", storage.SearchNPWP, "099999999999999", nil},
		{"an empty value matches nobody", storage.SearchName, "  ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, all(tt.by, tt.value)); diff != "" {
				t.Errorf("SearchUsers(%s %q) ids (-want +got):\n%s", tt.by, tt.value, diff)
			}
		})
	}

	t.Run("pages follow each other by keyset", func(t *testing.T) {
		pages := searchIDs(t, s, storage.UserSearch{By: storage.SearchName, Value: "b", Limit: 2})
		want := [][]string{{"s1", "s4"}, {"s5", "s3"}}
		if diff := cmp.Diff(want, pages); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
		// A user renamed between pages moves; the others neither repeat nor vanish.
		p, err := s.SearchUsers(ctx, storage.UserSearch{By: storage.SearchNIB, Value: a.NIB, Limit: 1})
		mustOK(t, "SearchUsers", err)
		if len(p.Users) != 1 || p.Users[0].ID != "s4" || p.Next == "" {
			t.Fatalf("first NIB page: %+v", p)
		}
		mustOK(t, "UpdateUser", s.UpdateUser(ctx, "s4", func(u *storage.User) error { u.Name = "Zaki"; return nil }))
		next, err := s.SearchUsers(ctx, storage.UserSearch{By: storage.SearchNIB, Value: a.NIB, Limit: 1, After: p.Next})
		mustOK(t, "SearchUsers", err)
		if len(next.Users) != 1 || next.Users[0].ID != "s5" {
			t.Errorf("second NIB page after a rename: %+v", next)
		}
		if got := all(storage.SearchName, "zak"); !cmp.Equal(got, []string{"s4"}) {
			t.Errorf("search by the new name: %v", got)
		}
	})

	t.Run("the page size is bounded", func(t *testing.T) {
		for i := range storage.MaxUserSearchLimit + 1 {
			newPersonNamed(t, s, fmt.Sprintf("many%03d", i), fmt.Sprintf("Many %03d", i))
		}
		p, err := s.SearchUsers(ctx, storage.UserSearch{By: storage.SearchName, Value: "many", Limit: 1000})
		mustOK(t, "SearchUsers", err)
		if len(p.Users) != storage.MaxUserSearchLimit || p.Next == "" {
			t.Errorf("Limit 1000: %d users, next %q; want %d and a next page", len(p.Users), p.Next, storage.MaxUserSearchLimit)
		}
		rest, err := s.SearchUsers(ctx, storage.UserSearch{By: storage.SearchName, Value: "many", After: p.Next})
		mustOK(t, "SearchUsers", err)
		if len(rest.Users) != 1 || rest.Users[0].Username != "many100" || rest.Next != "" {
			t.Errorf("last page: %+v", rest)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		if _, err := s.SearchUsers(ctx, storage.UserSearch{By: storage.SearchName, Value: "b", After: "not a cursor"}); !errors.Is(err, storage.ErrInvalidCursor) {
			t.Errorf("hand-made cursor: got %v, want ErrInvalidCursor", err)
		}
		if _, err := s.SearchUsers(ctx, storage.UserSearch{By: "phone", Value: "+62"}); err == nil {
			t.Error("unknown kind: no error")
		}
	})
}

// newPersonNamed stores a user without an organization, called name.
func newPersonNamed(t *testing.T, s storage.Durable, username, name string) {
	t.Helper()
	u := storage.User{ID: storage.NewID(), Username: username, Email: username + "@example.co.id", Name: name,
		CreatedAt: instant(0), UpdatedAt: instant(0)}
	mustOK(t, "CreateUser", s.CreateUser(t.Context(), u))
}
