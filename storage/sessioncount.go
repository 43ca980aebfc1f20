package storage

import "context"

// SessionCounter counts the live sign-in sessions, for the operators'
// dashboard (a few reads a minute, never per request).
type SessionCounter interface {
	CountSessions(ctx context.Context) (int64, error)
}
