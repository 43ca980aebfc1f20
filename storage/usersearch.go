package storage

import (
	"context"
	"errors"
)

// What a UserSearch matches its Value against.
const (
	SearchUsername = "username" // the whole username, case-insensitively
	SearchEmail    = "email"    // the whole email, case-insensitively
	SearchNIB      = "nib"      // members of the organization with this NIB
	SearchNPWP     = "npwp"     // members of the organizations with this NPWP
	SearchName     = "name"     // names starting with Value, case-insensitively
)

// MaxUserSearchLimit bounds a page of SearchUsers: a page costs the same
// whatever the table's size, and a larger Limit is cut to it.
const MaxUserSearchLimit = 100

// ErrInvalidCursor reports an After that no SearchUsers page handed out
// (a cursor typed or edited by hand): the caller shows the first page.
var ErrInvalidCursor = errors.New("storage: invalid cursor")

// UserSearch selects users for the operators' console. Every kind is an
// index lookup, and pages follow each other by keyset, never OFFSET, so
// the millionth user costs what the first does.
type UserSearch struct {
	By    string // one of the Search… constants
	Value string // an empty Value matches nobody
	// After is the Next of the previous page; empty: the first page.
	After string
	Limit int // at most this many (1…MaxUserSearchLimit); <= 0: MaxUserSearchLimit
}

// UserPage is one page of a search, ordered by lower-cased name, then id.
type UserPage struct {
	Users []User
	// Next continues after the last user; empty when there are no more.
	Next string
}

// UserSearcher finds users by name, username, email, NIB or NPWP.
type UserSearcher interface {
	// SearchUsers returns a page of the users q selects; an unknown q.By
	// is an error, a malformed q.After ErrInvalidCursor.
	SearchUsers(ctx context.Context, q UserSearch) (UserPage, error)
}
