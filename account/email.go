package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"satupintu/storage"
)

// Changing the email address (UU 27/2022's right to correction): the new
// address proves itself with a code mailed to it; the old one is told, so
// a hijacked session cannot move the account's mail away quietly. The
// password is asked first, as for every change of a way into the account.

const (
	emailCodeTTL      = 15 * time.Minute
	emailCodeAttempts = 5
	// emailChangeSends bounds codes mailed per account and hour: each is
	// a mail to an address the person only claims.
	emailChangeSends  = 5
	emailChangeWindow = time.Hour
)

// EmailChange configures the email change; nil on Handler: the profile
// shows the address without a way to change it.
// The mails go through Handler.Mail.
type EmailChange struct {
	Pending storage.Drafts // the pending change of each account, with its TTL
	// CheckEmail normalizes and validates an address (registration.Email).
	CheckEmail Check
	// CheckPassword verifies the person's own password (login).
	CheckPassword func(ctx context.Context, u storage.User, secret string) (bool, error)
}

// pendingEmail is a change waiting for its code.
type pendingEmail struct {
	Email     string    `json:"email"`
	CodeHash  string    `json:"code_hash"` // hex SHA-256: 5 guesses of 10^6 need no slow hash
	Attempts  int       `json:"attempts"`
	ExpiresAt time.Time `json:"expires_at"`
}

func pendingEmailKey(userID string) string { return "email-change:" + userID }

// emailPage is the data of the "account_email" page.
type emailPage struct {
	Nav      []navItem
	Current  string
	Pending  string // the new address a code went to; empty: ask for one
	Email    string // as typed
	ErrorKey string
	Problem  *Problem
}

func (h *Handler) loadPendingEmail(ctx context.Context, userID string) (pendingEmail, bool, error) {
	b, err := h.EmailChange.Pending.Draft(ctx, pendingEmailKey(userID))
	if errors.Is(err, storage.ErrNotFound) {
		return pendingEmail{}, false, nil
	}
	if err != nil {
		return pendingEmail{}, false, fmt.Errorf("account: load pending email change: %w", err)
	}
	var p pendingEmail
	if err := json.Unmarshal(b, &p); err != nil {
		return pendingEmail{}, false, fmt.Errorf("account: decode pending email change: %w", err)
	}
	if !h.Now().Before(p.ExpiresAt) {
		return pendingEmail{}, false, nil
	}
	return p, true, nil
}

func (h *Handler) savePendingEmail(ctx context.Context, userID string, p pendingEmail) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("account: encode pending email change: %w", err)
	}
	if err := h.EmailChange.Pending.SaveDraft(ctx, pendingEmailKey(userID), b, p.ExpiresAt.Sub(h.Now())); err != nil {
		return fmt.Errorf("account: save pending email change: %w", err)
	}
	return nil
}

func (h *Handler) renderEmail(w http.ResponseWriter, r *http.Request, u storage.User, page emailPage) error {
	page.Nav, page.Current = nav("/profile"), u.Email
	if page.Pending == "" && page.ErrorKey == "" && page.Problem == nil {
		p, ok, err := h.loadPendingEmail(r.Context(), u.ID)
		if err != nil {
			return err
		}
		if ok {
			page.Pending = p.Email
		}
	}
	status := http.StatusOK
	if page.ErrorKey != "" || page.Problem != nil {
		status = http.StatusUnprocessableEntity
	}
	return h.render.Render(w, r, status, "account_email", page)
}

// showEmail answers GET /profile/email: the new address and password, or
// the code form when one is pending.
func (h *Handler) showEmail(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	return h.renderEmail(w, r, who.user, emailPage{})
}

// newEmailCode returns six random digits.
func newEmailCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000)) // crypto/rand never fails (Go 1.24)
	return fmt.Sprintf("%06d", n.Int64())
}

func codeHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// startEmailChange answers POST /profile/email: with the password, a code
// goes to the new address.
func (h *Handler) startEmailChange(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	if err := h.verifyPost(r); err != nil {
		return err
	}
	ctx, u := r.Context(), who.user
	typed := r.PostForm.Get("email")
	email, problem := h.EmailChange.CheckEmail(typed)
	if problem != nil {
		return h.renderEmail(w, r, u, emailPage{Email: typed, Problem: problem})
	}
	if strings.EqualFold(email, u.Email) {
		return h.renderEmail(w, r, u, emailPage{Email: typed, ErrorKey: "account.email.same"})
	}
	pw, err := h.EmailChange.CheckPassword(ctx, u, r.PostForm.Get("password"))
	if err != nil {
		return err
	}
	if !pw {
		h.audit(r, storage.AuditEvent{Action: "email.change.failure", ActorID: u.ID, Subject: u.ID, Detail: map[string]string{"reason": "password_wrong"}})
		return h.renderEmail(w, r, u, emailPage{Email: typed, ErrorKey: "account.email.password_wrong"})
	}
	n, err := h.Counters.Incr(ctx, "email-change-sends:"+u.ID, emailChangeWindow)
	if err != nil {
		return fmt.Errorf("account: count email change codes: %w", err)
	}
	if n > emailChangeSends {
		return h.renderEmail(w, r, u, emailPage{Email: typed, ErrorKey: "account.email.too_many"})
	}
	code := newEmailCode()
	if err := h.savePendingEmail(ctx, u.ID, pendingEmail{Email: email, CodeHash: codeHash(code), ExpiresAt: h.Now().Add(emailCodeTTL)}); err != nil {
		return err
	}
	if err := h.sendBilingual(ctx, email, "account.email.code_subject", func(lang string) string {
		return h.Pages.T(lang, "account.email.code_body", u.Name, code, int(emailCodeTTL/time.Minute))
	}); err != nil {
		h.Logger.ErrorContext(ctx, "send email change code", "user_id", u.ID, "error", err)
		return h.renderEmail(w, r, u, emailPage{Email: typed, ErrorKey: "account.email.send_failed"})
	}
	h.audit(r, storage.AuditEvent{Action: "email.change.code_sent", ActorID: u.ID, Subject: u.ID})
	redirect(w, r, "/profile/email")
	return nil
}

// confirmEmailChange answers POST /profile/email/confirm: the right code
// moves the account to the new address and tells the old one.
func (h *Handler) confirmEmailChange(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	if err := h.verifyPost(r); err != nil {
		return err
	}
	ctx, u := r.Context(), who.user
	p, ok, err := h.loadPendingEmail(ctx, u.ID)
	if err != nil {
		return err
	}
	if !ok {
		return h.renderEmail(w, r, u, emailPage{ErrorKey: "account.email.expired"})
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if subtle.ConstantTimeCompare([]byte(codeHash(code)), []byte(p.CodeHash)) != 1 {
		p.Attempts++
		if p.Attempts >= emailCodeAttempts {
			if err := h.EmailChange.Pending.DeleteDraft(ctx, pendingEmailKey(u.ID)); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("account: end email change: %w", err)
			}
			h.audit(r, storage.AuditEvent{Action: "email.change.failure", ActorID: u.ID, Subject: u.ID, Detail: map[string]string{"reason": "too_many_codes"}})
			return h.renderEmail(w, r, u, emailPage{ErrorKey: "account.email.expired"})
		}
		if err := h.savePendingEmail(ctx, u.ID, p); err != nil {
			return err
		}
		return h.renderEmail(w, r, u, emailPage{Pending: p.Email, ErrorKey: "account.email.code_wrong"})
	}
	if err := h.EmailChange.Pending.DeleteDraft(ctx, pendingEmailKey(u.ID)); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("account: end email change: %w", err)
	}
	old := u.Email
	actx := h.forms.Audited(r, storage.AuditEvent{Action: "email.change", ActorID: u.ID, Subject: u.ID})
	err = h.Users.UpdateUser(actx, u.ID, func(cur *storage.User) error {
		cur.Email, cur.EmailVerified, cur.UpdatedAt = p.Email, true, h.Now().UTC()
		return nil
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		// Another account has it (taken since the code went out, or all
		// along): one answer, without saying whose.
		return h.renderEmail(w, r, u, emailPage{ErrorKey: "account.email.unavailable"})
	}
	if err != nil {
		return fmt.Errorf("account: change email: %w", err)
	}
	h.Logger.InfoContext(ctx, "email changed", "user_id", u.ID)
	if old != "" {
		if err := h.sendBilingual(ctx, old, "account.email.notice_subject", func(lang string) string {
			return h.Pages.T(lang, "account.email.notice_body", u.Name, maskEmail(p.Email))
		}); err != nil {
			h.Logger.ErrorContext(ctx, "send email change notice to the old address", "user_id", u.ID, "error", err)
		}
	}
	redirect(w, r, "/profile?done=email_changed")
	return nil
}

// maskEmail shows enough of the new address for its owner to recognize it
// and little to anyone else reading the old mailbox: b***@contoh.co.id.
func maskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 1 {
		return "***"
	}
	return s[:1] + "***" + s[at:]
}
