package testlog

import (
	"log/slog"
	"sync"
	"testing"
)

func TestRecords(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { log.Info("saml login refused", "reason", "bad_signature") })
	}
	wg.Go(func() { log.Info("request") })
	wg.Wait()
	b.Write([]byte("not json\n"))
	for _, tc := range []struct {
		prefix string
		want   int
	}{{"saml login refused", 8}, {"request", 1}, {"", 9}, {"nothing", 0}} {
		if got := len(b.Records(tc.prefix)); got != tc.want {
			t.Errorf("Records(%q) = %d records, want %d", tc.prefix, got, tc.want)
		}
	}
}
