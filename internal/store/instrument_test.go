package store

import (
	"reflect"
	"testing"
	"time"
)

// TestInstrumentTimesEveryMethod calls every method of Store on an instrumented store whose
// inner store is nil: a wrapped method reports its operation (its deferred report runs while
// the nil call panics); a method that only passes through reports nothing. Only PoolStats,
// Version, Close and SubscribeTenantChanges (a registration, no database work) may pass
// through.
func TestInstrumentTimesEveryMethod(t *testing.T) {
	untimed := map[string]bool{"PoolStats": true, "Version": true, "Close": true, "SubscribeTenantChanges": true}
	seen := map[string]bool{}
	var ops []string
	s := Instrument(nil, func(op string, _ time.Duration, _ bool) { ops = append(ops, op) })
	v := reflect.ValueOf(s)
	st := reflect.TypeFor[Store]()
	for i := range st.NumMethod() {
		name := st.Method(i).Name
		m := v.MethodByName(name)
		args := make([]reflect.Value, m.Type().NumIn())
		for j := range args {
			args[j] = reflect.Zero(m.Type().In(j))
		}
		before := len(ops)
		func() {
			defer func() { recover() }()
			m.Call(args)
		}()
		timed := len(ops) == before+1
		if timed == untimed[name] {
			t.Errorf("%s: timed = %v, want %v", name, timed, !untimed[name])
		}
		if timed {
			if op := ops[before]; seen[op] {
				t.Errorf("%s reports operation %q, already reported by another method", name, op)
			} else {
				seen[op] = true
			}
		}
	}
}
