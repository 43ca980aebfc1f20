package registration

import (
	"context"
	"strings"

	"satupintu/mail"
	"satupintu/storage"
	"satupintu/templates"
)

// The mails that end a submission. Every submission sends exactly one of
// them to the verified address, and the page answers the same either way
// (wizard_submit.go): the mail is where the registrant learns whether a
// registration was created.

// receivedMail tells the registrant the service number of the
// registration being created; it is queued in the same transaction.
// joins says the NIB already has an organization: only this mail, to the
// verified address, says so (join.go).
func (h *Handler) receivedMail(g storage.Registration, joins bool) mail.Message {
	track := h.link("/track")
	return h.bilingual(g.Email, "reg.mail.received.subject", func(lang string) string {
		body := h.Pages.T(lang, "reg.mail.received.body", g.FullName, g.OrgName, g.ServiceNumber, track)
		if joins {
			body += "\n\n" + h.Pages.T(lang, "company.join.notice")
		}
		return body
	})
}

// revisionMail tells the registrant what the officer asks to correct, and
// where to correct it (tracking, with the service number and email).
func (h *Handler) revisionMail(g storage.Registration, note string) mail.Message {
	track := h.link("/track")
	return h.bilingual(g.Email, "review.mail.revision.subject", func(lang string) string {
		return h.Pages.T(lang, "review.mail.revision.body", g.FullName, g.OrgName, g.ServiceNumber, note, track)
	})
}

// rejectionMail tells the registrant the registration was rejected, and
// the officer's reason.
func (h *Handler) rejectionMail(g storage.Registration, reason string) mail.Message {
	return h.bilingual(g.Email, "review.mail.rejected.subject", func(lang string) string {
		return h.Pages.T(lang, "review.mail.rejected.body", g.FullName, g.OrgName, g.ServiceNumber, reason, h.link("/register"))
	})
}

// mailHook queues m in the transaction of the change it belongs to.
func (h *Handler) mailHook(m func() mail.Message) storage.TxHook {
	return func(ctx context.Context, tx storage.Tx) error {
		return h.Mail.Mail(ctx, tx, m())
	}
}

// sendDuplicateMail tells the registrant why no registration was created,
// by the reason alreadyRegistered found, and what to do instead: sign in
// or reset the password, or track the registration in progress. (A known
// NIB is no reason: it joins the company, join.go.)
func (h *Handler) sendDuplicateMail(ctx context.Context, reason string, d *draft) error {
	v := d.Values
	login, reset := h.link("/login"), h.link("/password/forgot")
	var (
		key  string
		args []any
	)
	switch reason {
	case "user_exists":
		key, args = "reg.mail.duplicate.user", []any{v[FieldFullName], login, reset}
	default: // "open_registration"
		key, args = "reg.mail.duplicate.open", []any{v[FieldFullName], h.link("/track")}
	}
	return h.sendBilingual(ctx, v[FieldEmail], "reg.mail.duplicate.subject", func(lang string) string {
		return h.Pages.T(lang, key, args...)
	})
}

// sendRevisionTakenMail tells the address a correction named that it
// already has an account, or a registration in progress (reason as
// revisionEmailTaken), and what to do. It names no service number: the
// address may not be the registrant's.
func (h *Handler) sendRevisionTakenMail(ctx context.Context, reason string, g storage.Registration) error {
	key, args := "review.mail.revision_taken.open", []any{g.FullName, h.link("/track")}
	if reason == "user_exists" {
		key, args = "review.mail.revision_taken.user", []any{g.FullName, h.link("/login"), h.link("/password/forgot")}
	}
	return h.sendBilingual(ctx, g.Email, "reg.mail.duplicate.subject", func(lang string) string {
		return h.Pages.T(lang, key, args...)
	})
}

// sendBilingual queues one mail that belongs to no stored change (the
// verification code, the answer to a duplicate submission).
func (h *Handler) sendBilingual(ctx context.Context, to, subjectKey string, body func(lang string) string) error {
	// Detached: a closed tab must not undo a mail the page promised.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mailTimeout)
	defer cancel()
	return h.Mail.Mail(ctx, nil, h.bilingual(to, subjectKey, body))
}

// bilingual builds one mail, Indonesian first and English below, as every
// mail of the provider does: the registrant's language is not known when
// the mail is read.
func (h *Handler) bilingual(to, subjectKey string, body func(lang string) string) mail.Message {
	return mail.Message{
		To:      to,
		Subject: h.Pages.T(templates.LangID, subjectKey) + " / " + h.Pages.T(templates.LangEN, subjectKey),
		Text:    body(templates.LangID) + "\n\n----\n\n" + body(templates.LangEN),
	}
}

// link is an absolute URL of path on this provider, for mails.
func (h *Handler) link(path string) string {
	return strings.TrimRight(h.BaseURL, "/") + path
}
