// Package defaults holds the one rule every package's Config follows for its bounds: a
// bound left at zero (or set negative) takes the package's default. Bounds where a negative
// value means "no limit" say so and do not use it.
package defaults

// Positive sets *v to def when *v is zero or negative.
func Positive[T ~int | ~int64 | ~float64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
