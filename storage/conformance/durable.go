package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"satupintu/storage"
)

// RunDurable runs the durable-store suite. open must return a fresh store
// that shares nothing with stores opened for other subtests; the suite
// closes it when the subtest ends.
func RunDurable(t *testing.T, open func(t *testing.T) storage.Durable) {
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Durable)
	}{
		{"ping", testPing},
		{"missing records are ErrNotFound", testDurableNotFound},
		{"user round trip", testUserRoundTrip},
		{"user uniqueness", testUserUniqueness},
		{"user by login", testUserByLogin},
		{"search users", testSearchUsers},
		{"update user", testUpdateUser},
		{"enrol, use and drop a second factor", testUpdateUserMFA},
		{"concurrent user updates lose nothing", testUpdateUserConcurrent},
		{"list users", testListUsers},
		{"organizations", testOrganizations},
		{"client round trip", testClientRoundTrip},
		{"update client", testUpdateClient},
		{"concurrent client updates lose nothing", testUpdateClientConcurrent},
		{"delete and list clients", testDeleteListClients},
		{"app links", testAppLinks},
		{"deleting a client deletes its app links", testAppLinksDeletedWithClient},
		{"passkeys", testPasskeys},
		{"deletion requests and anonymizing", testDeletionRequests},
		{"audit events about a person", testAuditAbout},
		{"registrations of a person", testRegistrationsOf},
		{"retention prunes registrations", testPruneRegistrations},
		{"live grants of a user, withdrawn per client", testUserGrants},
		{"company data corrections", testCorrectionRequests},
		{"concurrent passkeys stop at the limit", testPasskeysConcurrentLimit},
		{"upstream links", testUpstreamLinks},
		{"approval links the upstream identity", testApproveLinksUpstream},
		{"signing keys oldest first", testSigningKeys},
		{"signing key succession and retirement", testSigningKeySuccession},
		{"racing rotators create one successor", testSigningKeySuccessionConcurrent},
		{"sealing a signing key", testSealSigningKey},
		{"refresh token round trip", testRefreshTokenRoundTrip},
		{"rotate refresh token", testRotateRefreshToken},
		{"concurrent rotation has one winner", testRotateRefreshTokenConcurrent},
		{"concurrent refresh tokens are each stored", testCreateRefreshTokenConcurrent},
		{"revoke refresh tokens", testRevokeRefreshTokens},
		{"secrets", testSecrets},
		{"concurrent first secret use agrees", testSecretsConcurrent},
		{"replacing a secret needs its current value", testReplaceSecret},
		{"audit log", testAudit},
		{"audit retention prunes by time", testAuditPrune},
		{"audit events counted per hour", testAuditHourly},
		{"enabled admins counted", testCountEnabledAdmins},
		{"organizations found, corrected and their registrations", testOrganizationAdmin},
		{"audit observer sees stored actions", testAuditObserver},
		{"audit stores any bytes a client sent", testAuditAnyBytes},
		{"audit events are chained", testAuditChain},
		{"audit events commit with their write, once", testAuditWithAudit},
		{"audit chain holds under concurrent appends", testAuditConcurrent},
		{"audit listing filters and pages", testAuditFilter},
		{"audit retention records what it deleted", testAuditPruneRecorded},
		{"missing registrations are ErrNotFound", testRegistrationNotFound},
		{"registration round trip", testRegistrationRoundTrip},
		{"registration uniqueness", testRegistrationUniqueness},
		{"document size limit", testDocumentSize},
		{"open registration for NIB or email", testOpenRegistrationFor},
		{"list registrations newest first in pages", testListRegistrationsPaging},
		{"list registrations filters", testListRegistrationsFilters},
		{"update registration", testUpdateRegistration},
		{"registration history in order", testRegistrationEvents},
		{"draft documents", testDraftDocuments},
		{"approve registration", testApproveRegistration},
		{"approval is all or nothing", testApproveAtomic},
		{"concurrent decisions have one winner", testDecisionsConcurrent},
		{"action tokens", testActionTokens},
		{"memberships", testMemberships},
		{"a user created with an organization is its member", testCreateUserJoins},
		{"approval of a known NIB joins the organization", testApproveJoins},
		{"invitations", testInvitations},
		{"concurrent token consumption has one winner", testActionTokenConcurrent},
		{"transaction hooks commit and roll back with the change", testTxHooks},
		{"settings default, round trip and validation", testSettings},
		{"concurrent settings updates lose nothing", testSettingsConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.run(t, s)
		})
	}
}

func testPing(t *testing.T, s storage.Durable) {
	mustOK(t, "Ping", s.Ping(t.Context()))
}

func testDurableNotFound(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	// Something exists, so a backend cannot pass by having empty tables.
	u := fullUser()
	mustOK(t, "CreateUser", s.CreateUser(ctx, u))

	if got, err := s.UserByID(ctx, "missing"); !isNotFound(err) {
		t.Errorf("UserByID: got (%+v, %v), want ErrNotFound", got, err)
	}
	for _, login := range []string{"missing", "", "missing@example.com"} {
		if got, err := s.UserByLogin(ctx, login); !isNotFound(err) {
			t.Errorf("UserByLogin(%q): got (%+v, %v), want ErrNotFound", login, got, err)
		}
	}
	checkErr(t, "UpdateUser", s.UpdateUser(ctx, "missing", func(*storage.User) error {
		t.Error("UpdateUser called fn for a missing user")
		return nil
	}), storage.ErrNotFound)
	if got, err := s.OrganizationByID(ctx, "missing"); !isNotFound(err) {
		t.Errorf("OrganizationByID: got (%+v, %v), want ErrNotFound", got, err)
	}
	if got, err := s.OrganizationByNIB(ctx, "0000000000000"); !isNotFound(err) {
		t.Errorf("OrganizationByNIB: got (%+v, %v), want ErrNotFound", got, err)
	}
	if got, err := s.ClientByID(ctx, "missing"); !isNotFound(err) {
		t.Errorf("ClientByID: got (%+v, %v), want ErrNotFound", got, err)
	}
	checkErr(t, "UpdateClient", s.UpdateClient(ctx, "missing", func(*storage.Client) error {
		t.Error("UpdateClient called fn for a missing client")
		return nil
	}), storage.ErrNotFound)
	checkErr(t, "DeleteClient", s.DeleteClient(ctx, "missing"), storage.ErrNotFound)
	if got, err := s.RefreshTokenByID(ctx, "missing"); !isNotFound(err) {
		t.Errorf("RefreshTokenByID: got (%+v, %v), want ErrNotFound", got, err)
	}
	next := refreshToken("next", "fam", "client", "user", 1)
	checkErr(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, "missing", next), storage.ErrNotFound)
	if _, err := s.RefreshTokenByID(ctx, next.ID); !isNotFound(err) {
		t.Errorf("failed rotation stored its successor: RefreshTokenByID = %v, want ErrNotFound", err)
	}
	// Bulk revocations of nothing are not errors.
	mustOK(t, "RevokeRefreshTokenFamily", s.RevokeRefreshTokenFamily(ctx, "missing"))
	mustOK(t, "RevokeUserRefreshTokens", s.RevokeUserRefreshTokens(ctx, "missing"))
}

// fullUser returns a user with every field set, times in Jakarta.
func fullUser() storage.User {
	return storage.User{
		ID:             storage.NewID(),
		Username:       "Budi.Santoso",
		Email:          "Budi.Santoso@Example.co.id",
		EmailVerified:  true,
		Name:           "Budi Santoso",
		Phone:          "+6281234567890",
		Position:       "Direktur",
		PasswordHash:   "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		OrganizationID: "org-1",
		Roles:          []string{storage.RoleOfficer, storage.RoleAdmin},
		Disabled:       true,
		ExpiresAt:      instant(60 * 24 * 365),
		// Every byte value, NUL and invalid UTF-8 included: the secret is
		// ciphertext and must not pass through a text conversion.
		TOTPSecret:        []byte("\x00\x01totp\xff\xfe\x80ciphertext\x00"),
		MFAEnrolledAt:     instant(-30),
		RecoveryCodes:     []string{"$argon2id$v=19$m=19456,t=2,p=1$cmVjMQ$aGFzaDE", "$argon2id$v=19$m=19456,t=2,p=1$cmVjMg$aGFzaDI"},
		PasswordChangedAt: instant(-60),
		LockEpoch:         3,
		CreatedAt:         instant(0),
		UpdatedAt:         instant(1),
	}
}

// stored is how a user comes back: username and email lower case.
func stored(u storage.User) storage.User {
	u.Username, u.Email = strings.ToLower(u.Username), strings.ToLower(u.Email)
	return u
}

func testUserRoundTrip(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	full := fullUser()
	// The minimal user has zero times, no roles, no email, no second
	// factor: "never expires" and "not enrolled" must stay zero, not
	// become 1970.
	minimal := storage.User{ID: storage.NewID(), Username: "min"}
	// Empty, not nil: comes back as the minimal user's nil.
	empty := storage.User{ID: storage.NewID(), Username: "empty", TOTPSecret: []byte{}, RecoveryCodes: []string{}, Roles: []string{}}
	for _, u := range []storage.User{full, minimal, empty} {
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
		got, err := s.UserByID(ctx, u.ID)
		mustOK(t, "UserByID", err)
		checkEqual(t, "UserByID", stored(u), got)
		checkUTC(t, "UserByID", got)
		checkMFA(t, "UserByID", u, got)
	}
}

// checkMFA checks what checkEqual lets pass: the TOTP secret's exact bytes,
// zero times staying zero, and the documented nil for an empty secret or
// recovery code list (nil and empty are one state: "none").
func checkMFA(t *testing.T, what string, want, got storage.User) {
	t.Helper()
	if !bytes.Equal(got.TOTPSecret, want.TOTPSecret) {
		t.Errorf("%s: TOTPSecret = %q, want %q", what, got.TOTPSecret, want.TOTPSecret)
	}
	if len(want.TOTPSecret) == 0 && got.TOTPSecret != nil {
		t.Errorf("%s: empty TOTPSecret came back as %#v, want nil", what, got.TOTPSecret)
	}
	if len(want.RecoveryCodes) == 0 && got.RecoveryCodes != nil {
		t.Errorf("%s: empty RecoveryCodes came back as %#v, want nil", what, got.RecoveryCodes)
	}
	for _, tm := range []struct {
		name      string
		want, got time.Time
	}{
		{"ExpiresAt", want.ExpiresAt, got.ExpiresAt},
		{"MFAEnrolledAt", want.MFAEnrolledAt, got.MFAEnrolledAt},
		{"PasswordChangedAt", want.PasswordChangedAt, got.PasswordChangedAt},
	} {
		if tm.want.IsZero() && !tm.got.IsZero() {
			t.Errorf("%s: zero %s came back as %v", what, tm.name, tm.got)
		}
	}
	if got.MFAEnrolled() != want.MFAEnrolled() {
		t.Errorf("%s: MFAEnrolled() = %v, want %v", what, got.MFAEnrolled(), want.MFAEnrolled())
	}
}

func testUserUniqueness(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	u := fullUser()
	mustOK(t, "CreateUser", s.CreateUser(ctx, u))

	sameID := storage.User{ID: u.ID, Username: "other", Email: "other@example.com"}
	checkErr(t, "CreateUser with a taken id", s.CreateUser(ctx, sameID), storage.ErrAlreadyExists)
	sameName := storage.User{ID: storage.NewID(), Username: strings.ToUpper(u.Username), Email: "other@example.com"}
	checkErr(t, "CreateUser with a taken username in another case", s.CreateUser(ctx, sameName), storage.ErrAlreadyExists)
	sameEmail := storage.User{ID: storage.NewID(), Username: "other", Email: strings.ToUpper(u.Email)}
	checkErr(t, "CreateUser with a taken email in another case", s.CreateUser(ctx, sameEmail), storage.ErrAlreadyExists)

	// Staff accounts may have no email: those must not collide.
	for _, name := range []string{"staff1", "staff2"} {
		mustOK(t, "CreateUser without email", s.CreateUser(ctx, storage.User{ID: storage.NewID(), Username: name}))
	}
	users, err := s.ListUsers(ctx)
	mustOK(t, "ListUsers", err)
	if len(users) != 3 {
		t.Errorf("ListUsers returned %d users, want 3 (failed creates must store nothing)", len(users))
	}
}

func testUserByLogin(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	u := fullUser()
	mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	other := storage.User{ID: storage.NewID(), Username: "siti", Email: "siti@example.com"}
	mustOK(t, "CreateUser", s.CreateUser(ctx, other))

	for _, login := range []string{u.Username, strings.ToUpper(u.Username), strings.ToLower(u.Username),
		u.Email, strings.ToUpper(u.Email), strings.ToLower(u.Email)} {
		got, err := s.UserByLogin(ctx, login)
		if err != nil {
			t.Errorf("UserByLogin(%q): %v", login, err)
			continue
		}
		checkEqual(t, fmt.Sprintf("UserByLogin(%q)", login), stored(u), got)
	}
	got, err := s.UserByLogin(ctx, "SITI@example.com")
	mustOK(t, "UserByLogin", err)
	if got.ID != other.ID {
		t.Errorf("UserByLogin(SITI@example.com) = %s, want %s", got.ID, other.ID)
	}
	if _, err := s.UserByLogin(ctx, "budi"); !isNotFound(err) {
		t.Errorf("UserByLogin of a username prefix: got %v, want ErrNotFound", err)
	}
}

func testUpdateUser(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	u := fullUser()
	mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	taken := storage.User{ID: storage.NewID(), Username: "taken", Email: "taken@example.com"}
	mustOK(t, "CreateUser", s.CreateUser(ctx, taken))

	want := stored(u)
	want.Username, want.Email = "budi2", "budi2@example.com"
	want.Name, want.Disabled, want.Roles = "Budi S.", false, []string{storage.RoleAdmin}
	want.UpdatedAt = instant(30).UTC()
	mustOK(t, "UpdateUser", s.UpdateUser(ctx, u.ID, func(got *storage.User) error {
		checkEqual(t, "record given to UpdateUser's fn", stored(u), *got)
		got.Username, got.Email = "BUDI2", "Budi2@Example.com" // stored lower case
		got.Name, got.Disabled, got.Roles = want.Name, want.Disabled, want.Roles
		got.UpdatedAt = instant(30)
		return nil
	}))
	got, err := s.UserByID(ctx, u.ID)
	mustOK(t, "UserByID", err)
	checkEqual(t, "updated user", want, got)
	if _, err := s.UserByLogin(ctx, "budi2@example.com"); err != nil {
		t.Errorf("UserByLogin with the new email: %v", err)
	}
	if _, err := s.UserByLogin(ctx, u.Username); !isNotFound(err) {
		t.Errorf("UserByLogin with the old username: got %v, want ErrNotFound", err)
	}

	// An error from fn aborts: nothing changes and the error comes back.
	err = s.UpdateUser(ctx, u.ID, func(got *storage.User) error {
		got.Name = "should not be stored"
		return errFn
	})
	checkErr(t, "UpdateUser with a failing fn", err, errFn)
	// So does taking another user's username or email.
	err = s.UpdateUser(ctx, u.ID, func(got *storage.User) error {
		got.Username = "TAKEN"
		return nil
	})
	checkErr(t, "UpdateUser to a taken username", err, storage.ErrAlreadyExists)
	err = s.UpdateUser(ctx, u.ID, func(got *storage.User) error {
		got.Email = "Taken@example.com"
		return nil
	})
	checkErr(t, "UpdateUser to a taken email", err, storage.ErrAlreadyExists)
	got, err = s.UserByID(ctx, u.ID)
	mustOK(t, "UserByID after failed updates", err)
	checkEqual(t, "user after failed updates", want, got)

	// The id is the OIDC subject: an updater cannot change it, and the rest
	// of its change still lands on the record.
	mustOK(t, "UpdateUser changing the id", s.UpdateUser(ctx, u.ID, func(got *storage.User) error {
		got.ID, got.Name = "another-id", "Budi Santoso, S.E."
		return nil
	}))
	want.Name = "Budi Santoso, S.E."
	got, err = s.UserByID(ctx, u.ID)
	mustOK(t, "UserByID after changing the id", err)
	checkEqual(t, "user after an updater changed the id", want, got)
	if _, err := s.UserByID(ctx, "another-id"); !isNotFound(err) {
		t.Errorf("UserByID(another-id): got %v, want ErrNotFound", err)
	}
}

func testUpdateUserConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	u := storage.User{ID: storage.NewID(), Username: "busy"}
	mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	const n = 20
	errs := runConcurrently(n, func(i int) error {
		return s.UpdateUser(ctx, u.ID, func(u *storage.User) error {
			u.Roles = append(u.Roles, fmt.Sprintf("role-%02d", i))
			return nil
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateUser %d: %v", i, err)
		}
	}
	got, err := s.UserByID(ctx, u.ID)
	mustOK(t, "UserByID", err)
	slices.Sort(got.Roles)
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("role-%02d", i))
	}
	checkEqual(t, "roles after concurrent updates", want, got.Roles)
}

// testUpdateUserMFA walks the second factor's life: enrol (secret, time,
// recovery codes), spend recovery codes down to none, change the password,
// and drop the factor again, each read back exactly.
func testUpdateUserMFA(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	u := storage.User{ID: storage.NewID(), Username: "siti", Email: "siti@example.com", CreatedAt: instant(0)}
	mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	want := u

	update := func(what string, change func(*storage.User)) {
		t.Helper()
		mustOK(t, "UpdateUser: "+what, s.UpdateUser(ctx, u.ID, func(got *storage.User) error {
			checkEqual(t, "record given to UpdateUser's fn before "+what, want, *got)
			change(got)
			return nil
		}))
		change(&want)
		got, err := s.UserByID(ctx, u.ID)
		mustOK(t, "UserByID after "+what, err)
		checkEqual(t, "user after "+what, want, got)
		checkUTC(t, "user after "+what, got)
		checkMFA(t, "user after "+what, want, got)
		byLogin, err := s.UserByLogin(ctx, u.Email)
		mustOK(t, "UserByLogin after "+what, err)
		checkEqual(t, "UserByLogin after "+what, want, byLogin)
	}

	update("enrolment", func(u *storage.User) {
		u.TOTPSecret = []byte{0xff, 0x00, 0x10, 0x80, 0x00}
		u.MFAEnrolledAt = instant(10)
		u.RecoveryCodes = []string{"code-hash-1", "code-hash-2", "code-hash-3"}
	})
	update("using a recovery code", func(u *storage.User) {
		u.RecoveryCodes = []string{"code-hash-1", "code-hash-3"}
	})
	update("using the last recovery codes", func(u *storage.User) {
		u.RecoveryCodes = []string{}
	})
	update("an administrator's unlock", func(u *storage.User) {
		u.LockEpoch++
	})
	update("a password change", func(u *storage.User) {
		u.PasswordHash, u.PasswordChangedAt = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3aGFzaA", instant(20)
	})
	update("re-enrolment", func(u *storage.User) {
		u.TOTPSecret = []byte("another secret")
		u.MFAEnrolledAt = instant(30)
		u.RecoveryCodes = []string{"code-hash-4"}
	})
	update("dropping the second factor", func(u *storage.User) {
		u.TOTPSecret, u.MFAEnrolledAt, u.RecoveryCodes = nil, time.Time{}, nil
	})
	if got, err := s.UserByID(ctx, u.ID); err == nil && got.MFAEnrolled() {
		t.Errorf("user still enrolled after dropping the second factor: %+v", got)
	}

	// A refused update leaves the factor as it was.
	err := s.UpdateUser(ctx, u.ID, func(got *storage.User) error {
		got.TOTPSecret, got.MFAEnrolledAt = []byte("not stored"), instant(40)
		return errFn
	})
	checkErr(t, "UpdateUser with a failing fn", err, errFn)
	got, err := s.UserByID(ctx, u.ID)
	mustOK(t, "UserByID", err)
	checkMFA(t, "user after a refused update", want, got)
}

func testListUsers(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	got, err := s.ListUsers(ctx)
	mustOK(t, "ListUsers on an empty store", err)
	if len(got) != 0 {
		t.Errorf("ListUsers on an empty store returned %d users", len(got))
	}
	var want []storage.User
	for i := range 3 {
		u := fullUser()
		u.Username, u.Email = fmt.Sprintf("User%d", i), fmt.Sprintf("User%d@Example.com", i)
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
		want = append(want, stored(u))
	}
	got, err = s.ListUsers(ctx)
	mustOK(t, "ListUsers", err)
	byID := func(a, b storage.User) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(want, byID)
	slices.SortFunc(got, byID)
	checkEqual(t, "ListUsers", want, got)
	checkUTC(t, "ListUsers", got)
}

func testOrganizations(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	o := storage.Organization{
		ID:           storage.NewID(),
		NIB:          "9120001234567",
		NPWP:         "012345678901234",
		Name:         "PT Maju Jaya Ekspor",
		TraderType:   "eksportir",
		BusinessType: "PT",
		Address: storage.Address{Street: "Jl. Sudirman No. 1", City: "Jakarta Pusat",
			Province: "DKI Jakarta", PostalCode: "10220", Country: "ID"},
		CreatedAt: instant(0),
		UpdatedAt: instant(5),
	}
	mustOK(t, "CreateOrganization", s.CreateOrganization(ctx, o))
	got, err := s.OrganizationByID(ctx, o.ID)
	mustOK(t, "OrganizationByID", err)
	checkEqual(t, "OrganizationByID", o, got)
	checkUTC(t, "OrganizationByID", got)
	got, err = s.OrganizationByNIB(ctx, o.NIB)
	mustOK(t, "OrganizationByNIB", err)
	checkEqual(t, "OrganizationByNIB", o, got)

	dupID := o
	dupID.NIB = "9120001234568"
	checkErr(t, "CreateOrganization with a taken id", s.CreateOrganization(ctx, dupID), storage.ErrAlreadyExists)
	dupNIB := o
	dupNIB.ID = storage.NewID()
	checkErr(t, "CreateOrganization with a taken NIB", s.CreateOrganization(ctx, dupNIB), storage.ErrAlreadyExists)
	if _, err := s.OrganizationByNIB(ctx, dupID.NIB); !isNotFound(err) {
		t.Errorf("a failed create stored an organization: OrganizationByNIB = %v", err)
	}
}

func fullClient(id string) storage.Client {
	return storage.Client{
		ID:                     id,
		SecretHash:             "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$c2VjcmV0c2VjcmV0",
		Name:                   "e-BPOM",
		RedirectURIs:           []string{"https://ebpom.example.go.id/callback", "http://localhost:8080/cb"},
		PostLogoutRedirectURIs: []string{"https://ebpom.example.go.id/"},
		Public:                 true,
		GrantTypes:             []string{storage.GrantAuthorizationCode, storage.GrantRefreshToken},
		AccessTokenFormat:      "jwt",
		RequireMFA:             true,
		Listed:                 true,
		Description:            "Perizinan obat & makanan — \"e-BPOM\"",
		LogoURL:                "https://ebpom.example.go.id/logo.png",
		LaunchURL:              "https://ebpom.example.go.id/sso?from=satupintu&lang=id",
		AllowedTraderTypes:     []string{"importir", "ppjk"},
		AccountLinkURL:         "https://ebpom.example.go.id/sso/link",
		BackchannelLogoutURI:   "https://ebpom.example.go.id/sso/backchannel-logout",
		InitiateLoginURI:       "https://ebpom.example.go.id/sso/initiate",
		SubjectType:            "pairwise",
		SectorIdentifier:       "ebpom.example.go.id",
		SectorIdentifierURI:    "https://ebpom.example.go.id/sector.json",
		AuthMethod:             storage.AuthMethodPrivateKeyJWT,
		JWKS:                   `{"keys":[]}`,
		JWKSURI:                "https://ebpom.example.go.id/jwks.json",
		SecretSealed:           []byte{1, 0, 255, 7},
		RequirePAR:             true,
		DPoPRequired:           true,
		CreatedAt:              instant(0),
		UpdatedAt:              instant(2),

		IDTokenSignedResponseAlg: "EdDSA",
		AdminAPI:                 true,
		Disabled:                 true,
	}
}

func testClientRoundTrip(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	// The minimal client is unlisted, needs no second factor and offers
	// no account linking.
	for _, c := range []storage.Client{fullClient("ebpom"), {ID: "minimal"}} {
		mustOK(t, "CreateClient", s.CreateClient(ctx, c))
		got, err := s.ClientByID(ctx, c.ID)
		mustOK(t, "ClientByID", err)
		checkEqual(t, "ClientByID", c, got)
		checkUTC(t, "ClientByID", got)
		if len(c.AllowedTraderTypes) == 0 && got.AllowedTraderTypes != nil {
			t.Errorf("empty AllowedTraderTypes came back as %#v, want nil", got.AllowedTraderTypes)
		}
	}
	dup := storage.Client{ID: "ebpom", Name: "impostor"}
	checkErr(t, "CreateClient with a taken id", s.CreateClient(ctx, dup), storage.ErrAlreadyExists)
	got, err := s.ClientByID(ctx, "ebpom")
	mustOK(t, "ClientByID", err)
	checkEqual(t, "client after a failed duplicate create", fullClient("ebpom"), got)
}

func testUpdateClient(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	c := fullClient("insw")
	mustOK(t, "CreateClient", s.CreateClient(ctx, c))
	want := c
	want.Name, want.RedirectURIs, want.Public = "INSW", []string{"https://insw.example.go.id/cb"}, false
	want.UpdatedAt = instant(10)
	// Taken off the listing, open to every trader type, no second factor
	// and no account linking: every new field changes.
	want.RequireMFA, want.Listed, want.AllowedTraderTypes = false, false, nil
	want.Description, want.LogoURL, want.LaunchURL, want.AccountLinkURL = "Indonesia National Single Window", "", "https://insw.example.go.id/", ""
	want.BackchannelLogoutURI = ""
	want.AdminAPI = false
	mustOK(t, "UpdateClient", s.UpdateClient(ctx, c.ID, func(got *storage.Client) error {
		checkEqual(t, "record given to UpdateClient's fn", c, *got)
		got.Name, got.RedirectURIs, got.Public, got.UpdatedAt = want.Name, want.RedirectURIs, want.Public, want.UpdatedAt
		got.RequireMFA, got.Listed, got.AllowedTraderTypes = want.RequireMFA, want.Listed, []string{}
		got.Description, got.LogoURL, got.LaunchURL, got.AccountLinkURL = want.Description, want.LogoURL, want.LaunchURL, want.AccountLinkURL
		got.BackchannelLogoutURI = want.BackchannelLogoutURI
		got.AdminAPI = want.AdminAPI
		got.ID = "renamed" // ignored: the id is fixed
		return nil
	}))
	err := s.UpdateClient(ctx, c.ID, func(got *storage.Client) error {
		got.Name = "should not be stored"
		return errFn
	})
	checkErr(t, "UpdateClient with a failing fn", err, errFn)
	got, err := s.ClientByID(ctx, c.ID)
	mustOK(t, "ClientByID", err)
	checkEqual(t, "updated client", want, got)
	if _, err := s.ClientByID(ctx, "renamed"); !isNotFound(err) {
		t.Errorf("ClientByID(renamed): got %v, want ErrNotFound", err)
	}

	// And back: listed for one trader type, with a second factor.
	want.RequireMFA, want.Listed, want.AllowedTraderTypes = true, true, []string{"eksportir"}
	want.LogoURL, want.AccountLinkURL = "https://insw.example.go.id/logo.svg", "https://insw.example.go.id/link"
	mustOK(t, "UpdateClient", s.UpdateClient(ctx, c.ID, func(got *storage.Client) error {
		got.RequireMFA, got.Listed, got.AllowedTraderTypes = want.RequireMFA, want.Listed, want.AllowedTraderTypes
		got.LogoURL, got.AccountLinkURL = want.LogoURL, want.AccountLinkURL
		return nil
	}))
	got, err = s.ClientByID(ctx, c.ID)
	mustOK(t, "ClientByID", err)
	checkEqual(t, "client listed again", want, got)
}

func testUpdateClientConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	mustOK(t, "CreateClient", s.CreateClient(ctx, storage.Client{ID: "busy"}))
	const n = 20
	errs := runConcurrently(n, func(i int) error {
		return s.UpdateClient(ctx, "busy", func(c *storage.Client) error {
			c.RedirectURIs = append(c.RedirectURIs, fmt.Sprintf("https://rp.example/%02d", i))
			return nil
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateClient %d: %v", i, err)
		}
	}
	got, err := s.ClientByID(ctx, "busy")
	mustOK(t, "ClientByID", err)
	if len(got.RedirectURIs) != n {
		t.Errorf("after %d concurrent appends the client has %d redirect URIs: %q", n, len(got.RedirectURIs), got.RedirectURIs)
	}
}

func testDeleteListClients(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		mustOK(t, "CreateClient", s.CreateClient(ctx, fullClient(id)))
	}
	mustOK(t, "DeleteClient", s.DeleteClient(ctx, "b"))
	if _, err := s.ClientByID(ctx, "b"); !isNotFound(err) {
		t.Errorf("ClientByID after delete: got %v, want ErrNotFound", err)
	}
	checkErr(t, "DeleteClient twice", s.DeleteClient(ctx, "b"), storage.ErrNotFound)
	got, err := s.ListClients(ctx)
	mustOK(t, "ListClients", err)
	slices.SortFunc(got, func(a, b storage.Client) int { return strings.Compare(a.ID, b.ID) })
	checkEqual(t, "ListClients", []storage.Client{fullClient("a"), fullClient("c")}, got)
	checkUTC(t, "ListClients", got)
}

func testSigningKeys(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	got, err := s.SigningKeys(ctx)
	mustOK(t, "SigningKeys on an empty store", err)
	if len(got) != 0 {
		t.Errorf("SigningKeys on an empty store returned %d keys", len(got))
	}
	key := func(id string, minutes int) storage.SigningKey {
		return storage.SigningKey{ID: id, Algorithm: "RS256", PrivateDER: []byte("der-" + id + "\x00\xff"),
			CreatedAt: instant(minutes), ActivatesAt: instant(minutes + 2)}
	}
	newest, oldest, middle := key("k3", 20), key("k1", -20), key("k2", 0)
	middle.Algorithm, middle.NotAfter, middle.Sealed = "ES256", instant(60), true
	newest.Predecessor = "k0"
	// Created out of order: the list is ordered by CreatedAt, not insertion.
	for _, k := range []storage.SigningKey{newest, oldest, middle} {
		mustOK(t, "CreateSigningKey", s.CreateSigningKey(ctx, k, time.Time{}))
	}
	taken := key("k1", 99)
	taken.Predecessor = "other"
	checkErr(t, "CreateSigningKey with a taken id", s.CreateSigningKey(ctx, taken, time.Time{}), storage.ErrAlreadyExists)
	got, err = s.SigningKeys(ctx)
	mustOK(t, "SigningKeys", err)
	checkEqual(t, "SigningKeys", []storage.SigningKey{oldest, middle, newest}, got)
	checkUTC(t, "SigningKeys", got)
}

func signingKey(id, alg, predecessor string, minutes int) storage.SigningKey {
	return storage.SigningKey{ID: id, Algorithm: alg, PrivateDER: []byte("der-" + id), Predecessor: predecessor,
		CreatedAt: instant(minutes), ActivatesAt: instant(minutes + 2)}
}

func testSigningKeySuccession(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	first := signingKey("a1", "RS256", "", 0)
	mustOK(t, "CreateSigningKey first", s.CreateSigningKey(ctx, first, time.Time{}))
	checkErr(t, "a second first key of the algorithm",
		s.CreateSigningKey(ctx, signingKey("a1bis", "RS256", "", 1), time.Time{}), storage.ErrAlreadyExists)
	// Another algorithm has a chain of its own.
	mustOK(t, "CreateSigningKey ES256", s.CreateSigningKey(ctx, signingKey("e1", "ES256", "", 0), time.Time{}))

	second := signingKey("a2", "RS256", "a1", 10)
	mustOK(t, "CreateSigningKey successor", s.CreateSigningKey(ctx, second, instant(100)))
	checkErr(t, "a second successor of the same key",
		s.CreateSigningKey(ctx, signingKey("a2bis", "RS256", "a1", 11), instant(200)), storage.ErrConflict)

	got, err := s.SigningKeys(ctx)
	mustOK(t, "SigningKeys", err)
	first.NotAfter = instant(100) // retired with the successor, not by the loser
	checkEqual(t, "SigningKeys", []storage.SigningKey{first, signingKey("e1", "ES256", "", 0), second}, got)

	n, err := s.DeleteRetiredSigningKeys(ctx, instant(99))
	mustOK(t, "DeleteRetiredSigningKeys before retirement", err)
	if n != 0 {
		t.Errorf("deleted %d keys before their retirement", n)
	}
	n, err = s.DeleteRetiredSigningKeys(ctx, instant(100))
	mustOK(t, "DeleteRetiredSigningKeys", err)
	if n != 1 {
		t.Errorf("deleted %d keys at retirement, want 1", n)
	}
	got, err = s.SigningKeys(ctx)
	mustOK(t, "SigningKeys", err)
	checkEqual(t, "SigningKeys after deletion", []storage.SigningKey{signingKey("e1", "ES256", "", 0), second}, got)
	// The chain goes on from the successor; the deleted key is still taken as a predecessor.
	mustOK(t, "CreateSigningKey third", s.CreateSigningKey(ctx, signingKey("a3", "RS256", "a2", 20), instant(300)))
	checkErr(t, "a successor of the deleted key",
		s.CreateSigningKey(ctx, signingKey("a2ter", "RS256", "a1", 21), time.Time{}), storage.ErrConflict)

	// Keys from before predecessors (migration 0015 names each after
	// itself) all retire with the first successor, the newest's included.
	old1, old2 := signingKey("p1", "PS256", "legacy:p1", 0), signingKey("p2", "PS256", "legacy:p2", 5)
	for _, k := range []storage.SigningKey{old1, old2} {
		mustOK(t, "CreateSigningKey legacy", s.CreateSigningKey(ctx, k, time.Time{}))
	}
	mustOK(t, "CreateSigningKey after legacy keys", s.CreateSigningKey(ctx, signingKey("p3", "PS256", "p2", 30), instant(400)))
	got, err = s.SigningKeys(ctx)
	mustOK(t, "SigningKeys", err)
	for _, k := range got {
		switch k.ID {
		case "p1", "p2":
			if !k.NotAfter.Equal(instant(400)) {
				t.Errorf("legacy key %s retires at %v, want %v", k.ID, k.NotAfter, instant(400))
			}
		case "p3", "e1":
			if !k.NotAfter.IsZero() {
				t.Errorf("key %s retires at %v, want never", k.ID, k.NotAfter)
			}
		}
	}
}

func testSigningKeySuccessionConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	mustOK(t, "CreateSigningKey", s.CreateSigningKey(ctx, signingKey("k1", "ES256", "", 0), time.Time{}))
	const n = 8
	errs := runConcurrently(n, func(i int) error {
		return s.CreateSigningKey(ctx, signingKey(fmt.Sprintf("k2-%d", i), "ES256", "k1", 10), instant(60+i))
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("rotator %d: got %v, want nil or ErrConflict", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d rotators created a successor, want exactly 1", wins)
	}
	got, err := s.SigningKeys(ctx)
	mustOK(t, "SigningKeys", err)
	if len(got) != 2 || got[1].Predecessor != "k1" {
		t.Fatalf("keys after the race: %+v", got)
	}
	var winner int
	fmt.Sscanf(got[1].ID, "k2-%d", &winner)
	if !got[0].NotAfter.Equal(instant(60 + winner)) {
		t.Errorf("predecessor retires at %v, want the winner's %v", got[0].NotAfter, instant(60+winner))
	}
}

func testSealSigningKey(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	k := signingKey("k1", "EdDSA", "", 0)
	mustOK(t, "CreateSigningKey", s.CreateSigningKey(ctx, k, time.Time{}))
	checkErr(t, "SealSigningKey of a missing key", s.SealSigningKey(ctx, "nope", []byte("x")), storage.ErrNotFound)
	mustOK(t, "SealSigningKey", s.SealSigningKey(ctx, "k1", []byte("sealed\x00\xff")))
	checkErr(t, "SealSigningKey twice", s.SealSigningKey(ctx, "k1", []byte("again")), storage.ErrConflict)
	got, err := s.SigningKeys(ctx)
	mustOK(t, "SigningKeys", err)
	k.PrivateDER, k.Sealed = []byte("sealed\x00\xff"), true
	checkEqual(t, "SigningKeys", []storage.SigningKey{k}, got)
}

func refreshToken(id, family, client, user string, minutes int) storage.RefreshToken {
	return storage.RefreshToken{
		ID:        id,
		FamilyID:  family,
		ClientID:  client,
		UserID:    user,
		Scopes:    []string{"openid", "profile", "organization", "offline_access"},
		Audience:  []string{client},
		AMR:       []string{"pwd", "otp"},
		AuthTime:  instant(minutes - 1),
		CreatedAt: instant(minutes),
		ExpiresAt: instant(minutes + 60*24*30),
	}
}

func testRefreshTokenRoundTrip(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	rt := refreshToken("hash-1", "fam-1", "ebpom", "user-1", 0)
	rt.JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" // bound to a DPoP key (RFC 9449 §5)
	mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	got, err := s.RefreshTokenByID(ctx, rt.ID)
	mustOK(t, "RefreshTokenByID", err)
	checkEqual(t, "RefreshTokenByID", rt, got)
	checkUTC(t, "RefreshTokenByID", got)
	if !got.UsedAt.IsZero() {
		t.Errorf("new token has UsedAt %v, want zero", got.UsedAt)
	}
	checkErr(t, "CreateRefreshToken with a taken id", s.CreateRefreshToken(ctx, rt), storage.ErrAlreadyExists)
}

func testRotateRefreshToken(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	first := refreshToken("hash-1", "fam", "ebpom", "user-1", 0)
	mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, first))
	other := refreshToken("hash-other", "fam-other", "ebpom", "user-1", 0)
	mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, other))

	// A successor whose id is taken fails the whole rotation: first must
	// stay unused so the client can retry.
	clash := refreshToken("hash-other", "fam", "ebpom", "user-1", 5)
	checkErr(t, "RotateRefreshToken to a taken id", s.RotateRefreshToken(ctx, first.ID, clash), storage.ErrAlreadyExists)
	got, err := s.RefreshTokenByID(ctx, first.ID)
	mustOK(t, "RefreshTokenByID", err)
	if !got.UsedAt.IsZero() {
		t.Fatalf("a failed rotation marked the old token used at %v", got.UsedAt)
	}

	second := refreshToken("hash-2", "fam", "ebpom", "user-1", 10)
	second.JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" // the successor keeps the DPoP binding
	mustOK(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, first.ID, second))
	got, err = s.RefreshTokenByID(ctx, first.ID)
	mustOK(t, "RefreshTokenByID(old)", err)
	used := first
	used.UsedAt = second.CreatedAt
	checkEqual(t, "rotated token", used, got)
	checkUTC(t, "rotated token", got)
	got, err = s.RefreshTokenByID(ctx, second.ID)
	mustOK(t, "RefreshTokenByID(new)", err)
	checkEqual(t, "successor", second, got)

	// Reuse of a rotated token is the signal of theft (RFC 9700 §4.14.2).
	third := refreshToken("hash-3", "fam", "ebpom", "user-1", 20)
	checkErr(t, "RotateRefreshToken of a used token", s.RotateRefreshToken(ctx, first.ID, third), storage.ErrConflict)
	if _, err := s.RefreshTokenByID(ctx, third.ID); !isNotFound(err) {
		t.Errorf("a refused rotation stored its successor: %v", err)
	}
	mustOK(t, "RotateRefreshToken of the successor", s.RotateRefreshToken(ctx, second.ID, third))
}

func testRotateRefreshTokenConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	first := refreshToken("hash-1", "fam", "ebpom", "user-1", 0)
	mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, first))
	const n = 10
	errs := runConcurrently(n, func(i int) error {
		return s.RotateRefreshToken(ctx, first.ID, refreshToken(fmt.Sprintf("next-%d", i), "fam", "ebpom", "user-1", 1+i))
	})
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !isConflict(err):
			t.Errorf("rotation %d: got %v, want nil or ErrConflict", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent rotations of one token succeeded, want exactly 1", winners, n)
	}
	stored := 0
	for i := range n {
		if _, err := s.RefreshTokenByID(ctx, fmt.Sprintf("next-%d", i)); err == nil {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("%d successors stored, want 1", stored)
	}
}

// Backends may write concurrent refresh tokens together (sqlstore's group
// commit); each caller must still get its own result, and every token the
// exact row it asked for.
func testCreateRefreshTokenConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	taken := refreshToken("taken", "fam-taken", "ebpom", "user-0", 0)
	mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, taken))
	const (
		n     = 200
		clash = 17  // asks for the id taken before
		pair  = 120 // pair and twin ask for one id
		twin  = pair + 1
	)
	tokens := make([]storage.RefreshToken, n)
	for i := range tokens {
		tokens[i] = refreshToken(fmt.Sprintf("rt-%d", i), fmt.Sprintf("fam-%d", i%7), "ebpom", fmt.Sprintf("user-%d", i), i)
		tokens[i].JKT = fmt.Sprintf("jkt-%d", i)
	}
	tokens[clash].ID = taken.ID
	tokens[twin].ID = tokens[pair].ID
	errs := runConcurrently(n, func(i int) error { return s.CreateRefreshToken(ctx, tokens[i]) })
	for i, err := range errs {
		switch i {
		case clash:
			checkErr(t, "CreateRefreshToken with a taken id", err, storage.ErrAlreadyExists)
		case pair, twin:
			// Checked below.
		default:
			if err != nil {
				t.Errorf("CreateRefreshToken %d: %v", i, err)
			}
		}
	}
	pairErr, twinErr := errs[pair], errs[twin]
	if (pairErr == nil) == (twinErr == nil) {
		t.Errorf("two tokens with one id: errors %v and %v, want exactly one ErrAlreadyExists", pairErr, twinErr)
	}
	winner := pair
	if pairErr != nil {
		winner = twin
		checkErr(t, "the second token with one id", pairErr, storage.ErrAlreadyExists)
	} else {
		checkErr(t, "the second token with one id", twinErr, storage.ErrAlreadyExists)
	}

	for i, want := range tokens {
		switch i {
		case clash:
			want = taken
		case pair, twin:
			want = tokens[winner]
		}
		got, err := s.RefreshTokenByID(ctx, want.ID)
		if err != nil {
			t.Errorf("RefreshTokenByID(%q): %v", want.ID, err)
			continue
		}
		checkEqual(t, fmt.Sprintf("RefreshTokenByID(%q)", want.ID), want, got)
	}
}

func testRevokeRefreshTokens(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	tokens := []storage.RefreshToken{
		refreshToken("a1", "fam-a", "ebpom", "user-1", 0),
		refreshToken("a2", "fam-a", "ebpom", "user-1", 1),
		refreshToken("b1", "fam-b", "insw", "user-1", 0),
		refreshToken("c1", "fam-c", "ebpom", "user-2", 0),
		refreshToken("d1", "fam-d", "insw", "user-3", 0),
	}
	for _, rt := range tokens {
		mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	}
	remaining := func(want ...string) {
		t.Helper()
		for _, rt := range tokens {
			_, err := s.RefreshTokenByID(ctx, rt.ID)
			switch {
			case slices.Contains(want, rt.ID) && err != nil:
				t.Errorf("token %s should remain: %v", rt.ID, err)
			case !slices.Contains(want, rt.ID) && !isNotFound(err):
				t.Errorf("token %s should be revoked: got %v", rt.ID, err)
			}
		}
	}
	mustOK(t, "RevokeRefreshTokenFamily", s.RevokeRefreshTokenFamily(ctx, "fam-a"))
	remaining("b1", "c1", "d1")
	mustOK(t, "RevokeUserRefreshTokens", s.RevokeUserRefreshTokens(ctx, "user-1"))
	remaining("c1", "d1")
	mustOK(t, "RevokeUserRefreshTokens", s.RevokeUserRefreshTokens(ctx, "user-2"))
	remaining("d1")
}

func testSecrets(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	calls := 0
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) {
			calls++
			return []byte(v), nil
		}
	}
	got, err := s.Secret(ctx, "cookie-hash-key", gen("first\x00\xff"))
	mustOK(t, "Secret", err)
	if !bytes.Equal(got, []byte("first\x00\xff")) {
		t.Errorf("Secret on first use = %q, want the generated value", got)
	}
	got, err = s.Secret(ctx, "cookie-hash-key", gen("second"))
	mustOK(t, "Secret", err)
	if !bytes.Equal(got, []byte("first\x00\xff")) {
		t.Errorf("Secret on second use = %q, want the first value", got)
	}
	if calls != 1 {
		t.Errorf("gen called %d times for one name, want 1", calls)
	}
	got, err = s.Secret(ctx, "token-key", gen("other"))
	mustOK(t, "Secret", err)
	if !bytes.Equal(got, []byte("other")) {
		t.Errorf("Secret for another name = %q, want its own value", got)
	}

	// A failing generator stores nothing: the next call generates again.
	_, err = s.Secret(ctx, "flaky", func() ([]byte, error) { return nil, errFn })
	checkErr(t, "Secret with a failing generator", err, errFn)
	got, err = s.Secret(ctx, "flaky", gen("recovered"))
	mustOK(t, "Secret after a failed generator", err)
	if !bytes.Equal(got, []byte("recovered")) {
		t.Errorf("Secret after a failed generator = %q, want %q", got, "recovered")
	}
}

func testSecretsConcurrent(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	const n = 10
	values := make([][]byte, n)
	errs := runConcurrently(n, func(i int) error {
		v, err := s.Secret(ctx, "shared", func() ([]byte, error) {
			return fmt.Appendf(nil, "value-%d", i), nil
		})
		values[i] = v
		return err
	})
	for i, err := range errs {
		mustOK(t, fmt.Sprintf("Secret %d", i), err)
	}
	for i, v := range values {
		if !bytes.Equal(v, values[0]) {
			t.Errorf("caller %d got %q, caller 0 got %q: racing first uses must agree", i, v, values[0])
		}
	}
	again, err := s.Secret(ctx, "shared", func() ([]byte, error) { return []byte("late"), nil })
	mustOK(t, "Secret", err)
	if !bytes.Equal(again, values[0]) {
		t.Errorf("Secret after the race = %q, want %q", again, values[0])
	}
}

// secretReplacer is the optional capability cmd/satupintu uses to seal
// secrets stored in plaintext.
type secretReplacer interface {
	ReplaceSecret(ctx context.Context, name string, old, next []byte) error
}

func testReplaceSecret(t *testing.T, s storage.Durable) {
	r, ok := s.(secretReplacer)
	if !ok {
		t.Skip("the store cannot replace secrets")
	}
	ctx := t.Context()
	checkErr(t, "ReplaceSecret of a missing secret", r.ReplaceSecret(ctx, "none", []byte("a"), []byte("b")), storage.ErrNotFound)
	first, err := s.Secret(ctx, "totp-key", func() ([]byte, error) { return []byte("plain\x00\xff"), nil })
	mustOK(t, "Secret", err)
	checkErr(t, "ReplaceSecret from a stale value", r.ReplaceSecret(ctx, "totp-key", []byte("other"), []byte("x")), storage.ErrConflict)
	mustOK(t, "ReplaceSecret", r.ReplaceSecret(ctx, "totp-key", first, []byte("sealed\x00")))
	got, err := s.Secret(ctx, "totp-key", func() ([]byte, error) { return []byte("never"), nil })
	mustOK(t, "Secret after ReplaceSecret", err)
	if !bytes.Equal(got, []byte("sealed\x00")) {
		t.Errorf("Secret after ReplaceSecret = %q", got)
	}
}

func testAudit(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	got, err := s.ListAudit(ctx, 0, 10)
	mustOK(t, "ListAudit on an empty log", err)
	if len(got) != 0 {
		t.Errorf("ListAudit on an empty log returned %d events", len(got))
	}
	var appended []storage.AuditEvent
	for i := range 5 {
		e := storage.AuditEvent{
			ID:       999, // ignored: the store assigns ids
			Time:     instant(i),
			Action:   "login.success",
			ActorID:  fmt.Sprintf("user-%d", i),
			Subject:  fmt.Sprintf("user-%d", i),
			ClientID: "ebpom",
			IP:       "2001:db8::1",
			Detail:   map[string]string{"amr": "pwd", "n": fmt.Sprint(i), "unicode": "masuk ✓"},
		}
		if i == 3 {
			e.Detail = nil
		}
		mustOK(t, "AppendAudit", s.AppendAudit(ctx, e))
		appended = append(appended, e)
	}

	all, err := s.ListAudit(ctx, 0, 100)
	mustOK(t, "ListAudit", err)
	if len(all) != 5 {
		t.Fatalf("ListAudit returned %d events, want 5", len(all))
	}
	for i, e := range all {
		want := appended[len(appended)-1-i] // newest first
		want.ID, want.Outcome, want.PrevHash, want.Hash = e.ID, storage.OutcomeSuccess, e.PrevHash, e.Hash
		checkEqual(t, fmt.Sprintf("event %d", i), want, e)
		if i > 0 && e.ID >= all[i-1].ID {
			t.Errorf("ids not strictly decreasing: %d after %d", e.ID, all[i-1].ID)
		}
		if e.ID <= 0 {
			t.Errorf("event %d has id %d, want > 0", i, e.ID)
		}
	}
	checkUTC(t, "ListAudit", all)

	// Page through with the before cursor.
	var paged []storage.AuditEvent
	before := int64(0)
	for range 10 {
		page, err := s.ListAudit(ctx, before, 2)
		mustOK(t, "ListAudit page", err)
		if len(page) > 2 {
			t.Fatalf("ListAudit(limit 2) returned %d events", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		before = page[len(page)-1].ID
	}
	checkEqual(t, "paged events", all, paged)
}

func appLink(userID, clientID, appUsername string, minutes int) storage.AppLink {
	return storage.AppLink{UserID: userID, ClientID: clientID, AppUsername: appUsername, LinkedAt: instant(minutes)}
}

func testAppLinks(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	budi, siti := fullUser(), storage.User{ID: storage.NewID(), Username: "siti"}
	for _, u := range []storage.User{budi, siti} {
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	}
	for _, id := range []string{"ebpom", "insw", "lartas"} {
		mustOK(t, "CreateClient", s.CreateClient(ctx, fullClient(id)))
	}

	if got, err := s.AppLink(ctx, budi.ID, "insw"); !isNotFound(err) {
		t.Errorf("AppLink before linking: got (%+v, %v), want ErrNotFound", got, err)
	}
	got, err := s.AppLinksOf(ctx, budi.ID)
	mustOK(t, "AppLinksOf before linking", err)
	if len(got) != 0 {
		t.Errorf("AppLinksOf before linking = %+v, want none", got)
	}

	// Linked out of client order: the list is ordered by client id.
	insw, ebpom := appLink(budi.ID, "insw", "BUDI01", 0), appLink(budi.ID, "ebpom", "budi.santoso", 1)
	sitiEbpom := appLink(siti.ID, "ebpom", "siti", 2)
	for _, l := range []storage.AppLink{insw, ebpom, sitiEbpom} {
		mustOK(t, "LinkApp", s.LinkApp(ctx, l))
	}
	one, err := s.AppLink(ctx, budi.ID, "insw")
	mustOK(t, "AppLink", err)
	checkEqual(t, "AppLink", insw, one)
	checkUTC(t, "AppLink", one)
	got, err = s.AppLinksOf(ctx, budi.ID)
	mustOK(t, "AppLinksOf", err)
	checkEqual(t, "AppLinksOf", []storage.AppLink{ebpom, insw}, got)
	checkUTC(t, "AppLinksOf", got)

	// Linking again replaces the username and time: one link per pair.
	relinked := appLink(budi.ID, "insw", "budi.s@insw", 10)
	mustOK(t, "LinkApp again", s.LinkApp(ctx, relinked))
	one, err = s.AppLink(ctx, budi.ID, "insw")
	mustOK(t, "AppLink after relinking", err)
	checkEqual(t, "AppLink after relinking", relinked, one)
	got, err = s.AppLinksOf(ctx, budi.ID)
	mustOK(t, "AppLinksOf after relinking", err)
	checkEqual(t, "AppLinksOf after relinking", []storage.AppLink{ebpom, relinked}, got)

	// Concurrent links of one pair all succeed (none fails on the primary
	// key) and leave one link, as some caller wrote it.
	const n = 10
	errs := runConcurrently(n, func(i int) error {
		return s.LinkApp(ctx, appLink(siti.ID, "lartas", fmt.Sprintf("siti-%02d", i), i))
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent LinkApp %d: %v", i, err)
		}
	}
	one, err = s.AppLink(ctx, siti.ID, "lartas")
	mustOK(t, "AppLink after concurrent links", err)
	var i int
	if _, err := fmt.Sscanf(one.AppUsername, "siti-%02d", &i); err != nil || !one.LinkedAt.Equal(instant(i)) {
		t.Errorf("after concurrent links: %+v, want one of the written links", one)
	}
	mustOK(t, "UnlinkApp", s.UnlinkApp(ctx, siti.ID, "lartas"))

	// A link needs both ends.
	checkErr(t, "LinkApp for a missing user", s.LinkApp(ctx, appLink("missing", "insw", "x", 0)), storage.ErrNotFound)
	checkErr(t, "LinkApp to a missing client", s.LinkApp(ctx, appLink(siti.ID, "missing", "x", 0)), storage.ErrNotFound)
	if _, err := s.AppLink(ctx, siti.ID, "missing"); !isNotFound(err) {
		t.Errorf("a refused LinkApp stored a link: AppLink = %v, want ErrNotFound", err)
	}
	got, err = s.AppLinksOf(ctx, "missing")
	mustOK(t, "AppLinksOf a missing user", err)
	if len(got) != 0 {
		t.Errorf("AppLinksOf a missing user = %+v, want none", got)
	}

	// Unlinking removes one link and is idempotent.
	mustOK(t, "UnlinkApp", s.UnlinkApp(ctx, budi.ID, "insw"))
	if _, err := s.AppLink(ctx, budi.ID, "insw"); !isNotFound(err) {
		t.Errorf("AppLink after UnlinkApp: got %v, want ErrNotFound", err)
	}
	mustOK(t, "UnlinkApp twice", s.UnlinkApp(ctx, budi.ID, "insw"))
	mustOK(t, "UnlinkApp never linked", s.UnlinkApp(ctx, siti.ID, "lartas"))
	mustOK(t, "UnlinkApp of a missing user", s.UnlinkApp(ctx, "missing", "missing"))
	got, err = s.AppLinksOf(ctx, budi.ID)
	mustOK(t, "AppLinksOf after UnlinkApp", err)
	checkEqual(t, "AppLinksOf after UnlinkApp", []storage.AppLink{ebpom}, got)
	got, err = s.AppLinksOf(ctx, siti.ID)
	mustOK(t, "AppLinksOf another user", err)
	checkEqual(t, "AppLinksOf another user", []storage.AppLink{sitiEbpom}, got)
}

// A deleted client's links must go with it: otherwise a new client
// registered under the same id would inherit every user's account in the
// old application.
func testAppLinksDeletedWithClient(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	budi, siti := fullUser(), storage.User{ID: storage.NewID(), Username: "siti"}
	for _, u := range []storage.User{budi, siti} {
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	}
	for _, id := range []string{"ebpom", "insw"} {
		mustOK(t, "CreateClient", s.CreateClient(ctx, fullClient(id)))
	}
	keep := appLink(budi.ID, "insw", "budi", 0)
	for _, l := range []storage.AppLink{keep, appLink(budi.ID, "ebpom", "budi", 0), appLink(siti.ID, "ebpom", "siti", 0)} {
		mustOK(t, "LinkApp", s.LinkApp(ctx, l))
	}
	mustOK(t, "DeleteClient", s.DeleteClient(ctx, "ebpom"))
	for _, u := range []string{budi.ID, siti.ID} {
		if _, err := s.AppLink(ctx, u, "ebpom"); !isNotFound(err) {
			t.Errorf("AppLink to a deleted client: got %v, want ErrNotFound", err)
		}
	}
	mustOK(t, "CreateClient again", s.CreateClient(ctx, fullClient("ebpom")))
	got, err := s.AppLinksOf(ctx, budi.ID)
	mustOK(t, "AppLinksOf", err)
	checkEqual(t, "links after the client was deleted and recreated", []storage.AppLink{keep}, got)
	got, err = s.AppLinksOf(ctx, siti.ID)
	mustOK(t, "AppLinksOf", err)
	if len(got) != 0 {
		t.Errorf("links of a user whose only client was deleted = %+v, want none", got)
	}
}

func passkey(userID, name string, minutes int) storage.Passkey {
	return storage.Passkey{ID: storage.NewID(), UserID: userID, CredentialID: []byte("cred-" + storage.NewID()),
		Name: name, Record: []byte(`{"pk":"` + name + `"}`), CreatedAt: instant(minutes)}
}

func testPasskeys(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	budi, siti := fullUser(), storage.User{ID: storage.NewID(), Username: "siti"}
	for _, u := range []storage.User{budi, siti} {
		mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	}
	got, err := s.PasskeysOf(ctx, budi.ID)
	mustOK(t, "PasskeysOf before any", err)
	if len(got) != 0 {
		t.Errorf("PasskeysOf before any = %+v, want none", got)
	}
	if _, err := s.PasskeyByCredentialID(ctx, []byte("nope")); !isNotFound(err) {
		t.Errorf("PasskeyByCredentialID unknown: %v, want ErrNotFound", err)
	}

	// Created out of order: the list is oldest first.
	laptop, phone := passkey(budi.ID, "Laptop", 5), passkey(budi.ID, "Ponsel", 1)
	other := passkey(siti.ID, "Kunci", 2)
	for _, p := range []storage.Passkey{laptop, phone, other} {
		mustOK(t, "CreatePasskey", s.CreatePasskey(ctx, p, 3))
	}
	got, err = s.PasskeysOf(ctx, budi.ID)
	mustOK(t, "PasskeysOf", err)
	checkEqual(t, "PasskeysOf", []storage.Passkey{phone, laptop}, got)
	checkUTC(t, "PasskeysOf", got)
	one, err := s.PasskeyByCredentialID(ctx, laptop.CredentialID)
	mustOK(t, "PasskeyByCredentialID", err)
	checkEqual(t, "PasskeyByCredentialID", laptop, one)

	// A credential id names one credential, whoever registers it again.
	dup := passkey(siti.ID, "Copy", 3)
	dup.CredentialID = laptop.CredentialID
	checkErr(t, "CreatePasskey with a registered credential id", s.CreatePasskey(ctx, dup, 3), storage.ErrAlreadyExists)
	checkErr(t, "CreatePasskey for a missing user", s.CreatePasskey(ctx, passkey("missing", "x", 0), 3), storage.ErrNotFound)
	// The limit counts the user's own passkeys only.
	mustOK(t, "CreatePasskey up to the limit", s.CreatePasskey(ctx, passkey(budi.ID, "Kunci USB", 9), 3))
	checkErr(t, "CreatePasskey beyond the limit", s.CreatePasskey(ctx, passkey(budi.ID, "Four", 10), 3), storage.ErrConflict)

	// Update: name, record and last use change; identity does not.
	mustOK(t, "UpdatePasskey", s.UpdatePasskey(ctx, laptop.ID, func(p *storage.Passkey) error {
		p.Name, p.Record, p.LastUsedAt = "Laptop kantor", []byte("v2"), instant(20)
		return nil
	}))
	one, err = s.PasskeyByCredentialID(ctx, laptop.CredentialID)
	mustOK(t, "PasskeyByCredentialID after update", err)
	want := laptop
	want.Name, want.Record, want.LastUsedAt = "Laptop kantor", []byte("v2"), instant(20)
	checkEqual(t, "after UpdatePasskey", want, one)
	refuse := fmt.Errorf("no")
	if err := s.UpdatePasskey(ctx, laptop.ID, func(p *storage.Passkey) error { p.Name = "x"; return refuse }); err != refuse {
		t.Errorf("UpdatePasskey with a refusing fn = %v, want its error", err)
	}
	checkErr(t, "UpdatePasskey missing", s.UpdatePasskey(ctx, "missing", func(*storage.Passkey) error { return nil }), storage.ErrNotFound)

	// Delete: only the owner's, once.
	checkErr(t, "DeletePasskey of another user", s.DeletePasskey(ctx, siti.ID, laptop.ID), storage.ErrNotFound)
	mustOK(t, "DeletePasskey", s.DeletePasskey(ctx, budi.ID, laptop.ID))
	checkErr(t, "DeletePasskey twice", s.DeletePasskey(ctx, budi.ID, laptop.ID), storage.ErrNotFound)
	if _, err := s.PasskeyByCredentialID(ctx, laptop.CredentialID); !isNotFound(err) {
		t.Errorf("a deleted passkey is still found: %v", err)
	}
	got, err = s.PasskeysOf(ctx, siti.ID)
	mustOK(t, "PasskeysOf another user", err)
	checkEqual(t, "PasskeysOf another user", []storage.Passkey{other}, got)
}

// Registrations racing for a user's last places never pass the limit.
func testPasskeysConcurrentLimit(t *testing.T, s storage.Durable) {
	ctx := t.Context()
	u := fullUser()
	mustOK(t, "CreateUser", s.CreateUser(ctx, u))
	const limit, n = 3, 8
	errs := runConcurrently(n, func(i int) error { return s.CreatePasskey(ctx, passkey(u.ID, fmt.Sprint(i), i), limit) })
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("concurrent CreatePasskey %d: %v, want nil or ErrConflict", i, err)
		}
	}
	got, err := s.PasskeysOf(ctx, u.ID)
	mustOK(t, "PasskeysOf", err)
	if ok != limit || len(got) != limit {
		t.Errorf("%d of %d concurrent registrations succeeded, %d stored; want %d", ok, n, len(got), limit)
	}
}
