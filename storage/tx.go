package storage

import "context"

// Tx is a durable store's open transaction, as a TxHook sees it. Driver
// returns the driver's own transaction (pgx.Tx on Postgres, *sql.Tx on
// SQLite) for a library that must write inside it, as the job queue does;
// storage names no driver, so the hook's package asserts the type it knows.
type Tx interface {
	Driver() any
}

// TxHook writes something that must commit or roll back together with a
// store's change: a mail about a registration decision goes into the outbox
// in the decision's own transaction, so it is sent if and only if the
// decision stands. A hook runs after the change is written, before the
// commit; its error rolls everything back and is returned (wrapped).
type TxHook func(ctx context.Context, tx Tx) error
