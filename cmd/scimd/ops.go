package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlstore"
	"github.com/scimd/scimd/migrations"
)

// opsConfig is serve's operations settings: metrics labels and audit event retention.
type opsConfig struct {
	MetricsTenantLabel bool
	EventsRetention    retention
}

// opsFlags adds the operations flags of serve to fs.
func opsFlags(fs *flag.FlagSet, c *opsConfig) {
	fs.BoolVar(&c.MetricsTenantLabel, "metrics-tenant-label", false,
		"label scimd_provisioning_events_total with the tenant slug; for a bounded number of tenants")
	fs.Var(&c.EventsRetention, "events-retention",
		"delete audit events older than this (90d, 720h); 0 keeps them all")
}

// retention is a flag.Value for a duration that also takes days (90d); 0 keeps everything.
type retention time.Duration

func (r *retention) String() string {
	if r == nil || *r == 0 {
		return "0"
	}
	return time.Duration(*r).String()
}

func (r *retention) Set(s string) error {
	d, err := parseRetention(s)
	if err != nil {
		return err
	}
	*r = retention(d)
	return nil
}

func parseRetention(s string) (time.Duration, error) {
	if s == "0" || s == "" {
		return 0, nil
	}
	d, err := parseDays(s)
	if err != nil {
		return 0, err
	}
	if d < time.Hour {
		return 0, fmt.Errorf("keep events at least an hour (or 0 to keep them all)")
	}
	return d, nil
}

// pruneEvery is how often audit events past the retention are deleted.
const pruneEvery = time.Hour

// startPruning deletes audit events older than the retention now and then every
// pruneEvery, until ctx is done; stop waits for a pruning under way to end. A retention of
// 0 prunes nothing.
func startPruning(ctx context.Context, s store.Store, c opsConfig, log *slog.Logger) (stop func(), err error) {
	keep := time.Duration(c.EventsRetention)
	if keep == 0 {
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { pruneEvents(s, keep, time.Now).loop(ctx, log) })
	return func() { cancel(); wg.Wait() }, nil
}

// pruneEvents is the chore that deletes audit events older than keep.
func pruneEvents(s store.Store, keep time.Duration, now func() time.Time) chore {
	return chore{name: "audit events past the retention", every: pruneEvery, run: func(ctx context.Context) (int64, error) {
		return s.PruneEvents(ctx, now().UTC().Add(-keep))
	}}
}

// chore is one housekeeping job of serve: the pruning of audit events, of expired SAML
// requests and sessions, of expired OIDC requests, tokens and retired keys; the refresh of
// IdP metadata URLs. Every replica runs them; deleting what another replica already deleted
// is harmless, and the refresh claims each tenant in the database first.
type chore struct {
	name  string
	every time.Duration
	run   func(context.Context) (int64, error) // one pass; the rows it deleted (or the items it handled)
}

// loop runs the chore at once and then every c.every until ctx is done, logging how many
// rows a pass handled and, at warn, a failure.
func (c chore) loop(ctx context.Context, log *slog.Logger) {
	tick := time.NewTicker(c.every)
	defer tick.Stop()
	for {
		n, err := c.run(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "housekeeping failed", "chore", c.name, "err", err)
		case n > 0:
			log.InfoContext(ctx, "housekeeping done", "chore", c.name, "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// expectedMigration returns the highest migration embedded for the database's dialect:
// the version /readyz requires.
func expectedMigration(db database) (int, error) {
	all, err := sqlstore.Migrations(migrations.FS, db.MigrationDir())
	if err != nil || len(all) == 0 {
		return 0, err
	}
	return all[len(all)-1].Version, nil
}

// startOps prepares serve's operations on the opened database: it returns the migration
// version /readyz requires and starts pruning audit events; stop ends the pruning.
func startOps(ctx context.Context, c opsConfig, db database, log *slog.Logger) (expected int, stop func(), err error) {
	if expected, err = expectedMigration(db); err != nil {
		return 0, nil, err
	}
	stop, err = startPruning(ctx, db, c, log)
	return expected, stop, err
}
