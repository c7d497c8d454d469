package scim

// MemberKind is what a MemberEdit does to a group's membership.
type MemberKind string

// Kinds of MemberEdit.
const (
	MembersAdd       MemberKind = "add"
	MembersRemove    MemberKind = "remove"
	MembersReplace   MemberKind = "replace"   // set the membership to exactly IDs
	MembersRemoveAll MemberKind = "removeAll" // empty the membership
)

// MemberEdit is one step of a change to a group's membership, applied in order: what a Group
// PATCH's member operations come to (patch.SplitMembers), and what a store writes as rows.
type MemberEdit struct {
	Kind MemberKind
	IDs  []string // member ids (the `value` of each member object)
}
