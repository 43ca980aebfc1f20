package account

import (
	"context"
	"strings"
	"time"

	"satupintu/mail"
	"satupintu/storage"
	"satupintu/templates"
)

// The company's mails, one small function each, Indonesian first and
// English below, as registration's sendBilingual sends them, so each can
// move to the mail outbox as it is.

// mailTimeout bounds one send, so a stuck mail server cannot hold the
// administrator's request for long.
const mailTimeout = 30 * time.Second

// sendInvitationMail sends the invitation link.
func (h *Handler) sendInvitationMail(ctx context.Context, inv storage.Invitation, org storage.Organization, by storage.User, secret string) error {
	link := h.link("/invitation?token=" + secret)
	expires := formatTime(inv.ExpiresAt)
	return h.sendBilingual(ctx, inv.Email, "company.mail.invite.subject", func(lang string) string {
		return h.Pages.T(lang, "company.mail.invite.body", by.Name, org.Name, link, expires)
	})
}

// sendRemovalMail tells a removed member that their access for the
// company ended.
func (h *Handler) sendRemovalMail(ctx context.Context, u storage.User, org storage.Organization) error {
	if u.Email == "" {
		return nil
	}
	return h.sendBilingual(ctx, u.Email, "company.mail.removed.subject", func(lang string) string {
		return h.Pages.T(lang, "company.mail.removed.body", u.Name, org.Name)
	})
}

// sendBilingual sends one mail, Indonesian first and English below. The
// send is detached from the request's cancellation: a closed tab must not
// cut a message off half-way.
func (h *Handler) sendBilingual(ctx context.Context, to, subjectKey string, body func(lang string) string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mailTimeout)
	defer cancel()
	return h.Mail.Send(ctx, mail.Message{
		To:      to,
		Subject: h.Pages.T(templates.LangID, subjectKey) + " / " + h.Pages.T(templates.LangEN, subjectKey),
		Text:    body(templates.LangID) + "\n\n----\n\n" + body(templates.LangEN),
	})
}

// link is an absolute URL of path on this provider, for mails.
func (h *Handler) link(path string) string {
	return strings.TrimRight(h.BaseURL, "/") + path
}
