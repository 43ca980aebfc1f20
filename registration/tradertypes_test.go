package registration

import (
	"slices"
	"testing"

	"satupintu/storage/validate"
)

// validate (storage) checks a client's trader types against its own list
// of codes; it must be the wizard's.
func TestValidateKnowsTheTraderTypes(t *testing.T) {
	if got := validate.TraderTypes(); !slices.Equal(got, TraderTypes.Codes()) {
		t.Errorf("validate.TraderTypes() = %v, the wizard's = %v", got, TraderTypes.Codes())
	}
}
