package sqlstore

import (
	"context"
	"fmt"
	"time"

	"satupintu/storage"
)

var _ storage.DraftDocuments = (*Store)(nil)

const draftDocumentColumns = `draft_id, file_name, content_type, sha256, data, created_at, expires_at`

// PutDraftDocument stores d as its draft's one letter. The transaction
// locks the cap's row first, so concurrent uploads take turns; it then
// prunes expired letters (cheap: each insert leaves few behind), counts the
// live letters of the other drafts against limit, and replaces the draft's
// letter, so a draft never holds two.
func (s *Store) PutDraftDocument(ctx context.Context, d storage.DraftDocument, now time.Time, limit storage.DraftDocumentCap) error {
	op := "put draft document " + d.DraftID
	switch {
	case d.DraftID == "":
		return fmt.Errorf("%s: %s: no draft id", s.d.Name, op)
	case len(d.Data) > storage.MaxDocumentSize:
		// The migration's CHECK holds the same number, against other writers.
		return fmt.Errorf("%s: %s: document is %d bytes, more than %d", s.d.Name, op, len(d.Data), storage.MaxDocumentSize)
	case !d.ExpiresAt.After(now):
		return fmt.Errorf("%s: %s: expiry %v is not after now", s.d.Name, op, d.ExpiresAt)
	}
	err := s.db.InTx(ctx, func(q Querier) error {
		var one int64
		if err := q.QueryRow(ctx, `SELECT id FROM draft_documents_lock WHERE id = 1`+s.d.ForUpdate).Scan(&one); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := q.Exec(ctx, `DELETE FROM draft_documents WHERE expires_at <= $1`, micros(now)); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		var count, bytes int64
		if err := q.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM draft_documents
			WHERE draft_id <> $1`, d.DraftID).Scan(&count, &bytes); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if (limit.MaxCount > 0 && count+1 > limit.MaxCount) || (limit.MaxBytes > 0 && bytes+int64(len(d.Data)) > limit.MaxBytes) {
			return fmt.Errorf("%d letters, %d bytes pending: %w", count, bytes, storage.ErrLimitReached)
		}
		if _, err := q.Exec(ctx, `DELETE FROM draft_documents WHERE draft_id = $1`, d.DraftID); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO draft_documents (`+draftDocumentColumns+`, size)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			d.DraftID, d.FileName, d.ContentType, d.SHA256, blob(d.Data), micros(d.CreatedAt), micros(d.ExpiresAt), int64(len(d.Data)))
		return err
	})
	return s.wrap(op, err)
}

// DraftDocument returns the draft's live letter.
func (s *Store) DraftDocument(ctx context.Context, draftID string, now time.Time) (storage.DraftDocument, error) {
	var (
		d                storage.DraftDocument
		created, expires int64
	)
	err := s.db.QueryRow(ctx, `SELECT `+draftDocumentColumns+` FROM draft_documents
		WHERE draft_id = $1 AND expires_at > $2`, draftID, micros(now)).
		Scan(&d.DraftID, &d.FileName, &d.ContentType, &d.SHA256, &d.Data, &created, &expires)
	if err != nil {
		return storage.DraftDocument{}, s.wrap("get draft document "+draftID, err)
	}
	d.Data = parseBlob(d.Data)
	d.CreatedAt, d.ExpiresAt = fromMicros(created), fromMicros(expires)
	return d, nil
}

// ExtendDraftDocument sets the expiry of the draft's live letter.
func (s *Store) ExtendDraftDocument(ctx context.Context, draftID string, expiresAt, now time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE draft_documents SET expires_at = $1
		WHERE draft_id = $2 AND expires_at > $3`, micros(expiresAt), draftID, micros(now))
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	return s.wrap("extend draft document "+draftID, err)
}

// DeleteDraftDocument deletes the draft's letter, if any.
func (s *Store) DeleteDraftDocument(ctx context.Context, draftID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM draft_documents WHERE draft_id = $1`, draftID)
	return s.wrap("delete draft document "+draftID, err)
}

// PruneDraftDocuments deletes the letters expired at now.
func (s *Store) PruneDraftDocuments(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.db.Exec(ctx, `DELETE FROM draft_documents WHERE expires_at <= $1`, micros(now))
	return n, s.wrap("prune draft documents", err)
}

// CreateRegistrationFromDraft stores g with the draft's letter as its
// document (its file name and type come from the stored letter). The bytes are copied inside the database (INSERT … SELECT), and
// the draft's row is deleted in the same transaction: a letter is either
// still the draft's or already the registration's, never both or neither.
func (s *Store) CreateRegistrationFromDraft(ctx context.Context, g storage.Registration, doc storage.Document, draftID string, now time.Time, then ...storage.TxHook) error {
	err := s.createRegistration(ctx, &g, &doc, func(q Querier) error {
		n, err := q.Exec(ctx, `INSERT INTO registration_documents
			(id, registration_id, file_name, content_type, sha256, data, created_at)
			SELECT $1, $2, file_name, content_type, sha256, data, CAST($3 AS BIGINT) FROM draft_documents
			WHERE draft_id = $4 AND sha256 = $5 AND expires_at > $6`,
			doc.ID, doc.RegistrationID, micros(doc.CreatedAt), draftID, doc.SHA256, micros(now))
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("no live letter of draft %s with that digest: %w", draftID, storage.ErrNotFound)
		}
		_, err = q.Exec(ctx, `DELETE FROM draft_documents WHERE draft_id = $1`, draftID)
		return err
	}, then)
	return s.wrap("create registration "+g.ID+" from draft", err)
}
