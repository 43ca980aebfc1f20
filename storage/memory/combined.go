package memory

import (
	"context"
	"errors"

	"time"

	"satupintu/storage"
)

// The combined operations exist to save Redis round trips; in process they
// are the single operations in a row. Their intermediate states are never
// seen by anyone who matters: a request's id and a new token's id are
// unknown outside the caller until it returns.

// CreateAuthRequestWithCode stores r, then its code; if the code is taken,
// r goes again.
func (s *Store) CreateAuthRequestWithCode(ctx context.Context, r storage.AuthRequest, ttl time.Duration, code string, codeTTL time.Duration) error {
	if err := s.CreateAuthRequest(ctx, r, ttl); err != nil {
		return err
	}
	if err := s.SaveAuthCode(ctx, r.ID, code, codeTTL); err != nil {
		s.DeleteAuthRequest(ctx, r.ID)
		return err
	}
	return nil
}

// IssueAccessToken stores t, records its client in the session and puts
// the one-time value.
func (s *Store) IssueAccessToken(ctx context.Context, t storage.AccessToken, with storage.TokenWrites) error {
	if err := s.CreateAccessToken(ctx, t); err != nil {
		return err
	}
	if with.SessionID != "" {
		if err := s.AddSessionClient(ctx, with.SessionID, t.ClientID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	if with.Once.Key != "" {
		if err := s.PutOnce(ctx, with.Once.Key, with.Once.Value, with.Once.TTL); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
			return err
		}
	}
	return nil
}

// IncrChain counts each step in turn, stopping after one passes its Max.
func (s *Store) IncrChain(ctx context.Context, steps []storage.CountStep) ([]int64, error) {
	counts := make([]int64, 0, len(steps))
	for _, st := range steps {
		n, err := s.Incr(ctx, st.Key, st.Window)
		if err != nil {
			return counts, err
		}
		counts = append(counts, n)
		if st.Max > 0 && n > st.Max {
			break
		}
	}
	return counts, nil
}
