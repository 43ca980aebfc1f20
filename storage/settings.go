package storage

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Text is one operator-edited text in each catalog language. Indonesian is
// required wherever the text is; English may be empty and then falls back
// to Indonesian, as the catalogs' languages do.
type Text struct {
	ID string `json:"id"`
	EN string `json:"en,omitempty"`
}

// In returns the text in lang ("id" or "en"), Indonesian for any other
// language or when the English text is empty.
func (t Text) In(lang string) string {
	if lang == "en" && t.EN != "" {
		return t.EN
	}
	return t.ID
}

// FAQEntry is one question of the Help Center.
type FAQEntry struct {
	Question Text `json:"question"`
	Answer   Text `json:"answer"`
}

// Kinds of Help Center link.
const (
	LinkGuide = "guide" // a written guide (a page, a PDF)
	LinkVideo = "video" // a video tutorial
)

// HelpLink is a link of the Help Center to a guide or a video tutorial.
type HelpLink struct {
	Title Text   `json:"title"`
	URL   string `json:"url"`  // https, or a path on this site
	Kind  string `json:"kind"` // LinkGuide or LinkVideo
}

// Banner is the announcement shown at the top of every page while it is
// on and, if Until is set, before Until (planned maintenance, a deadline).
type Banner struct {
	Text  Text      `json:"text"`
	On    bool      `json:"on"`
	Until time.Time `json:"until,omitzero"`
}

// Active reports whether the banner shows at now.
func (b Banner) Active(now time.Time) bool {
	return b.On && b.Text.ID != "" && (b.Until.IsZero() || now.Before(b.Until))
}

// Settings are what operators edit in the console rather than in the
// message catalogs, which keep only interface text: the service's name,
// the Contact Center's details, the Help Center's questions and links, and
// the announcement banner. One document, replaced whole on each update.
type Settings struct {
	// Version counts the stored updates: 0 is the defaults, never stored.
	// An editor sends back the version it showed, and its update function
	// returns ErrConflict when it differs, so no edit silently undoes
	// another.
	Version   int64     `json:"-"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	UpdatedBy string    `json:"updated_by,omitempty"` // user id, "cli" for the command line

	ServiceName    Text       `json:"service_name"`
	ContactEmail   Text       `json:"contact_email"`
	ContactPhone   Text       `json:"contact_phone"`
	ContactHours   Text       `json:"contact_hours"`
	ContactAddress Text       `json:"contact_address"`
	FAQ            []FAQEntry `json:"faq,omitempty"`
	Links          []HelpLink `json:"links,omitempty"`
	Banner         Banner     `json:"banner"`
}

// Clone returns a copy that shares no slice with s.
func (s Settings) Clone() Settings {
	s.FAQ = slices.Clone(s.FAQ)
	s.Links = slices.Clone(s.Links)
	return s
}

// SettingsStore stores the one Settings document.
type SettingsStore interface {
	// Settings returns the stored settings, or DefaultSettings (Version 0)
	// when none were ever stored.
	Settings(ctx context.Context) (Settings, error)
	// UpdateSettings applies fn to the current settings inside a
	// transaction, checks the result with ValidateSettings and stores it
	// with Version one higher. An error from fn, or the *SettingsError,
	// aborts the update and is returned as is.
	UpdateSettings(ctx context.Context, fn func(*Settings) error) error
}

// Bounds of the settings: a page must stay a page, and a console session
// must not be able to store megabytes that every page then carries.
const (
	MaxSettingsName    = 60
	MaxSettingsLine    = 200 // email, phone, hours, a question, a link title
	MaxSettingsAddress = 300
	MaxSettingsBanner  = 500
	MaxSettingsAnswer  = 2000
	MaxSettingsURL     = 2000
	MaxSettingsFAQ     = 50
	MaxSettingsLinks   = 30
)

// Message keys (templates/messages/*/settings.json) of the settings'
// validation problems.
const (
	SettingsRequired = "settings.error.required"
	SettingsTooLong  = "settings.error.too_long"
	SettingsEmail    = "settings.error.email"
	SettingsURL      = "settings.error.url"
	SettingsKind     = "settings.error.kind"
	SettingsTooMany  = "settings.error.too_many"
	SettingsText     = "settings.error.text"
)

// SettingsProblem is one invalid field: Field names it as a form would
// ("contact_email.en", "faq.2.answer.id"), MessageKey says what is wrong.
type SettingsProblem struct {
	Field      string
	MessageKey string
}

// SettingsError lists every problem ValidateSettings found, so a form can
// mark them all at once.
type SettingsError struct {
	Problems []SettingsProblem
}

func (e *SettingsError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.MessageKey
	}
	return "invalid settings: " + strings.Join(parts, ", ")
}

// ErrInvalidSettings is matched (errors.Is) by every *SettingsError.
var ErrInvalidSettings = errors.New("storage: invalid settings")

func (e *SettingsError) Is(target error) bool { return target == ErrInvalidSettings }

// ValidateSettings checks s: Indonesian texts where required, lengths,
// emails, link addresses (https or a path on this site: never
// javascript: or a scheme-relative //host), link kinds and the number of
// entries. The console, the CLI and the stores call it; nil means valid.
func ValidateSettings(s Settings) error {
	v := &settingsCheck{}
	v.text("service_name", s.ServiceName, true, MaxSettingsName, false)
	v.text("contact_email", s.ContactEmail, true, MaxSettingsLine, false)
	for _, e := range []struct{ lang, addr string }{{"id", s.ContactEmail.ID}, {"en", s.ContactEmail.EN}} {
		if e.addr != "" && !validEmail(e.addr) {
			v.add("contact_email."+e.lang, SettingsEmail)
		}
	}
	v.text("contact_phone", s.ContactPhone, false, MaxSettingsLine, false)
	v.text("contact_hours", s.ContactHours, false, MaxSettingsLine, false)
	v.text("contact_address", s.ContactAddress, false, MaxSettingsAddress, true)
	if len(s.FAQ) > MaxSettingsFAQ {
		v.add("faq", SettingsTooMany)
	}
	for i, e := range s.FAQ {
		v.text(fmt.Sprintf("faq.%d.question", i), e.Question, true, MaxSettingsLine, false)
		v.text(fmt.Sprintf("faq.%d.answer", i), e.Answer, true, MaxSettingsAnswer, true)
	}
	if len(s.Links) > MaxSettingsLinks {
		v.add("links", SettingsTooMany)
	}
	for i, l := range s.Links {
		f := fmt.Sprintf("links.%d", i)
		v.text(f+".title", l.Title, true, MaxSettingsLine, false)
		if !validLinkURL(l.URL) {
			v.add(f+".url", SettingsURL)
		}
		if l.Kind != LinkGuide && l.Kind != LinkVideo {
			v.add(f+".kind", SettingsKind)
		}
	}
	v.text("banner.text", s.Banner.Text, s.Banner.On, MaxSettingsBanner, false)
	if len(v.problems) > 0 {
		return &SettingsError{Problems: v.problems}
	}
	return nil
}

type settingsCheck struct{ problems []SettingsProblem }

func (v *settingsCheck) add(field, key string) {
	v.problems = append(v.problems, SettingsProblem{Field: field, MessageKey: key})
}

// text checks both languages of t; English may always be empty. Only
// multiline texts (an answer, an address) may hold line breaks.
func (v *settingsCheck) text(field string, t Text, required bool, maxLen int, multiline bool) {
	for _, e := range []struct{ lang, s string }{{"id", t.ID}, {"en", t.EN}} {
		f := field + "." + e.lang
		switch {
		case e.s == "" && required && e.lang == "id":
			v.add(f, SettingsRequired)
		case !utf8.ValidString(e.s) || strings.ContainsFunc(e.s, isControl) || (!multiline && strings.ContainsRune(e.s, '\n')):
			v.add(f, SettingsText)
		case utf8.RuneCountInString(e.s) > maxLen:
			v.add(f, SettingsTooLong)
		case e.s != strings.TrimSpace(e.s) || (e.s != "" && strings.TrimSpace(e.s) == ""):
			v.add(f, SettingsText)
		}
	}
}

// isControl rejects control characters other than the newline an answer
// may hold: they have no place on a page and could hide text in review.
// Bidirectional overrides are refused for the same reason.
func isControl(r rune) bool {
	return r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069))
}

// validEmail accepts a bare address (no display name), as a mailto: link
// needs.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && strings.Contains(s, "@")
}

// validLinkURL accepts an absolute https URL with a host, or a path on
// this site ("/help/guide.pdf").
func validLinkURL(s string) bool {
	if s == "" || len(s) > MaxSettingsURL || strings.ContainsFunc(s, isControl) || strings.ContainsAny(s, " \\\n") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil {
		return false
	}
	if u.Scheme == "" {
		return u.Host == "" && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//")
	}
	return u.Scheme == "https" && u.Host != "" && u.Opaque == ""
}

// DefaultSettings are the settings before any operator edits them: the
// placeholder details the catalogs carried, so pages look as they did.
func DefaultSettings() Settings {
	return Settings{
		ServiceName:    Text{ID: "satupintu", EN: "satupintu"},
		ContactEmail:   Text{ID: "helpdesk@insw.example", EN: "helpdesk@insw.example"},
		ContactPhone:   Text{ID: "+62 21 0000 0000", EN: "+62 21 0000 0000"},
		ContactHours:   Text{ID: "Senin–Jumat, 08.00–17.00 WIB, kecuali hari libur nasional", EN: "Monday–Friday, 08:00–17:00 WIB, except public holidays"},
		ContactAddress: Text{ID: "Helpdesk INSW, Jakarta, Indonesia", EN: "INSW Helpdesk, Jakarta, Indonesia"},
		FAQ: []FAQEntry{
			{Question: Text{ID: "Siapa yang dapat mendaftar?", EN: "Who can register?"}, Answer: Text{ID: "Setiap pelaku usaha yang memiliki NIB (importir, eksportir, PPJK dan lainnya) dapat mendaftar. Pendaftar memerlukan surat kuasa dari perusahaan.", EN: "Any business holding a NIB (importers, exporters, customs brokers and others) can register. The registrant needs a letter of authorisation from the company."}},
			{Question: Text{ID: "Bagaimana cara melacak pendaftaran?", EN: "How do I track my registration?"}, Answer: Text{ID: "Masukkan nomor layanan yang Anda terima saat mengirim pendaftaran, bersama email yang didaftarkan, di halaman lacak pendaftaran.", EN: "Enter the service number you received on submitting, with the email address you registered, on the tracking page."}},
			{Question: Text{ID: "Bagaimana cara masuk?", EN: "How do I sign in?"}, Answer: Text{ID: "Klik Masuk di halaman utama atau di aplikasi yang terhubung, lalu isikan username (atau email) dan kata sandi satupintu. Satu kali masuk membuka semua aplikasi yang terhubung sampai Anda keluar.", EN: "Click Sign in on the home page or in any connected application and enter your satupintu username (or email) and password. One sign-in opens every connected application until you sign out."}},
			{Question: Text{ID: "Apa itu Aplikasi Anda?", EN: "What is Your Apps?"}, Answer: Text{ID: "Daftar aplikasi yang dapat dibuka dengan akun Anda. Aplikasi yang tampil dapat bergantung pada jenis trader perusahaan Anda.", EN: "The list of applications your account may open. Which applications appear can depend on your company's trader type."}},
			{Question: Text{ID: "Apa itu \"Hubungkan akun\" (registrasi SSO)?", EN: "What is \"Link account\" (SSO registration)?"}, Answer: Text{ID: "Jika Anda sudah memiliki akun di sebuah aplikasi, misalnya e-BPOM, hubungkan sekali: isikan username dan kata sandi aplikasi tersebut, aplikasi memeriksanya, dan sejak itu aplikasi mengenali Anda saat datang melalui satupintu. satupintu menyimpan username Anda di aplikasi itu, tidak pernah kata sandinya.", EN: "If you already have an account in an application, such as e-BPOM, link it once: enter that application's username and password, the application checks them, and from then on it recognises you when you arrive through satupintu. satupintu keeps your username in that application, never its password."}},
			{Question: Text{ID: "Bagaimana mengaktifkan verifikasi dua langkah?", EN: "How do I turn on two-step verification?"}, Answer: Text{ID: "Di bagian Keamanan, pilih verifikasi dua langkah, pindai kode QR dengan aplikasi autentikator, lalu isikan kode yang ditampilkan. Simpan kode pemulihan di tempat yang aman.", EN: "Under Security, choose two-step verification, scan the QR code with an authenticator app and enter the code it shows. Keep the recovery codes somewhere safe."}},
			{Question: Text{ID: "Saya lupa kata sandi.", EN: "I forgot my password."}, Answer: Text{ID: "Klik \"Lupa kata sandi\" di halaman masuk dan isikan email Anda; tautan untuk membuat kata sandi baru akan dikirim. Tautan hanya berlaku sekali dan ada batas waktunya.", EN: "Click \"Forgot password\" on the sign-in page and enter your email address; a link to set a new password is sent to you. The link works once and expires."}},
			{Question: Text{ID: "Akun saya dinonaktifkan atau sudah kedaluwarsa.", EN: "My account is disabled or has expired."}, Answer: Text{ID: "Akun yang dinonaktifkan atau kedaluwarsa tidak dapat masuk. Hubungi Contact Center untuk memperpanjangnya.", EN: "A disabled or expired account cannot sign in. Contact the Contact Center to have it renewed."}},
			{Question: Text{ID: "Saya masuk di komputer yang bukan milik saya.", EN: "I signed in on a computer that is not mine."}, Answer: Text{ID: "Buka Sesi lalu keluarkan sesi tersebut, atau semua sesi lain sekaligus.", EN: "Open Sessions and sign out of that session, or of all other sessions at once."}},
		},
		Links: []HelpLink{
			{Title: Text{ID: "Lacak pendaftaran", EN: "Track registration"}, URL: "/track", Kind: LinkGuide},
			{Title: Text{ID: "Atur ulang kata sandi", EN: "Reset password"}, URL: "/password/forgot", Kind: LinkGuide},
		},
	}
}
