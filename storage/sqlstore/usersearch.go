package sqlstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"satupintu/storage"
)

var _ storage.UserSearcher = (*Store)(nil)

// nameKey is what users.name_key holds for name: the lower-cased name as
// bytes, which both databases compare byte by byte (migration 0017).
func nameKey(name string) []byte {
	return []byte(strings.ToLower(name))
}

// successor is the least byte string greater than every string that
// starts with prefix, or nil if there is none (prefix all 0xff, which no
// UTF-8 text is). prefix <= k < successor(prefix) is "k starts with prefix"
// as an index range.
func successor(prefix []byte) []byte {
	b := append([]byte(nil), prefix...)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return nil
	}
	b[len(b)-1]++
	return b
}

// userCursor is a page's Next: the last user's name key and id, so the
// next page starts after them in the (name_key, id) order.
func userCursor(key []byte, id string) string {
	return base64.RawURLEncoding.EncodeToString(key) + "." + id
}

func parseUserCursor(c string) ([]byte, string, error) {
	k, id, ok := strings.Cut(c, ".")
	key, err := base64.RawURLEncoding.DecodeString(k)
	if !ok || err != nil || id == "" {
		return nil, "", storage.ErrInvalidCursor
	}
	return key, id, nil
}

// searchValue normalizes what the operator typed the way the stored values
// are: lower case for names, usernames and emails; digits only for NIB and
// NPWP, which are often written with dots and dashes.
func searchValue(by, v string) string {
	v = strings.TrimSpace(v)
	switch by {
	case storage.SearchNIB, storage.SearchNPWP:
		return strings.Map(func(r rune) rune {
			if r == '.' || r == '-' || r == ' ' {
				return -1
			}
			return r
		}, v)
	}
	return strings.ToLower(v)
}

// searchUsersQuery builds the query of one search page and its arguments,
// asking for one row more than the page to know whether a next one exists.
// Each kind selects through its own index (username's unique index, the
// partial email index, organizations by NIB or NPWP and their memberships,
// the name_key range) and the cursor only narrows that range, so no page
// reads rows it does not return but the one extra.
func searchUsersQuery(q storage.UserSearch) (string, []any, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	value := searchValue(q.By, q.Value)
	var where []string
	switch q.By {
	case storage.SearchUsername:
		where = append(where, "username = "+arg(value))
	case storage.SearchEmail:
		// "email <> ”" repeats the partial index's predicate (see UserByLoginQuery).
		where = append(where, "email = "+arg(value)+" AND email <> ''")
	case storage.SearchNIB, storage.SearchNPWP:
		column := "nib"
		if q.By == storage.SearchNPWP {
			column = "npwp"
		}
		return searchMembersQuery(column, value, q)
	case storage.SearchName:
		key := []byte(value)
		where = append(where, "name_key >= "+arg(key))
		if next := successor(key); next != nil {
			where = append(where, "name_key < "+arg(next))
		}
	default:
		return "", nil, fmt.Errorf("search users: unknown kind %q", q.By)
	}
	page, err := keyset(q.After, "name_key", "id", arg)
	if err != nil {
		return "", nil, err
	}
	where = append(where, page...)
	query := `SELECT ` + userColumns + `, name_key FROM users WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY name_key, id LIMIT ` + arg(int64(searchLimit(q.Limit)+1))
	return query, args, nil
}

// searchMembersQuery is searchUsersQuery for the members of the
// organizations whose column (nib or npwp) is value: the organizations by
// that column's index, their memberships by primary key, the users by
// theirs, and the few rows sorted. CROSS JOIN fixes that order on SQLite,
// which might otherwise read users in name order and probe each one's
// memberships; Postgres plans it as an inner join.
func searchMembersQuery(column, value string, q storage.UserSearch) (string, []any, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"o." + column + " = " + arg(value)}
	page, err := keyset(q.After, "u.name_key", "u.id", arg)
	if err != nil {
		return "", nil, err
	}
	where = append(where, page...)
	var cols []string
	for _, c := range strings.Split(userColumns+", name_key", ",") {
		cols = append(cols, "u."+strings.TrimSpace(c))
	}
	// One NIB is one organization; the organizations sharing an NPWP may
	// share members too, who are listed once.
	distinct := ""
	if column == "npwp" {
		distinct = "DISTINCT "
	}
	query := `SELECT ` + distinct + strings.Join(cols, ", ") + ` FROM organizations o
		CROSS JOIN memberships m CROSS JOIN users u
		WHERE m.organization_id = o.id AND u.id = m.user_id AND ` + strings.Join(where, " AND ") +
		` ORDER BY u.name_key, u.id LIMIT ` + arg(int64(searchLimit(q.Limit)+1))
	return query, args, nil
}

// keyset is the condition "(key, id) > cursor", spelled out for
// portability; its leading "key >= …" lets the index range start at the
// cursor (as ListRegistrations does).
func keyset(after, key, id string, arg func(any) string) ([]string, error) {
	if after == "" {
		return nil, nil
	}
	k, i, err := parseUserCursor(after)
	if err != nil {
		return nil, err
	}
	ka, ia := arg(k), arg(i)
	return []string{fmt.Sprintf("%s >= %s AND (%s > %s OR (%s = %s AND %s > %s))", key, ka, key, ka, key, ka, id, ia)}, nil
}

func searchLimit(n int) int {
	if n <= 0 || n > storage.MaxUserSearchLimit {
		return storage.MaxUserSearchLimit
	}
	return n
}

// SearchUsers returns a page of the users q selects.
func (s *Store) SearchUsers(ctx context.Context, q storage.UserSearch) (storage.UserPage, error) {
	const op = "search users"
	query, args, err := searchUsersQuery(q)
	if err != nil {
		return storage.UserPage{}, s.wrap(op, err)
	}
	if searchValue(q.By, q.Value) == "" {
		return storage.UserPage{}, nil
	}
	type found struct {
		u   storage.User
		key []byte
	}
	rows, err := s.db.Query(ctx, query, args...)
	fs, err := collect(rows, err, func(r scanner) (found, error) {
		var f found
		u, err := scanUser(rowWithTail{r, &f.key})
		f.u = u
		return f, err
	})
	if err != nil {
		return storage.UserPage{}, s.wrap(op, err)
	}
	limit := searchLimit(q.Limit)
	var page storage.UserPage
	for i, f := range fs {
		if i == limit {
			last := fs[i-1]
			page.Next = userCursor(last.key, last.u.ID)
			break
		}
		page.Users = append(page.Users, f.u)
	}
	return page, nil
}

// rowWithTail scans one more column after those its caller asks for.
type rowWithTail struct {
	r    scanner
	tail *[]byte
}

func (t rowWithTail) Scan(dest ...any) error {
	return t.r.Scan(append(dest, t.tail)...)
}
