package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"satupintu/storage"
	"satupintu/web"
)

const (
	// linkLimit link attempts per user in linkWindow: the provider must not
	// become a faster password-guessing channel against an application than
	// the application's own sign-in form.
	linkLimit  = 10
	linkWindow = 15 * time.Minute
	// maxLinkUsername and maxLinkPassword bound what is forwarded.
	maxLinkUsername = 254
	maxLinkPassword = 1024
)

// linkPage is the data of the "account_link" page. It never carries the
// password: a failed attempt shows an empty password field.
type linkPage struct {
	Nav              []navItem
	AppName          string
	Action           string
	Username         string
	Linked           bool
	AppUsername      string
	ErrorKey         string
	UsernameErrorKey string
	PasswordErrorKey string
}

// linkable loads the client named in the path for the signed-in user: one
// they may open that offers linking. Anything else is "not found".
func (h *Handler) linkable(ctx context.Context, u storage.User, id string) (storage.Client, error) {
	c, err := h.openableClient(ctx, u, id)
	if err == nil && c.AccountLinkURL == "" {
		err = storage.ErrNotFound
	}
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: err}
	}
	return c, err
}

func (h *Handler) newLinkPage(ctx context.Context, u storage.User, c storage.Client) (linkPage, error) {
	page := linkPage{Nav: nav("/apps"), AppName: c.Name, Action: "/apps/" + url.PathEscape(c.ID) + "/link"}
	l, err := h.Links.AppLink(ctx, u.ID, c.ID)
	switch {
	case err == nil:
		page.Linked, page.AppUsername = true, l.AppUsername
	case !errors.Is(err, storage.ErrNotFound):
		return linkPage{}, fmt.Errorf("account: load app link: %w", err)
	}
	return page, nil
}

// showLink answers GET /apps/{client}/link: the "Create SSO" form.
func (h *Handler) showLink(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	c, err := h.linkable(r.Context(), who.user, r.PathValue("client"))
	if err != nil {
		return err
	}
	page, err := h.newLinkPage(r.Context(), who.user, c)
	if err != nil {
		return err
	}
	return h.render.Render(w, r, http.StatusOK, "account_link", page)
}

// submitLink answers POST /apps/{client}/link: the application checks the
// credentials at its endpoint, and on success the link is stored with the
// username the application returned.
func (h *Handler) submitLink(w http.ResponseWriter, r *http.Request) error {
	who := signedFrom(r)
	if err := h.verifyPost(r); err != nil {
		return err
	}
	ctx := r.Context()
	c, err := h.linkable(ctx, who.user, r.PathValue("client"))
	if err != nil {
		return err
	}
	page, err := h.newLinkPage(ctx, who.user, c)
	if err != nil {
		return err
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password") // exactly as typed: it is the application's to judge
	page.Username = username
	switch {
	case username == "":
		page.UsernameErrorKey = "account.link.username_required"
	case utf8.RuneCountInString(username) > maxLinkUsername || !utf8.ValidString(username):
		page.UsernameErrorKey = "account.link.username_too_long"
	}
	switch {
	case password == "":
		page.PasswordErrorKey = "account.link.password_required"
	case len(password) > maxLinkPassword:
		page.PasswordErrorKey = "account.link.password_too_long"
	}
	if page.UsernameErrorKey != "" || page.PasswordErrorKey != "" {
		page.ErrorKey = "account.link.fix_fields"
		return h.render.Render(w, r, http.StatusUnprocessableEntity, "account_link", page)
	}

	n, err := h.Counters.Incr(ctx, "app-link:"+who.user.ID, linkWindow)
	if err != nil {
		// Fail closed: without a count there is no limit.
		return fmt.Errorf("account: count link attempts: %w", err)
	}
	if n > linkLimit {
		h.Logger.InfoContext(ctx, "account link rate limited", "user_id", who.user.ID, "client_id", c.ID)
		page.ErrorKey = "account.link.rate_limited"
		return h.render.Render(w, r, http.StatusTooManyRequests, "account_link", page)
	}

	appUser, err := h.Linker.Verify(ctx, c.AccountLinkURL, username, password)
	if err != nil {
		status, reason := http.StatusBadGateway, "unavailable"
		page.ErrorKey = "account.link.unavailable"
		if errors.Is(err, ErrLinkRejected) {
			status, reason = http.StatusUnprocessableEntity, "rejected"
			page.ErrorKey = "account.link.rejected"
		}
		// The password never reaches the log or the audit trail; the
		// username typed is kept short, as login does.
		h.Logger.WarnContext(ctx, "account link failed", "user_id", who.user.ID, "client_id", c.ID, "error", err)
		h.audit(r, storage.AuditEvent{Action: "app.link.failure", ActorID: who.user.ID, Subject: who.user.ID,
			ClientID: c.ID, Detail: map[string]string{"reason": reason, "username": truncate(username, 64)}})
		return h.render.Render(w, r, status, "account_link", page)
	}
	link := storage.AppLink{UserID: who.user.ID, ClientID: c.ID, AppUsername: appUser, LinkedAt: h.Now().UTC()}
	ev := storage.AuditEvent{Action: "app.link", ActorID: who.user.ID, Subject: who.user.ID,
		ClientID: c.ID, Detail: map[string]string{"app_username": appUser}}
	if err := h.Links.LinkApp(h.forms.Audited(r, ev), link); err != nil {
		return fmt.Errorf("account: store app link: %w", err)
	}
	h.Logger.InfoContext(ctx, "account linked", "user_id", who.user.ID, "client_id", c.ID)
	redirect(w, r, "/apps?done=linked")
	return nil
}

// submitUnlink answers POST /apps/{client}/unlink. Only the signed-in
// user's own link is deleted: the user id comes from the session, never
// from the form (ASVS 8.2.2).
func (h *Handler) submitUnlink(w http.ResponseWriter, r *http.Request) (web.Done, error) {
	who := signedFrom(r)
	ctx := r.Context()
	id := r.PathValue("client")
	if len(id) > 256 {
		return web.Done{}, &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found"}
	}
	// Unlinking needs no listing check: a user may always drop their own
	// link, even to an app that is no longer offered to them.
	if _, err := h.Links.AppLink(ctx, who.user.ID, id); errors.Is(err, storage.ErrNotFound) {
		return web.Redirect("/apps", nil), nil
	} else if err != nil {
		return web.Done{}, fmt.Errorf("account: load app link: %w", err)
	}
	// A link gone meanwhile deletes no row: no event.
	ev := storage.AuditEvent{Action: "app.unlink", ActorID: who.user.ID, Subject: who.user.ID, ClientID: id}
	if err := h.Links.UnlinkApp(h.forms.Audited(r, ev), who.user.ID, id); err != nil {
		return web.Done{}, fmt.Errorf("account: delete app link: %w", err)
	}
	return web.Redirect("/apps?done=unlinked", nil), nil
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
