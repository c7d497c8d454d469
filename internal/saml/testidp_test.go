package saml

import "github.com/scimd/scimd/internal/saml/samltest"

// The tests' identity provider is samltest's; these names keep the tests short.
type (
	testIdP       = samltest.IdP
	assertionSpec = samltest.Spec
)
