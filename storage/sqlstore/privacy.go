package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"satupintu/storage"
)

const deletionColumns = `id, user_id, status, reason, requested_at, decided_at, decided_by, note`

func scanDeletion(r scanner) (storage.DeletionRequest, error) {
	var (
		d                  storage.DeletionRequest
		status             string
		requested, decided int64
	)
	if err := r.Scan(&d.ID, &d.UserID, &status, &d.Reason, &requested, &decided, &d.DecidedBy, &d.Note); err != nil {
		return storage.DeletionRequest{}, err
	}
	d.Status = storage.RequestStatus(status)
	d.RequestedAt, d.DecidedAt = fromMicros(requested), fromMicros(decided)
	return d, nil
}

// CreateDeletionRequest stores d; the partial unique index allows one
// pending request per user.
func (s *Store) CreateDeletionRequest(ctx context.Context, d storage.DeletionRequest) error {
	err := s.db.InTx(ctx, func(q Querier) error {
		var id string
		if err := q.QueryRow(ctx, `SELECT id FROM users WHERE id = $1`, d.UserID).Scan(&id); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO deletion_requests (`+deletionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			d.ID, d.UserID, string(d.Status), d.Reason, micros(d.RequestedAt), micros(d.DecidedAt), d.DecidedBy, d.Note)
		return err
	})
	return s.wrap("create deletion request for user "+d.UserID, err)
}

func (s *Store) PendingDeletionRequest(ctx context.Context, userID string) (storage.DeletionRequest, error) {
	d, err := scanDeletion(s.db.QueryRow(ctx, `SELECT `+deletionColumns+` FROM deletion_requests
		WHERE user_id = $1 AND status = 'pending'`, userID))
	return d, s.wrap("get pending deletion request of user "+userID, err)
}

// DeletionRequestByID returns the deletion request with id, whatever its
// status.
func (s *Store) DeletionRequestByID(ctx context.Context, id string) (storage.DeletionRequest, error) {
	d, err := scanDeletion(s.db.QueryRow(ctx, `SELECT `+deletionColumns+` FROM deletion_requests WHERE id = $1`, id))
	return d, s.wrap("get deletion request "+id, err)
}

func (s *Store) ListDeletionRequests(ctx context.Context, status storage.RequestStatus, limit int) ([]storage.DeletionRequest, error) {
	rows, err := s.db.Query(ctx, `SELECT `+deletionColumns+` FROM deletion_requests
		WHERE status = $1 ORDER BY requested_at, id LIMIT $2`, string(status), int64(limit))
	ds, err := collect(rows, err, scanDeletion)
	return ds, s.wrap("list deletion requests", err)
}

// DecideDeletionRequest decides the request and, on approval, anonymizes
// the user in the same transaction.
func (s *Store) DecideDeletionRequest(ctx context.Context, id string, approve bool, officerID, note string, at time.Time) (storage.DeletionRequest, error) {
	var d storage.DeletionRequest
	err := s.decide(ctx, "deletion_requests", id, approve, officerID, note, at, func(q Querier) (storage.RequestStatus, error) {
		var err error
		d, err = scanDeletion(q.QueryRow(ctx, `SELECT `+deletionColumns+` FROM deletion_requests WHERE id = $1`+s.d.ForUpdate, id))
		return d.Status, err
	}, func(q Querier) error {
		return anonymizeUser(ctx, q, d.UserID, at)
	})
	d.Status, d.DecidedAt, d.DecidedBy, d.Note = decidedStatus(approve), at, officerID, note
	if approve {
		s.changed(ctx, err, UserOwner(d.UserID))
	}
	return d, s.wrap("decide deletion request "+id, err)
}

// decide is the one decision of an officer-decided request in table: lock
// and read it (load, which returns its status), refuse one that is no
// longer pending, apply an approval (onApprove), record the decision; all
// in one transaction.
func (s *Store) decide(ctx context.Context, table, id string, approve bool, officerID, note string, at time.Time,
	load func(Querier) (storage.RequestStatus, error), onApprove func(Querier) error) error {
	return s.db.InTx(ctx, func(q Querier) error {
		status, err := load(q)
		if err != nil {
			return err
		}
		if status != storage.RequestPending {
			return fmt.Errorf("request is %s: %w", status, storage.ErrConflict)
		}
		if approve {
			if err := onApprove(q); err != nil {
				return err
			}
		}
		_, err = q.Exec(ctx, `UPDATE `+table+` SET status = $2, decided_at = $3, decided_by = $4, note = $5 WHERE id = $1`,
			id, string(decidedStatus(approve)), micros(at), officerID, note)
		return err
	})
}

func decidedStatus(approve bool) storage.RequestStatus {
	if approve {
		return storage.RequestApproved
	}
	return storage.RequestRejected
}

// anonymizeUser keeps the user's row (its id is what audit events and
// registrations point at) and drops everything personal or usable to sign
// in. The username stays unique and says what happened.
func anonymizeUser(ctx context.Context, q Querier, userID string, at time.Time) error {
	n, err := q.Exec(ctx, `UPDATE users SET username = $2, email = '', email_verified = FALSE, name = '', phone = '',
		job_title = '', password_hash = '', organization_id = '', roles = '[]', disabled = TRUE, totp_secret = $3, name_key = $3,
		mfa_enrolled_at = 0, recovery_codes = '[]', updated_at = $4 WHERE id = $1`, userID, "deleted-"+userID, []byte{}, micros(at))
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	// The person leaves every company (its member lists must not show an
	// empty row) and every choice of one.
	for _, table := range []string{"passkeys", "app_links", "upstream_links", "refresh_tokens", "memberships", "organization_choices"} {
		if _, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("delete %s: %w", table, err)
		}
	}
	// The invitation the account came from names its address.
	if _, err := q.Exec(ctx, `UPDATE invitations SET email = '' WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("anonymize invitations: %w", err)
	}
	return nil
}

func (s *Store) AuditAbout(ctx context.Context, userID string, limit int) ([]storage.AuditEvent, error) {
	if limit <= 0 || userID == "" {
		return nil, nil
	}
	// Two index range scans (audit_events_actor, audit_events_subject)
	// merged, rather than an OR the planner may answer with a full scan.
	rows, err := s.db.Query(ctx, `SELECT `+auditColumns+` FROM (
		SELECT `+auditColumns+` FROM audit_events WHERE actor_id = $1
		UNION
		SELECT `+auditColumns+` FROM audit_events WHERE subject = $1
	) AS about ORDER BY id DESC LIMIT $2`, userID, int64(limit))
	es, err := collect(rows, err, scanAudit)
	return es, s.wrap("list audit events about user "+userID, err)
}

func (s *Store) RegistrationsOf(ctx context.Context, userID, email string) ([]storage.Registration, error) {
	rows, err := s.db.Query(ctx, `SELECT `+registrationColumns+` FROM (
		SELECT `+registrationColumns+` FROM registrations WHERE user_id = $1 AND user_id <> ''
		UNION
		SELECT `+registrationColumns+` FROM registrations WHERE email = $2 AND email <> ''
	) AS mine ORDER BY submitted_at DESC, id DESC`, userID, email)
	gs, err := collect(rows, err, scanRegistration)
	return gs, s.wrap("list registrations of user "+userID, err)
}

// PruneRegistrations deletes closed registrations and old documents in one
// transaction: a registration goes with its documents and history.
func (s *Store) PruneRegistrations(ctx context.Context, closedBefore, documentsBefore time.Time) (storage.RetentionResult, error) {
	var res storage.RetentionResult
	err := s.db.InTx(ctx, func(q Querier) error {
		res = storage.RetentionResult{}
		if !closedBefore.IsZero() {
			rows, err := q.Query(ctx, `SELECT id, service_number FROM registrations
				WHERE status IN ('rejected', 'revision_requested') AND updated_at < $1`, micros(closedBefore))
			type gone struct{ id, number string }
			closed, err := collect(rows, err, func(r scanner) (gone, error) {
				var g gone
				return g, r.Scan(&g.id, &g.number)
			})
			if err != nil {
				return err
			}
			for _, g := range closed {
				for _, stmt := range []string{
					`DELETE FROM registration_documents WHERE registration_id = $1`,
					`DELETE FROM registration_events WHERE registration_id = $1`,
					`DELETE FROM registrations WHERE id = $1`,
				} {
					if _, err := q.Exec(ctx, stmt, g.id); err != nil {
						return err
					}
				}
				res.Registrations = append(res.Registrations, g.number)
			}
		}
		if !documentsBefore.IsZero() {
			n, err := q.Exec(ctx, `DELETE FROM registration_documents WHERE registration_id IN (
				SELECT id FROM registrations WHERE status = 'approved' AND updated_at < $1)`, micros(documentsBefore))
			if err != nil {
				return err
			}
			res.Documents = n
			if _, err := q.Exec(ctx, `UPDATE registrations SET document_id = '' WHERE status = 'approved' AND updated_at < $1`,
				micros(documentsBefore)); err != nil {
				return err
			}
		}
		return nil
	})
	return res, s.wrap("prune registrations", err)
}

const correctionColumns = `id, organization_id, user_id, status, name, address, reason, requested_at, decided_at, decided_by, note`

func scanCorrection(r scanner) (storage.CorrectionRequest, error) {
	var (
		c                  storage.CorrectionRequest
		status, address    string
		requested, decided int64
	)
	if err := r.Scan(&c.ID, &c.OrganizationID, &c.UserID, &status, &c.Name, &address, &c.Reason, &requested, &decided, &c.DecidedBy, &c.Note); err != nil {
		return storage.CorrectionRequest{}, err
	}
	if err := json.Unmarshal([]byte(address), &c.Address); err != nil {
		return storage.CorrectionRequest{}, fmt.Errorf("decode address: %w", err)
	}
	c.Status = storage.RequestStatus(status)
	c.RequestedAt, c.DecidedAt = fromMicros(requested), fromMicros(decided)
	return c, nil
}

func (s *Store) CreateCorrectionRequest(ctx context.Context, c storage.CorrectionRequest) error {
	address, err := json.Marshal(c.Address)
	if err != nil {
		return fmt.Errorf("%s: encode address: %w", s.d.Name, err)
	}
	err = s.db.InTx(ctx, func(q Querier) error {
		var n int
		if err := q.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM organizations WHERE id = $1) + (SELECT COUNT(*) FROM users WHERE id = $2)`,
			c.OrganizationID, c.UserID).Scan(&n); err != nil {
			return err
		}
		if n != 2 {
			return storage.ErrNotFound
		}
		_, err := q.Exec(ctx, `INSERT INTO correction_requests (`+correctionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			c.ID, c.OrganizationID, c.UserID, string(c.Status), c.Name, string(address), c.Reason,
			micros(c.RequestedAt), micros(c.DecidedAt), c.DecidedBy, c.Note)
		return err
	})
	return s.wrap("create correction request for organization "+c.OrganizationID, err)
}

func (s *Store) PendingCorrectionRequest(ctx context.Context, orgID string) (storage.CorrectionRequest, error) {
	c, err := scanCorrection(s.db.QueryRow(ctx, `SELECT `+correctionColumns+` FROM correction_requests
		WHERE organization_id = $1 AND status = 'pending'`, orgID))
	return c, s.wrap("get pending correction request of organization "+orgID, err)
}

// CorrectionRequestByID returns the correction request with id, whatever
// its status.
func (s *Store) CorrectionRequestByID(ctx context.Context, id string) (storage.CorrectionRequest, error) {
	c, err := scanCorrection(s.db.QueryRow(ctx, `SELECT `+correctionColumns+` FROM correction_requests WHERE id = $1`, id))
	return c, s.wrap("get correction request "+id, err)
}

func (s *Store) ListCorrectionRequests(ctx context.Context, status storage.RequestStatus, limit int) ([]storage.CorrectionRequest, error) {
	rows, err := s.db.Query(ctx, `SELECT `+correctionColumns+` FROM correction_requests
		WHERE status = $1 ORDER BY requested_at, id LIMIT $2`, string(status), int64(limit))
	cs, err := collect(rows, err, scanCorrection)
	return cs, s.wrap("list correction requests", err)
}

// DecideCorrectionRequest decides the request and, on approval, applies it
// to the organization in the same transaction.
func (s *Store) DecideCorrectionRequest(ctx context.Context, id string, approve bool, officerID, note string, at time.Time) (storage.CorrectionRequest, error) {
	var c storage.CorrectionRequest
	err := s.decide(ctx, "correction_requests", id, approve, officerID, note, at, func(q Querier) (storage.RequestStatus, error) {
		var err error
		c, err = scanCorrection(q.QueryRow(ctx, `SELECT `+correctionColumns+` FROM correction_requests WHERE id = $1`+s.d.ForUpdate, id))
		return c.Status, err
	}, func(q Querier) error {
		address, err := json.Marshal(c.Address)
		if err != nil {
			return fmt.Errorf("encode address: %w", err)
		}
		n, err := q.Exec(ctx, `UPDATE organizations SET name = $2, address = $3, updated_at = $4 WHERE id = $1`,
			c.OrganizationID, c.Name, string(address), micros(at))
		if err == nil && n == 0 {
			err = storage.ErrNotFound
		}
		return err
	})
	c.Status, c.DecidedAt, c.DecidedBy, c.Note = decidedStatus(approve), at, officerID, note
	if approve {
		s.changed(ctx, err, OrganizationOwner(c.OrganizationID))
	}
	return c, s.wrap("decide correction request "+id, err)
}
