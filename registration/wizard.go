package registration

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"satupintu/captcha"
	"satupintu/web"
)

// The sign-up wizard (the 2023 manual, "Tata Cara Pendaftaran" steps
// 1–18): an overview of requirements and terms at /register, then one page
// per step at /register/{step}. It is plain server-rendered HTML that
// works without JavaScript. Every step posts to its own URL; Next
// validates and moves on, Back saves what was typed and moves back, and
// both keep the draft in the ephemeral store (wizard_draft.go). The rules
// of the steps are in wizard_steps.go, the upload in wizard_upload.go and
// the submission in wizard_submit.go.

// Pages of the wizard, checked at Mount.
const (
	pageOverview = "register"
	pageStep     = "register_step"
	pageDiscard  = "register_discard"
	pageDone     = "register_done"
)

// overviewPage is the data of the "register" page.
type overviewPage struct {
	ContinueURL string // the first incomplete step of a draft in progress
	AlertKey    string // the draft expired
	InfoKey     string // the draft was discarded
}

// showOverview answers GET /register: requirements and terms (manual §4)
// and the way in.
func (h *Handler) showOverview(w http.ResponseWriter, r *http.Request) error {
	_, d, err := h.loadDraft(r.Context(), r)
	if errors.Is(err, errDraftExpired) {
		return h.showExpired(w, r)
	}
	if err != nil {
		return err
	}
	page := overviewPage{}
	if d != nil {
		page.ContinueURL = stepURL(steps[firstIncomplete(d)].slug)
	}
	if r.URL.Query().Get("dibatalkan") == "1" {
		page.InfoKey = "reg.discarded"
	}
	return h.render.Render(w, r, http.StatusOK, pageOverview, page)
}

// showExpired clears the stale cookie and explains, on the overview, that
// the draft is gone and the registrant has to start again.
func (h *Handler) showExpired(w http.ResponseWriter, r *http.Request) error {
	if err := h.setCookie(w, h.draftCookie(), nil, -1); err != nil {
		return err
	}
	return h.render.Render(w, r, http.StatusOK, pageOverview, overviewPage{AlertKey: "reg.draft_expired"})
}

func stepURL(slug string) string { return "/register/" + slug }

// errNoStep is the 404 for an unknown step name.
func errNoStep(slug string) error {
	return &web.Error{Status: http.StatusNotFound, MessageKey: "error.not_found", Err: fmt.Errorf("registration: no step %q", slug)}
}

// showStep answers GET /register/{step}: the step's form with the saved
// values, or a redirect to the first step not yet complete.
func (h *Handler) showStep(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("step")
	if slug == StepDone {
		return h.showDone(w, r)
	}
	i := stepIndex(slug)
	if i < 0 {
		return errNoStep(slug)
	}
	_, d, err := h.loadDraft(r.Context(), r)
	if errors.Is(err, errDraftExpired) {
		return h.showExpired(w, r)
	}
	if err != nil {
		return err
	}
	if d == nil {
		d = newDraft(h.Now().UTC()) // shown, not stored: GET changes nothing
	}
	if first := firstIncomplete(d); i > first {
		redirect(w, r, stepURL(steps[first].slug))
		return nil
	}
	if slug == StepConfirm {
		return h.renderConfirm(w, r, http.StatusOK, d, "")
	}
	return h.renderStep(w, r, http.StatusOK, i, d, nil)
}

// postStep answers POST /register/{step}.
func (h *Handler) postStep(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("step")
	i := stepIndex(slug)
	if i < 0 {
		return errNoStep(slug)
	}
	if slug == StepDocument {
		return h.postDocument(w, r)
	}
	if err := parseWizardForm(r); err != nil {
		return err
	}
	if err := h.CSRF.Verify(r); err != nil {
		return err
	}
	ctx := r.Context()
	id, d, err := h.loadDraft(ctx, r)
	if errors.Is(err, errDraftExpired) {
		if slug == StepConfirm {
			// A second "Yes, submit" after the first went through finds
			// the first one's result.
			if email, ok := h.submitted(ctx, id); ok {
				return h.finishSubmission(w, r, email)
			}
		}
		return h.showExpired(w, r)
	}
	if err != nil {
		return err
	}
	if d == nil {
		d = newDraft(h.Now().UTC())
	}
	if first := firstIncomplete(d); i > first {
		redirect(w, r, stepURL(steps[first].slug))
		return nil
	}
	action := r.PostForm.Get("action")
	switch slug {
	case StepConfirm:
		return h.postConfirm(w, r, id, d, action)
	case StepVerify:
		return h.postVerify(w, r, id, d)
	}

	d.apply(steps[i], r.PostForm.Get)
	if action == "back" {
		// Back keeps what was typed, valid or not, and moves on without a
		// word: the registrant is going elsewhere, not finishing here.
		if _, err := h.saveDraft(w, r, id, d); err != nil {
			return err
		}
		redirect(w, r, backURL(i))
		return nil
	}
	if slug == StepContact && captcha.Switching(r) {
		// "Use an image code" or "New image": the step again, keeping
		// what was typed, with the other kind of check.
		if _, err := h.saveDraft(w, r, id, d); err != nil {
			return err
		}
		return h.renderStep(w, r, http.StatusOK, i, d, nil)
	}
	checked, errs := validateStep(d, i)
	if len(errs) > 0 {
		if _, err := h.saveDraft(w, r, id, d); err != nil {
			return err
		}
		return h.renderStep(w, r, http.StatusOK, i, d, errs)
	}
	if slug == StepContact {
		alert, err := h.codeAfterContact(r, id, checked)
		if err != nil {
			return err
		}
		if alert != "" {
			// The check was not passed: no code was sent, and the step
			// is shown again with a new challenge.
			if _, err := h.saveDraft(w, r, id, d); err != nil {
				return err
			}
			return h.renderContact(w, r, http.StatusOK, d, nil, alert)
		}
	}
	if _, err := h.saveDraft(w, r, id, checked); err != nil {
		return err
	}
	redirect(w, r, stepURL(steps[i+1].slug))
	return nil
}

func backURL(i int) string {
	if i == 0 {
		return "/register"
	}
	return stepURL(steps[i-1].slug)
}

// parseWizardForm parses a posted urlencoded form (web.ParseForm: 413 over
// the limit, 400 when broken); a repeated field is a bad request too: every field of the wizard is single-valued, and taking the first
// or last of several would be a guess an attacker could steer (ASVS 15.3.7).
func parseWizardForm(r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if err := singleValuedForm(r.PostForm); err != nil {
		return &web.Error{Status: http.StatusBadRequest, MessageKey: "error.bad_request", Err: err}
	}
	return nil
}

func singleValuedForm(form url.Values) error {
	for k, v := range form {
		if len(v) > 1 {
			return fmt.Errorf("registration: field %q posted %d times", k, len(v))
		}
	}
	return nil
}

// stepPage is the data of the "register_step" page: one step's form, or
// the confirmation.
type stepPage struct {
	Step      string
	TitleKey  string
	IntroKey  string
	Number    int
	Total     int
	Steps     []stepLink
	Action    string
	Multipart bool
	Back      bool
	AlertKey  string // a problem, above the form
	InfoKey   string // news, above the form ("a new code was sent")
	// PrefilledBy names the upstream provider whose name and NIK the
	// person step shows (prefill.go).
	PrefilledBy string
	Fields      []fieldView
	Document    *wizardDocumentView
	MaxSize     string
	Summary     []summarySection // konfirmasi only
	// Captcha is the security check (wizard_captcha.go): of the form on
	// kontak and konfirmasi, of the "Send a new code" form on verifikasi.
	Captcha *captcha.Challenge
	// verifikasi only (wizard_verify.go): where the code went, and the
	// "Send a new code" form.
	CodeSentTo string
	Resend     bool
}

// stepLink is one entry of the step indicator.
type stepLink struct {
	Number   int
	TitleKey string
	State    string // "done", "current" or "todo"
	URL      string // set for steps the registrant may go back to
}

// fieldView is one input as the template draws it. Error is already
// translated: a message may carry arguments (the maximum length).
type fieldView struct {
	Name         string
	Kind         string
	LabelKey     string
	HintKey      string
	Value        string
	Checked      bool
	Max          int
	Autocomplete string
	InputMode    string
	Options      []optionView
	Error        string
	DescribedBy  string // ids of the hint and the error, for aria-describedby
	Required     bool
}

type optionView struct {
	ID       string
	Code     string
	LabelKey string
	Checked  bool
}

// wizardDocumentView describes the stored letter.
type wizardDocumentView struct {
	FileName string
	Size     string
	Type     string
}

type summarySection struct {
	TitleKey string
	EditURL  string
	Rows     []summaryRow
}

// summaryRow is a label and a value; ValueKey, when set, is the catalog key
// of an option's label and is shown instead of Value.
type summaryRow struct {
	LabelKey string
	Value    string
	ValueKey string
}

// newStepPage fills what every wizard page shares: title, position and
// the step indicator.
func newStepPage(i int, d *draft) stepPage {
	s := steps[i]
	first := firstIncomplete(d)
	page := stepPage{
		Step:     s.slug,
		TitleKey: "reg.step." + s.slug,
		IntroKey: "reg.intro." + s.slug,
		Number:   i + 1,
		Total:    len(steps),
		Action:   stepURL(s.slug),
		Back:     i > 0,
	}
	if s.slug == StepPerson && d.Upstream != nil && (d.Upstream.FullName != "" || d.Upstream.NIK != "") {
		page.PrefilledBy = d.Upstream.VerifiedBy
	}
	for j, o := range steps {
		l := stepLink{Number: j + 1, TitleKey: "reg.step." + o.slug, State: "todo"}
		switch {
		case j == i:
			l.State = "current"
		case j < first:
			l.State = "done"
		}
		if j != i && j <= first {
			l.URL = stepURL(o.slug)
		}
		page.Steps = append(page.Steps, l)
	}
	return page
}

// renderStep draws step i with d's values and, next to their fields, the
// errors errs.
func (h *Handler) renderStep(w http.ResponseWriter, r *http.Request, status, i int, d *draft, errs []*FieldError) error {
	switch steps[i].slug {
	case StepContact:
		return h.renderContact(w, r, status, d, errs, "")
	case StepVerify:
		return h.renderVerify(w, r, status, d, errs, "")
	}
	return h.renderStepWith(w, r, status, i, d, errs, nil)
}

// renderStepWith is renderStep with a last change to the page by edit.
func (h *Handler) renderStepWith(w http.ResponseWriter, r *http.Request, status, i int, d *draft, errs []*FieldError, edit func(*stepPage)) error {
	lang := web.Locale(r)
	page := newStepPage(i, d)
	byField := map[string]string{}
	for _, e := range errs {
		if _, seen := byField[e.Field]; !seen {
			byField[e.Field] = h.Pages.T(lang, e.Key, e.Args...)
		}
	}
	if len(errs) > 0 {
		page.AlertKey = "reg.fix_fields"
	}
	for _, f := range steps[i].fields {
		v := fieldView{
			Name:         f.name,
			Kind:         f.kind,
			LabelKey:     "reg.field." + f.name,
			Value:        d.Values[f.name],
			Max:          f.max,
			Autocomplete: f.autocomplete,
			InputMode:    f.inputMode,
			Error:        byField[f.name],
			Required:     true,
		}
		var describedBy []string
		if f.hint {
			v.HintKey = "reg.hint." + f.name
			describedBy = append(describedBy, f.name+"-hint")
		}
		if v.Error != "" {
			describedBy = append(describedBy, f.name+"-error")
		}
		v.DescribedBy = strings.Join(describedBy, " ")
		switch f.kind {
		case "radio":
			for _, o := range f.options {
				v.Options = append(v.Options, optionView{
					ID: f.name + "-" + o.Code, Code: o.Code, LabelKey: o.Label, Checked: v.Value == o.Code,
				})
			}
		case "checkbox":
			v.Checked = d.Terms
		case "file":
			page.Multipart = true
			page.MaxSize = formatSize(lang, MaxDocumentSize)
			if d.Document != nil {
				page.Document = newWizardDocumentView(lang, d.Document)
				v.Required = false // keeping the stored letter is fine
			}
			if d.DocumentLost && page.AlertKey == "" {
				page.AlertKey = "reg.document_lost"
			}
		}
		if f.name == FieldCountry && v.Value == "" {
			v.Value = "ID"
		}
		page.Fields = append(page.Fields, v)
	}
	if edit != nil {
		edit(&page)
	}
	return h.render.Render(w, r, status, pageStep, page)
}

func newWizardDocumentView(lang string, doc *draftDocument) *wizardDocumentView {
	types := map[string]string{TypePDF: "PDF", TypeJPEG: "JPEG", TypePNG: "PNG"}
	return &wizardDocumentView{FileName: doc.FileName, Size: formatSize(lang, doc.Size), Type: types[doc.ContentType]}
}

// renderConfirm draws the confirmation: everything the draft holds, in
// normal form, with a way back to each step. alertKey is a problem found
// on submission.
func (h *Handler) renderConfirm(w http.ResponseWriter, r *http.Request, status int, d *draft, alertKey string) error {
	lang := web.Locale(r)
	i := stepIndex(StepConfirm)
	page := newStepPage(i, d)
	page.AlertKey = alertKey
	c, bad := normalized(d)
	if c == nil { // cannot happen behind the step gate; never show half a summary
		redirect(w, r, stepURL(steps[bad].slug))
		return nil
	}
	v := c.Values
	row := func(name string) summaryRow { return summaryRow{LabelKey: "reg.field." + name, Value: v[name]} }
	option := func(name string, opts Options) summaryRow {
		for _, o := range opts {
			if o.Code == v[name] {
				return summaryRow{LabelKey: "reg.field." + name, ValueKey: o.Label}
			}
		}
		return row(name)
	}
	npwp := row(FieldNPWP)
	npwp.Value = printedNPWP(v[FieldNPWP])
	section := func(slug string, rows ...summaryRow) summarySection {
		return summarySection{TitleKey: "reg.step." + slug, EditURL: stepURL(slug), Rows: rows}
	}
	page.Summary = []summarySection{
		section(StepPurpose, option(FieldPurpose, Purposes)),
		section(StepTrader, option(FieldTraderType, TraderTypes)),
		section(StepNIB, option(FieldNIBType, NIBTypes), row(FieldNIB)),
		section(StepNPWP, option(FieldNPWPType, NPWPTypes), npwp),
		section(StepOrg, row(FieldOrgName), option(FieldBusinessType, BusinessTypes)),
		section(StepAddress, row(FieldStreet), row(FieldCity), row(FieldProvince), row(FieldPostalCode), row(FieldCountry)),
		section(StepPerson, row(FieldFullName), row(FieldPosition), option(FieldIdentityType, IdentityTypes), row(FieldIdentityNumber)),
		section(StepContact, row(FieldEmail), row(FieldPhone)),
	}
	page.Document = newWizardDocumentView(lang, c.Document)
	var err error
	if page.Captcha, err = h.stepCaptcha(r, alertKey); err != nil {
		return err
	}
	return h.render.Render(w, r, status, pageStep, page)
}

// printedNPWP prints a 15-digit NPWP the way it appears on the card,
// 99.999.999.9-999.999; other values are returned as they are.
func printedNPWP(s string) string {
	if len(s) != 15 || !allDigits(s) {
		return s
	}
	return s[0:2] + "." + s[2:5] + "." + s[5:8] + "." + s[8:9] + "-" + s[9:12] + "." + s[12:15]
}

// formatSize prints a byte count for people, with the language's decimal
// separator: "1,0 MB" in Indonesian, "1.0 MB" in English.
func formatSize(lang string, n int) string {
	var s string
	switch {
	case n < 1<<10:
		return strconv.Itoa(n) + " B"
	case n < 1<<20:
		s = strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KB"
	default:
		s = strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	}
	if lang == "id" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// postConfirm answers the confirmation page's buttons: submit; "Batal",
// which in the 2023 manual means "go back and change" (back, to the step
// before, keeping everything); and, as a separate explicit act, discard
// (cancel asks first, discard is the answer).
func (h *Handler) postConfirm(w http.ResponseWriter, r *http.Request, id string, d *draft, action string) error {
	switch action {
	case "submit":
		return h.submit(w, r, id, d)
	case "back":
		redirect(w, r, backURL(stepIndex(StepConfirm)))
		return nil
	case "cancel":
		return h.render.Render(w, r, http.StatusOK, pageDiscard, nil)
	case "discard":
		if err := h.deleteDraft(r.Context(), w, id); err != nil {
			return err
		}
		h.Logger.InfoContext(r.Context(), "registration draft discarded")
		redirect(w, r, "/register?dibatalkan=1")
		return nil
	}
	if captcha.Switching(r) { // "New image" or "Text question"
		return h.renderConfirm(w, r, http.StatusOK, d, "")
	}
	redirect(w, r, stepURL(StepConfirm))
	return nil
}

// donePage is the data of the "register_done" page.
type donePage struct {
	Email string // where the outcome was mailed
}

// showDone answers GET /register/selesai: the submission this browser just
// made was received and its outcome mailed to the verified address, for
// as long as the done cookie lasts. The page is the same whether a
// registration was created or the email or NIB already had one (no
// enumeration): the service number, or what to do instead, is in the mail.
// Without the cookie there is nothing to show, and the registrant goes
// back to the start.
func (h *Handler) showDone(w http.ResponseWriter, r *http.Request) error {
	email, ok := h.done(r)
	if !ok {
		redirect(w, r, "/register")
		return nil
	}
	return h.render.Render(w, r, http.StatusOK, pageDone, donePage{Email: email})
}
