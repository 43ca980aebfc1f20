package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Which driver errors mean "the database cannot serve now" (503) rather
// than something about the statement or the data.
func TestUnavailableClassification(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code}) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"read-only transaction (standby, default_transaction_read_only)", pg("25006"), true},
		{"disk full", pg("53100"), true},
		{"too many connections", pg("53300"), true},
		{"admin shutdown (connection terminated)", pg("57P01"), true},
		{"starting up", pg("57P03"), true},
		{"connection failure", pg("08006"), true},
		{"I/O error", pg("58030"), true},
		{"deadline of the request", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"server closed the connection", io.ErrUnexpectedEOF, true},
		{"conn closed", pgconn.ErrConnClosed, true},
		{"unique violation", pg("23505"), false},
		{"NUL in a text parameter", pg("22021"), false},
		{"undefined table (a bug, not an outage)", pg("42P01"), false},
		{"no rows", pgx.ErrNoRows, false},
		{"the client went away", context.Canceled, false},
		{"anything else", errors.New("boom"), false},
	} {
		if got := unavailable(tc.err); got != tc.want {
			t.Errorf("%s: unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
