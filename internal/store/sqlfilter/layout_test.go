package sqlfilter

import (
	"fmt"
	"testing"
)

// TestLayouts: each layout's indexed attributes exist in its schema, its filter table has a
// column for each, and the values written follow each column's Write.
func TestLayouts(t *testing.T) {
	for _, l := range []*Layout{UsersLayout, GroupsLayout} {
		tbl := l.Table("r")
		for _, ix := range l.Indexed {
			if _, err := l.Type.ResolveString(ix.Attr); err != nil {
				t.Errorf("%s: indexed attribute %s: %v", l.Name, ix.Attr, err)
			}
			if tbl.Columns[ix.Attr] != ix.Column {
				t.Errorf("%s: filter column of %s = %+v, want %+v", l.Name, ix.Attr, tbl.Columns[ix.Attr], ix.Column)
			}
		}
		if LayoutOf(l.Type) != l {
			t.Errorf("LayoutOf(%s) is not %s", l.Type.Name, l.Name)
		}
	}
	for _, tc := range []struct {
		name  string
		l     *Layout
		attrs map[string]any
		want  string
	}{
		{"user, all set", UsersLayout, map[string]any{"userName": "ann", "externalId": "x1", "active": true, "userType": "admin", "displayName": "Ann"},
			"[user_name user_name_key external_id active user_type display_name] [ann ANN x1 true admin Ann]"},
		{"user, optional ones absent", UsersLayout, map[string]any{"userName": "ann", "externalId": ""},
			"[user_name user_name_key external_id active user_type display_name] [ann ANN <nil> false <nil> <nil>]"},
		{"group", GroupsLayout, map[string]any{"displayName": "Sales", "members": []any{"ignored"}},
			"[display_name display_name_key external_id] [Sales SALES <nil>]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cols, vals := tc.l.Values(tc.attrs)
			if got := fmt.Sprint(cols, vals); got != tc.want {
				t.Fatalf("Values = %s, want %s", got, tc.want)
			}
		})
	}
}
