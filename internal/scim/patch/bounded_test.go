package patch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

func emailList(n int) []any {
	vs := make([]any, n)
	for i := range vs {
		vs[i] = map[string]any{"value": fmt.Sprintf("a%d@example.com", i)}
	}
	return vs
}

// TestApplyContextLinear: adding and removing many values is linear (18,000 values took a
// minute with the pairwise comparison), duplicates are still not added twice, and the
// values bound stops the list as it grows.
func TestApplyContextLinear(t *testing.T) {
	const n = 10000
	add := []Operation{{Op: OpAdd, Path: mustPath(t, "emails"), Value: emailList(n)}}
	start := time.Now()
	out, _, err := ApplyContext(context.Background(), scim.Users, map[string]any{"userName": "u"}, append(add, add...), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(out["emails"].([]any)); got != n {
		t.Fatalf("%d emails, want %d", got, n)
	}
	var upper []any
	for _, v := range emailList(n) {
		upper = append(upper, map[string]any{"value": strings.ToUpper(v.(map[string]any)["value"].(string))})
	}
	out, _, err = ApplyContext(context.Background(), scim.Users, out, []Operation{{Op: OpRemove, Path: mustPath(t, "emails"), Value: upper}}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out["emails"]; ok {
		t.Fatalf("emails left after removing all by value: %d", len(out["emails"].([]any)))
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("add and remove of %d values took %v", n, took)
	}

	_, _, err = ApplyContext(context.Background(), scim.Users, map[string]any{"userName": "u"}, add, Limits{MaxValues: 300})
	if se := scim.AsError(err); se == nil || se.ScimType != scim.InvalidValue {
		t.Fatalf("over the values bound: %v, want 400 invalidValue", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ApplyContext(ctx, scim.Users, map[string]any{"userName": "u"}, add, Limits{}); err != context.Canceled {
		t.Fatalf("a cancelled context: %v, want context.Canceled", err)
	}
}

func mustPath(t *testing.T, s string) *Path {
	t.Helper()
	p, err := parsePath(s, scim.Users, filter.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
