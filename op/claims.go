package op

import (
	"context"
	"errors"
	"fmt"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"satupintu/storage"
)

// userScopes release claims about a person; a service token never gets them.
var userScopes = map[string]bool{
	oidc.ScopeProfile: true, oidc.ScopeEmail: true, oidc.ScopePhone: true,
	oidc.ScopeAddress: true, ScopeOrganization: true,
}

// SupportedScopes and SupportedClaims are published in discovery.
var (
	SupportedScopes = []string{
		oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone,
		oidc.ScopeAddress, oidc.ScopeOfflineAccess, ScopeOrganization,
	}
	SupportedClaims = []string{
		"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "at_hash",
		"name", "preferred_username", "updated_at", "email", "email_verified",
		"phone_number", "phone_number_verified", "address", ClaimOrganization, ClaimAppUsername,
		ClaimSessionID,
	}
)

// ClaimSessionID names the SSO session in ID and logout tokens (OIDC
// Back-Channel Logout 1.0 §2.1); its value is storage.Session.SID.
const ClaimSessionID = "sid"

// ClaimOrganization carries the company under the organization scope.
const ClaimOrganization = "organization"

// ClaimAppUsername is the user's own username in the client application
// that receives it, once they linked that account ("Create SSO"). It goes
// under the profile scope, to that client only: another application must
// not learn the user's accounts elsewhere.
const ClaimAppUsername = "app_username"

// OrganizationClaim is the shape of the organization claim, documented in
// the README for integrators.
type OrganizationClaim struct {
	// ID is the organization's stable identifier: a NIB can be corrected,
	// the id never changes.
	ID           string           `json:"id"`
	NIB          string           `json:"nib"`
	NPWP         string           `json:"npwp"`
	Name         string           `json:"name"`
	TraderType   string           `json:"trader_type,omitempty"`
	BusinessType string           `json:"business_type,omitempty"`
	Address      *storage.Address `json:"address,omitempty"`
	Position     string           `json:"position,omitempty"`
}

// fillUserinfo sets the claims each granted scope releases (OIDC Core §5.4)
// to clientID.
func (s *store) fillUserinfo(ctx context.Context, info *oidc.UserInfo, userID, clientID string, scopes []string) error {
	u, err := s.durable.UserByID(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return oidc.ErrInvalidRequest().WithDescription("the account can no longer sign in")
	}
	if err != nil {
		return fmt.Errorf("load user %s: %w", userID, err)
	}
	if !u.CanSignIn(s.now()) {
		return oidc.ErrInvalidRequest().WithDescription("the account can no longer sign in")
	}
	c, err := s.clients.get(ctx, clientID)
	if err != nil {
		return fmt.Errorf("load client %s: %w", clientID, err)
	}
	info.Subject = s.subjects.external(c, u.ID)
	var org *storage.Organization
	loadOrg := func() (*storage.Organization, error) {
		if org != nil {
			return org, nil
		}
		orgID, err := s.organizationOf(ctx, u, clientID)
		if err != nil || orgID == "" {
			return nil, err
		}
		o, err := s.durable.OrganizationByID(ctx, orgID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("load organization %s: %w", orgID, err)
		}
		org = &o
		return org, nil
	}
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeProfile:
			info.Name = u.Name
			info.PreferredUsername = u.Username
			info.UpdatedAt = oidc.FromTime(u.UpdatedAt)
			if err := s.fillAppUsername(ctx, info, u.ID, clientID); err != nil {
				return err
			}
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(u.EmailVerified)
		case oidc.ScopePhone:
			info.PhoneNumber = u.Phone
		case oidc.ScopeAddress:
			o, err := loadOrg()
			if err != nil {
				return err
			}
			if o != nil {
				info.Address = &oidc.UserInfoAddress{
					StreetAddress: o.Address.Street, Locality: o.Address.City,
					Region: o.Address.Province, PostalCode: o.Address.PostalCode, Country: o.Address.Country,
				}
			}
		case ScopeOrganization:
			o, err := loadOrg()
			if err != nil {
				return err
			}
			if o != nil {
				addr := o.Address
				info.AppendClaims(ClaimOrganization, OrganizationClaim{
					ID: o.ID, NIB: o.NIB, NPWP: o.NPWP, Name: o.Name, TraderType: o.TraderType,
					BusinessType: o.BusinessType, Address: &addr, Position: u.Position,
				})
			}
		}
	}
	return nil
}

// fillAppUsername adds the app_username claim when the user linked an
// account in clientID. Only clients that offer linking are looked up (the
// client comes from the cache), so other token requests cost no query.
func (s *store) fillAppUsername(ctx context.Context, info *oidc.UserInfo, userID, clientID string) error {
	if clientID == "" {
		return nil
	}
	c, err := s.clients.get(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // a deleted client gets nothing; its token request fails elsewhere
	}
	if err != nil {
		return err
	}
	if c.AccountLinkURL == "" {
		return nil
	}
	l, err := s.durable.AppLink(ctx, userID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load app link of %s: %w", clientID, err)
	}
	info.AppendClaims(ClaimAppUsername, l.AppUsername)
	return nil
}

// organizationOf is the organization clientID receives for u: the one the
// user chose for that client while still a member, else the default.
func (s *store) organizationOf(ctx context.Context, u storage.User, clientID string) (string, error) {
	if clientID != "" {
		orgID, err := s.durable.ChosenOrganization(ctx, u.ID, clientID)
		switch {
		case err == nil:
			return orgID, nil
		case !errors.Is(err, storage.ErrNotFound):
			return "", fmt.Errorf("load chosen organization: %w", err)
		}
	}
	return u.OrganizationID, nil
}

// organizationFor is organizationOf for a user known by id.
func (s *store) organizationFor(ctx context.Context, userID, clientID string) (string, error) {
	u, err := s.durable.UserByID(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil // the token request fails on the account elsewhere
	}
	if err != nil {
		return "", fmt.Errorf("load user %s: %w", userID, err)
	}
	return s.organizationOf(ctx, u, clientID)
}

// stillMember reports whether the user of at still belongs to the
// organization its claim named, so that removing a member ends their
// tokens at once, not at expiry.
func (s *store) stillMember(ctx context.Context, at storage.AccessToken) (bool, error) {
	if at.OrganizationID == "" || at.UserID == "" {
		return true, nil
	}
	_, err := s.durable.Membership(ctx, at.OrganizationID, at.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
