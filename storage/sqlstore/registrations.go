package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"satupintu/storage"
)

var (
	_ storage.Registrations = (*Store)(nil)
	_ storage.ActionTokens  = (*Store)(nil)
)

const registrationColumns = `id, service_number, status, purpose, trader_type, nib_type, nib,
	npwp_type, npwp, org_name, business_type, address, full_name, job_title, identity_type,
	identity_number, email, phone, document_id, organization_id, user_id, submitted_at, updated_at,
	upstream_id, upstream_subject, verified_by`

func scanRegistration(r scanner) (storage.Registration, error) {
	var (
		g                  storage.Registration
		status, address    string
		submitted, updated int64
	)
	err := r.Scan(&g.ID, &g.ServiceNumber, &status, &g.Purpose, &g.TraderType, &g.NIBType, &g.NIB,
		&g.NPWPType, &g.NPWP, &g.OrgName, &g.BusinessType, &address, &g.FullName, &g.Position,
		&g.IdentityType, &g.IdentityNumber, &g.Email, &g.Phone, &g.DocumentID, &g.OrganizationID,
		&g.UserID, &submitted, &updated, &g.UpstreamID, &g.UpstreamSubject, &g.VerifiedBy)
	if err != nil {
		return storage.Registration{}, err
	}
	if err := json.Unmarshal([]byte(address), &g.Address); err != nil {
		return storage.Registration{}, fmt.Errorf("decode address: %w", err)
	}
	g.Status = storage.RegistrationStatus(status)
	g.SubmittedAt, g.UpdatedAt = fromMicros(submitted), fromMicros(updated)
	return g, nil
}

// registrationArgs lists g's columns in registrationColumns order. The email
// is lower-cased here, as for users, so OpenRegistrationFor matches it
// whatever case the registrant typed.
func registrationArgs(g storage.Registration) ([]any, error) {
	address, err := json.Marshal(g.Address)
	if err != nil {
		return nil, err
	}
	return []any{g.ID, g.ServiceNumber, string(g.Status), g.Purpose, g.TraderType, g.NIBType, g.NIB,
		g.NPWPType, g.NPWP, g.OrgName, g.BusinessType, string(address), g.FullName, g.Position,
		g.IdentityType, g.IdentityNumber, strings.ToLower(g.Email), g.Phone, g.DocumentID,
		g.OrganizationID, g.UserID, micros(g.SubmittedAt), micros(g.UpdatedAt),
		g.UpstreamID, g.UpstreamSubject, g.VerifiedBy}, nil
}

// updateRegistration writes every column of g but its id.
func updateRegistration(ctx context.Context, q Querier, g storage.Registration) error {
	args, err := registrationArgs(g)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `UPDATE registrations SET service_number = $2, status = $3, purpose = $4,
		trader_type = $5, nib_type = $6, nib = $7, npwp_type = $8, npwp = $9, org_name = $10,
		business_type = $11, address = $12, full_name = $13, job_title = $14, identity_type = $15,
		identity_number = $16, email = $17, phone = $18, document_id = $19, organization_id = $20,
		user_id = $21, submitted_at = $22, updated_at = $23, upstream_id = $24,
		upstream_subject = $25, verified_by = $26 WHERE id = $1`, args...)
	return err
}

func insertDocument(ctx context.Context, q Querier, d storage.Document) error {
	if d.ID == "" {
		return errors.New("document has no id")
	}
	// The migration's CHECK holds the same number, against other writers.
	if len(d.Data) > storage.MaxDocumentSize {
		return fmt.Errorf("document is %d bytes, more than %d", len(d.Data), storage.MaxDocumentSize)
	}
	data := d.Data
	if data == nil {
		data = []byte{} // drivers send nil as NULL
	}
	_, err := q.Exec(ctx, `INSERT INTO registration_documents
		(id, registration_id, file_name, content_type, sha256, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		d.ID, d.RegistrationID, d.FileName, d.ContentType, d.SHA256, data, micros(d.CreatedAt))
	return err
}

func insertEvent(ctx context.Context, q Querier, e storage.RegistrationEvent) error {
	_, err := q.Exec(ctx, `INSERT INTO registration_events
		(registration_id, status, actor_id, note, occurred_at) VALUES ($1, $2, $3, $4, $5)`,
		e.RegistrationID, string(e.Status), e.ActorID, e.Note, micros(e.Time))
	return err
}

// lockRegistration reads the registration for a read-modify-write, holding
// its row lock (Postgres) until the transaction ends.
func (s *Store) lockRegistration(ctx context.Context, q Querier, id string) (storage.Registration, error) {
	return scanRegistration(q.QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations WHERE id = $1`+s.d.ForUpdate, id))
}

// CreateRegistration stores g, doc and a first "submitted" event in one
// transaction. doc becomes g's current document, whatever g.DocumentID said.
func (s *Store) CreateRegistration(ctx context.Context, g storage.Registration, doc storage.Document, then ...storage.TxHook) error {
	err := s.createRegistration(ctx, &g, &doc, func(q Querier) error { return insertDocument(ctx, q, doc) }, then)
	return s.wrap("create registration "+g.ID, err)
}

// createRegistration is CreateRegistration with the document's insert left
// to storeDoc, which runs in the same transaction after the registration
// row (the document references it) and sees g and doc linked.
func (s *Store) createRegistration(ctx context.Context, g *storage.Registration, doc *storage.Document, storeDoc func(Querier) error, then []storage.TxHook) error {
	if g.Status == "" {
		g.Status = storage.StatusSubmitted
	}
	g.DocumentID, doc.RegistrationID = doc.ID, g.ID
	args, err := registrationArgs(*g)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(q Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO registrations (`+registrationColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
			$18, $19, $20, $21, $22, $23, $24, $25, $26)`, args...)
		if err != nil {
			return err
		}
		if err := storeDoc(q); err != nil {
			return fmt.Errorf("document: %w", err)
		}
		if err := insertEvent(ctx, q, storage.RegistrationEvent{
			RegistrationID: g.ID, Status: storage.StatusSubmitted, Time: g.SubmittedAt}); err != nil {
			return err
		}
		return s.runHooks(ctx, q, then)
	})
}

// RegistrationByID returns the registration with id.
func (s *Store) RegistrationByID(ctx context.Context, id string) (storage.Registration, error) {
	g, err := scanRegistration(s.db.QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations WHERE id = $1`, id))
	return g, s.wrap("get registration "+id, err)
}

// RegistrationByServiceNumber returns the registration with the service
// number.
func (s *Store) RegistrationByServiceNumber(ctx context.Context, serviceNumber string) (storage.Registration, error) {
	g, err := scanRegistration(s.db.QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations
		WHERE service_number = $1`, serviceNumber))
	return g, s.wrap("get registration by service number", err)
}

// openOnly must match the partial indexes' predicate in the migration
// character for character, or the planners will not use them.
const openOnly = `status NOT IN ('approved', 'rejected')`

// OpenRegistrationFor returns the newest undecided registration with the
// NIB or the (case-insensitive) email. An empty argument matches nothing.
//
// Each condition is its own branch of a UNION ALL because SQLite, asked for
// "nib = $1 OR email = $2" with ORDER BY … LIMIT 1, scans the whole queue
// index in order instead of looking up the two partial indexes; both
// databases plan the branches as index lookups. A row matching both comes
// twice, which LIMIT 1 makes harmless.
func (s *Store) OpenRegistrationFor(ctx context.Context, nib, email string) (storage.Registration, error) {
	const op = "get open registration"
	query, args := openRegistrationQuery(nib, email)
	if query == "" {
		return storage.Registration{}, s.wrap(op, storage.ErrNotFound)
	}
	g, err := scanRegistration(s.db.QueryRow(ctx, query, args...))
	return g, s.wrap(op, err)
}

// openRegistrationQuery is OpenRegistrationFor's query; empty if both
// arguments are.
func openRegistrationQuery(nib, email string) (string, []any) {
	var (
		branches []string
		args     []any
	)
	for _, m := range []struct{ column, value string }{{"nib", nib}, {"email", strings.ToLower(email)}} {
		if m.value == "" {
			continue
		}
		args = append(args, m.value)
		branches = append(branches, `SELECT `+registrationColumns+` FROM registrations
			WHERE `+m.column+` = $`+strconv.Itoa(len(args))+` AND `+openOnly)
	}
	if len(branches) == 0 {
		return "", nil
	}
	return `SELECT ` + registrationColumns + ` FROM (` + strings.Join(branches, ` UNION ALL `) + `) AS open_registrations
		ORDER BY submitted_at DESC, id DESC LIMIT 1`, args
}

// ListRegistrations returns the registrations f selects, newest first
// (submitted_at, then id, descending), at most f.Limit of them (all if
// f.Limit <= 0). The query text is built from the filters that are set, so
// each shape gets a plan that uses the matching index; there are only a few
// dozen shapes.
func (s *Store) ListRegistrations(ctx context.Context, f storage.RegistrationFilter) ([]storage.Registration, error) {
	query, args := listRegistrationsQuery(f, s.d.PinQueueIndex)
	rows, err := s.db.Query(ctx, query, args...)
	gs, err := collect(rows, err, scanRegistration)
	return gs, s.wrap("list registrations", err)
}

// listRegistrationsQuery is ListRegistrations's query for f. With pin, a
// lone status or trader-type filter without a lower time bound is written
// as a one-value range and leads the ORDER BY: an equality would make the
// column a constant the planner drops from the order, leaving the time
// index as good a source of that order as the column's own; as a range
// only the column's index (column, submitted_at, id) yields it. A lower
// time bound keeps the equality: after a range on the first column,
// Postgres could not stop its scan at the bound.
func listRegistrationsQuery(f storage.RegistrationFilter, pin bool) (string, []any) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	lead := ""
	if pin && f.From.IsZero() && (f.Status == "") != (f.TraderType == "") {
		lead = "status"
		if f.TraderType != "" {
			lead = "trader_type"
		}
	}
	for _, c := range []struct{ column, value string }{{"status", string(f.Status)}, {"trader_type", f.TraderType}} {
		switch {
		case c.value == "":
		case c.column == lead:
			v := arg(c.value)
			where = append(where, c.column+" >= "+v+" AND "+c.column+" <= "+v)
		default:
			where = append(where, c.column+" = "+arg(c.value))
		}
	}
	if !f.From.IsZero() {
		where = append(where, "submitted_at >= "+arg(micros(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "submitted_at < "+arg(micros(f.To)))
	}
	if !f.AfterSubmitted.IsZero() || f.AfterID != "" {
		// (submitted_at, id) < (at, id), spelled out for portability. The
		// leading "submitted_at <= at" is implied by the rest but is what
		// lets the index scan start at the cursor instead of filtering
		// every newer row, which would make late pages cost like OFFSET.
		at, id := arg(micros(f.AfterSubmitted)), arg(f.AfterID)
		where = append(where, fmt.Sprintf("submitted_at <= %s AND (submitted_at < %s OR (submitted_at = %s AND id < %s))", at, at, at, id))
	}
	query := `SELECT ` + registrationColumns + ` FROM registrations`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY `
	if lead != "" {
		query += lead + ` DESC, `
	}
	query += `submitted_at DESC, id DESC`
	if f.Limit > 0 {
		query += ` LIMIT ` + arg(int64(f.Limit))
	}
	return query, args
}

// RegistrationEvents returns the registration's history, oldest first.
// Every registration has its "submitted" event, so none means no such
// registration.
func (s *Store) RegistrationEvents(ctx context.Context, id string) ([]storage.RegistrationEvent, error) {
	rows, err := s.db.Query(ctx, `SELECT id, registration_id, status, actor_id, note, occurred_at
		FROM registration_events WHERE registration_id = $1 ORDER BY id`, id)
	es, err := collect(rows, err, func(r scanner) (storage.RegistrationEvent, error) {
		var (
			e      storage.RegistrationEvent
			status string
			at     int64
		)
		if err := r.Scan(&e.ID, &e.RegistrationID, &status, &e.ActorID, &e.Note, &at); err != nil {
			return storage.RegistrationEvent{}, err
		}
		e.Status, e.Time = storage.RegistrationStatus(status), fromMicros(at)
		return e, nil
	})
	if err == nil && len(es) == 0 {
		err = storage.ErrNotFound
	}
	return es, s.wrap("list registration events "+id, err)
}

// UpdateRegistration applies fn to the locked registration and writes the
// result, fn's document and event in one transaction. The event's status
// defaults to the new status, its time to the new UpdatedAt (or now).
func (s *Store) UpdateRegistration(ctx context.Context, id string, fn func(*storage.Registration) (storage.RegistrationEvent, *storage.Document, error), then ...storage.TxHook) error {
	var fnErr error
	err := s.db.InTx(ctx, func(q Querier) error {
		g, err := s.lockRegistration(ctx, q, id)
		if err != nil {
			return err
		}
		var (
			ev  storage.RegistrationEvent
			doc *storage.Document
		)
		if ev, doc, fnErr = fn(&g); fnErr != nil {
			return fnErr
		}
		g.ID = id // the service number and documents point at it
		if doc != nil {
			d := *doc
			d.RegistrationID = id
			if err := insertDocument(ctx, q, d); err != nil {
				return fmt.Errorf("document: %w", err)
			}
			g.DocumentID = d.ID
		}
		if err := updateRegistration(ctx, q, g); err != nil {
			return err
		}
		ev.RegistrationID = id
		if ev.Status == "" {
			ev.Status = g.Status
		}
		if ev.Time.IsZero() {
			ev.Time = g.UpdatedAt
		}
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		if err := insertEvent(ctx, q, ev); err != nil {
			return err
		}
		return s.runHooks(ctx, q, then)
	})
	if fnErr != nil {
		return fnErr
	}
	return s.wrap("update registration "+id, err)
}

// ApproveRegistration decides registration id in favour: in one transaction
// it creates org (or, when an organization has org.NIB already, joins that
// one instead) and user with its membership (administrator of a new
// organization, member of an existing one), links them to the registration, marks it
// approved, appends ev and stores the activation token. Any failure leaves
// everything as it was. The store fills in the links (user.OrganizationID,
// token.UserID, ev.RegistrationID) and ev.Status; UpdatedAt becomes ev.Time
// (now if zero).
func (s *Store) ApproveRegistration(ctx context.Context, id string, org storage.Organization, user storage.User, token storage.ActionToken, ev storage.RegistrationEvent, then ...storage.TxHook) error {
	user.OrganizationID, token.UserID = org.ID, user.ID
	ev.RegistrationID, ev.Status = id, storage.StatusApproved
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	err := s.db.InTx(ctx, func(q Querier) error {
		g, err := s.lockRegistration(ctx, q, id)
		if err != nil {
			return err
		}
		// Checked under the row lock: of two officers deciding at once, the
		// second sees the first's decision here.
		// Only a registration under review can be approved: otherwise an
		// approval could land on top of a concurrent revision request.
		if !g.Status.CanBecome(storage.StatusApproved) {
			return fmt.Errorf("registration is %s: %w", g.Status, storage.ErrConflict)
		}
		// A company registered already (by NIB) is joined: under this
		// transaction, so of two approvals for one new NIB the second joins
		// the organization the first created (the NIB is UNIQUE).
		role := storage.MemberAdmin
		existing, err := scanOrganization(q.QueryRow(ctx, `SELECT `+organizationColumns+` FROM organizations WHERE nib = $1`+s.d.ForUpdate, org.NIB))
		switch {
		case err == nil:
			org, role = existing, storage.MemberStaff
		case s.d.IsNoRows(err):
			if err := insertOrganization(ctx, q, org); err != nil {
				return fmt.Errorf("create organization %s: %w", org.ID, err)
			}
		default:
			return fmt.Errorf("look up organization by nib: %w", err)
		}
		user.OrganizationID = org.ID
		if _, err := q.Exec(ctx, insertUser, userArgs(user)...); err != nil {
			return fmt.Errorf("create user %s: %w", user.ID, err)
		}
		if err := insertMembership(ctx, q, storage.Membership{OrganizationID: org.ID, UserID: user.ID,
			Role: role, CreatedAt: ev.Time}); err != nil {
			return fmt.Errorf("create membership: %w", err)
		}
		g.Status, g.OrganizationID, g.UserID, g.UpdatedAt = storage.StatusApproved, org.ID, user.ID, ev.Time
		if err := updateRegistration(ctx, q, g); err != nil {
			return err
		}
		if err := insertEvent(ctx, q, ev); err != nil {
			return err
		}
		// A registration an upstream identity started links the new user to
		// it in the same transaction. An identity linked meanwhile (it
		// signed in and proved another account) keeps that link.
		if g.UpstreamID != "" && g.UpstreamSubject != "" {
			if _, err := q.Exec(ctx, insertUpstreamLink+` ON CONFLICT (upstream_id, subject) DO NOTHING`,
				upstreamLinkArgs(storage.UpstreamLink{UpstreamID: g.UpstreamID, Subject: g.UpstreamSubject,
					UserID: user.ID, CreatedAt: ev.Time, LastUsedAt: ev.Time})...); err != nil {
				return fmt.Errorf("create upstream link: %w", err)
			}
		}
		if _, err := q.Exec(ctx, insertActionToken, actionTokenArgs(token)...); err != nil {
			return fmt.Errorf("create action token: %w", err)
		}
		return s.runHooks(ctx, q, then)
	})
	s.changed(ctx, err, UserOwner(user.ID), OrganizationOwner(org.ID))
	return s.wrap("approve registration "+id, err)
}

// DocumentByID returns the document with id.
func (s *Store) DocumentByID(ctx context.Context, id string) (storage.Document, error) {
	var (
		d  storage.Document
		at int64
	)
	err := s.db.QueryRow(ctx, `SELECT id, registration_id, file_name, content_type, sha256, data, created_at
		FROM registration_documents WHERE id = $1`, id).
		Scan(&d.ID, &d.RegistrationID, &d.FileName, &d.ContentType, &d.SHA256, &d.Data, &at)
	if err != nil {
		return storage.Document{}, s.wrap("get document "+id, err)
	}
	d.CreatedAt = fromMicros(at)
	return d, nil
}

const actionTokenColumns = `id, user_id, purpose, created_at, expires_at, used_at`

const insertActionToken = `INSERT INTO action_tokens (` + actionTokenColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`

func actionTokenArgs(t storage.ActionToken) []any {
	return []any{t.ID, t.UserID, t.Purpose, micros(t.CreatedAt), micros(t.ExpiresAt), micros(t.UsedAt)}
}

// CreateActionToken stores a new activation or reset token; with hooks, in
// a transaction that they share.
func (s *Store) CreateActionToken(ctx context.Context, t storage.ActionToken, then ...storage.TxHook) error {
	if len(then) == 0 {
		_, err := s.db.Exec(ctx, insertActionToken, actionTokenArgs(t)...)
		return s.wrap("create action token", err)
	}
	err := s.db.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, insertActionToken, actionTokenArgs(t)...); err != nil {
			return err
		}
		return s.runHooks(ctx, q, then)
	})
	return s.wrap("create action token", err)
}

// ConsumeActionToken marks the token used at now and returns it. The one
// conditional UPDATE is the whole check, so of concurrent consumers only
// one finds used_at = 0 (on Postgres the others wait for its row lock and
// re-check); unknown, used, expired and other-purpose tokens all update
// nothing and are ErrNotFound alike, telling a prober nothing.
// ActionToken reads the token without using it.
func (s *Store) ActionToken(ctx context.Context, id, purpose string, now time.Time) (storage.ActionToken, error) {
	var (
		t                      storage.ActionToken
		created, expires, used int64
	)
	err := s.db.QueryRow(ctx, `SELECT `+actionTokenColumns+` FROM action_tokens
		WHERE id = $1 AND purpose = $2 AND used_at = 0 AND expires_at > $3`, id, purpose, micros(now)).
		Scan(&t.ID, &t.UserID, &t.Purpose, &created, &expires, &used)
	if err != nil {
		return storage.ActionToken{}, s.wrap("get action token", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return t, nil
}

func (s *Store) ConsumeActionToken(ctx context.Context, id, purpose string, now time.Time) (storage.ActionToken, error) {
	const op = "consume action token"
	if now.IsZero() {
		// used_at = 0 means unused: a zero time would leave the token live.
		return storage.ActionToken{}, fmt.Errorf("%s: %s: now is not set", s.d.Name, op)
	}
	var t storage.ActionToken
	// In a transaction because SQLite's adapter sends a QueryRow outside
	// one to a read-only connection, and UPDATE … RETURNING writes.
	err := s.db.InTx(ctx, func(q Querier) error {
		var created, expires, used int64
		err := q.QueryRow(ctx, `UPDATE action_tokens SET used_at = $1
			WHERE id = $2 AND purpose = $3 AND used_at = 0 AND expires_at > $1
			RETURNING `+actionTokenColumns, micros(now), id, purpose).
			Scan(&t.ID, &t.UserID, &t.Purpose, &created, &expires, &used)
		t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
		return err
	})
	if err != nil {
		return storage.ActionToken{}, s.wrap(op, err)
	}
	return t, nil
}

// OpenRegistrationCounts counts the registrations awaiting a decision, by
// status (metrics): an index range scan of registrations_status over the
// open statuses only, so its cost follows the officers' queue, not the
// history.
func (s *Store) OpenRegistrationCounts(ctx context.Context) (map[storage.RegistrationStatus]int, error) {
	rows, err := s.db.Query(ctx, `SELECT status, COUNT(*) FROM registrations
		WHERE status IN ('submitted', 'in_review', 'revision_requested', 'resubmitted') GROUP BY status`)
	if err != nil {
		return nil, s.wrap("count open registrations", err)
	}
	defer rows.Close()
	out := map[storage.RegistrationStatus]int{}
	for rows.Next() {
		var (
			status string
			n      int64
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, s.wrap("count open registrations", err)
		}
		out[storage.RegistrationStatus(status)] = int(n)
	}
	return out, s.wrap("count open registrations", rows.Err())
}
