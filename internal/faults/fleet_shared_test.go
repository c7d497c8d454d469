//go:build fleet

package faults

import "testing"

func (f *fleet) sharedState(t *testing.T) {}
