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

// mailTimeout bounds queuing one mail, so a stuck database cannot hold the
// request for long.
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

// sendBilingual queues one mail, Indonesian first and English below, in
// the outbox, which delivers it with retries. Queuing is detached from the
// request's cancellation: a closed tab must not lose the message.
func (h *Handler) sendBilingual(ctx context.Context, to, subjectKey string, body func(lang string) string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mailTimeout)
	defer cancel()
	return h.Mail.Mail(ctx, nil, mail.Message{
		To:      to,
		Subject: h.Pages.T(templates.LangID, subjectKey) + " / " + h.Pages.T(templates.LangEN, subjectKey),
		Text:    body(templates.LangID) + "\n\n----\n\n" + body(templates.LangEN),
	})
}

// link is an absolute URL of path on this provider, for mails.
func (h *Handler) link(path string) string {
	return strings.TrimRight(h.BaseURL, "/") + path
}
