package patch

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/scimd/scimd/internal/scim"
)

// ApplyContext is Apply with a context and limits: it stops with ctx's error between
// operations and every few thousand values, so that a request past its deadline does not go
// on holding a row lock, and it refuses a multi-valued attribute that grows past
// lim.MaxValues. The cost of an add or remove of n values to a list of m is O(n+m).
func ApplyContext(ctx context.Context, rt *scim.ResourceType, attrs map[string]any, ops []Operation, lim Limits) (map[string]any, []string, error) {
	before := pruneMap(deepCopyMap(attrs))
	out := deepCopyMap(before)
	a := applier{rt: rt, attrs: out, ctx: ctx, lim: lim}
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if err := a.apply(op); err != nil {
			return nil, nil, inOp(i, err)
		}
		pruneMap(out)
	}
	return out, changed(rt, before, out), nil
}

// checkEvery is how many values a loop handles between two looks at the context.
const checkEvery = 1024

// tick returns the context's error every checkEvery calls with i.
func (a *applier) tick(i int) error {
	if a.ctx == nil || i%checkEvery != checkEvery-1 {
		return nil
	}
	return a.ctx.Err()
}

// checkCount refuses a list of def's values longer than the limit.
func (a *applier) checkCount(def *scim.Attribute, name string, n int) error {
	if a.lim.MaxValues > 0 && n > a.lim.MaxValues && def.Name != "members" {
		return scim.BadRequest(scim.InvalidValue, "%s may hold at most %d values; this request would make it %d", name, a.lim.MaxValues, n)
	}
	return nil
}

// canonical returns a key equal for two values exactly when reflect.DeepEqual holds for
// them (values as Normalize makes them: maps, lists, strings, bools, json.Number):
// encoding/json writes map keys sorted and a json.Number as sent.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%T:%v", v, v) // not reached for normalized values
	}
	return string(b)
}

// scalarKey is the key under which sameScalar(a, b, caseExact) holds for equal keys.
func scalarKey(v any, caseExact bool) string {
	if s, ok := v.(string); ok {
		if !caseExact {
			return "s" + scim.FoldKey(s)
		}
		return "s" + s
	}
	return "v" + canonical(v)
}
