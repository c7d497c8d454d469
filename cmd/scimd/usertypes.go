package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// ruleFlags collects repeated --rule "GROUP=USERTYPE" flags, in order.
type ruleFlags []store.UserTypeRule

func (r *ruleFlags) String() string { return fmt.Sprint(*r) }

func (r *ruleFlags) Set(s string) error {
	rule, err := directory.ParseUserTypeRule(s)
	if err != nil {
		return err
	}
	*r = append(*r, rule)
	return nil
}

// tenantUserTypeRulesCmd is `scimd tenant user-type-rules SLUG --source groups --rule
// "Monday Admins=admin" …`: it sets the tenant's source of userType and its rules, then
// recomputes every user in batches, printing progress. --resume continues a recomputation
// that was interrupted, without changing the rules.
func tenantUserTypeRulesCmd(ctx context.Context, fs *flag.FlagSet, dsn *string, args []string, stdout io.Writer) error {
	source := fs.String("source", "", `where userType comes from: "idp" (what the IdP sends) or "groups" (the rules)`)
	var rules ruleFlags
	fs.Var(&rules, "rule", `a rule "GROUP=USERTYPE" (GROUP: a group's displayName or id); repeat it, first match wins`)
	groupsAttr := fs.String("groups-attribute", "", "SAML attribute naming a just-in-time user's groups (default: groups, then memberOf)")
	resume := fs.Bool("resume", false, "continue an interrupted recomputation; the rules stay as they are")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	const use = `usage: scimd tenant user-type-rules SLUG --source idp|groups [--rule "GROUP=USERTYPE" ...] [--groups-attribute NAME] | --resume`
	if len(pos) != 1 || (*source == "") == !*resume {
		return usageErr(use)
	}
	return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, _ store.Store) error {
		t, err := d.Tenant(ctx, pos[0])
		if err != nil {
			return err
		}
		if !*resume {
			var stored store.UserTypeRules
			t, stored, err = d.SetUserTypeRules(ctx, t, store.UserTypeRules{Source: *source, Rules: rules, GroupsAttr: *groupsAttr})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "tenant %s: %s\n", t.Slug, describe(stored))
		}
		return recompute(ctx, d, t, stdout)
	})
}

// recompute runs the tenant's pending recomputation to its end, one line per batch. An
// interruption (Ctrl-C) leaves it resumable.
func recompute(ctx context.Context, d *directory.Directory, t store.Tenant, stdout io.Writer) error {
	changed := 0
	for {
		p, err := d.RecomputeUserTypes(ctx, t)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return fmt.Errorf("interrupted; continue with: scimd tenant user-type-rules %s --resume", t.Slug)
			}
			return err
		}
		changed += p.Changed
		if !p.Pending {
			fmt.Fprintf(stdout, "recomputed %d of %d users: %d userType changes\n", p.Total, p.Total, changed)
			return nil
		}
		fmt.Fprintf(stdout, "recomputed %d of %d users…\n", p.Done, p.Total)
	}
}

// describe is a rule set for people.
func describe(r store.UserTypeRules) string {
	if r.Source != store.UserTypeFromGroups {
		return "userType from the IdP (else the default)"
	}
	var b strings.Builder
	b.WriteString("userType from groups, first match wins:")
	for i, rule := range r.Rules {
		fmt.Fprintf(&b, "\n  %d. %q → %s", i+1, rule.Group, rule.UserType)
	}
	return b.String()
}

// tenantShowCmd is `scimd tenant show SLUG`: the tenant's settings, its userType rules and
// where a recomputation stands.
func tenantShowCmd(ctx context.Context, fs *flag.FlagSet, dsn *string, args []string, stdout io.Writer) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("usage: scimd tenant show SLUG")
	}
	return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, _ store.Store) error {
		t, err := d.Tenant(ctx, pos[0])
		if err != nil {
			return err
		}
		rules, err := d.UserTypeRules(ctx, t)
		if err != nil {
			return err
		}
		p, err := d.UserTypeProgress(ctx, t)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "tenant:     %s (%s)\nuser types: %s, default %s\nusers:      %d\n", t.Slug, t.Name,
			strings.Join(t.UserTypes, ","), t.DefaultUserType, p.Total)
		fmt.Fprintf(stdout, "source:     %s\n", describe(rules))
		if rules.Source != store.UserTypeFromGroups && len(rules.Rules) > 0 {
			fmt.Fprintf(stdout, "            (%d rules kept, not applied)\n", len(rules.Rules))
		}
		attr := rules.GroupsAttr
		if attr == "" {
			attr = "groups, then memberOf"
		}
		fmt.Fprintf(stdout, "SAML groups attribute: %s\n", attr)
		if p.Pending {
			fmt.Fprintf(stdout, "recomputation pending: %d of %d users done (scimd tenant user-type-rules %s --resume)\n", p.Done, p.Total, t.Slug)
		}
		return nil
	})
}
