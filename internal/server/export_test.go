package server

// CanonicalSCIMPath is canonicalSCIMPath, for the contract check of the black-box tests.
var CanonicalSCIMPath = canonicalSCIMPath
