package storage

// Authentication context classes satupintu issues as acr and understands in
// acr_values (OIDC Core §2, §3.1.2.1), and the authentication methods its
// sessions record as amr (RFC 8176 §2). op and login both speak them, so
// they live here, next to AuthRequest.ACRValues and Session.AMR.
const (
	ACRPassword = "urn:satupintu:acr:pwd" // a password alone
	ACRMFA      = "urn:satupintu:acr:mfa" // a password and a second factor

	AMRPassword = "pwd" // the password
	AMROTP      = "otp" // a one-time password: a TOTP code or a recovery code
	AMRMFA      = "mfa" // more than one factor

	// PromptCreate asks for the account creation page instead of the
	// sign-in (Initiating User Registration via OpenID Connect 1.0).
	PromptCreate = "create"

	// A passkey (login/passkey.go): a key bound to one device or synced
	// between devices, the user's presence and the authenticator's own
	// verification of the user.
	AMRHardwareKey  = "hwk"
	AMRSoftwareKey  = "swk"
	AMRUserPresence = "user"
	AMRPIN          = "pin"

	// AMRFederated: an upstream identity provider authenticated the user
	// (package upstream).
	AMRFederated = "fed"
)
