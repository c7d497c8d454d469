// Command scimd is the SCIM 2.0 and SAML 2.0 service provider of a multi-tenant SaaS
// application, and the CLI that manages its tenants and tokens. Run `scimd help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `scimd: a SCIM 2.0 and SAML 2.0 service provider for a multi-tenant application.

Usage:
  scimd serve   [--addr 127.0.0.1:8080] [--database DSN] [--public-url URL] [flags]
  scimd migrate [--database DSN]
  scimd tenant create SLUG [--name NAME]
  scimd tenant list
  scimd tenant show SLUG
  scimd tenant user-types SLUG --allowed admin,member,viewer,guest --default member
  scimd tenant user-type-rules SLUG --source groups --rule "Monday Admins=admin" [--rule ...]
  scimd tenant user-type-rules SLUG --source idp | --resume
  scimd token create --tenant SLUG --label LABEL
  scimd token list --tenant SLUG
  scimd token revoke ID
  scimd saml configure --tenant SLUG --sso-url URL --issuer ENTITY_ID --cert FILE.pem
                        [--jit] [--allow-idp-initiated] [--default-redirect PATH]
  scimd saml configure --tenant SLUG --idp-metadata FILE [--jit] [...]
  scimd saml show --tenant SLUG [--public-url URL]
  scimd events --tenant SLUG [--since 24h] [--user ID|--group ID] [--event NAME] [--json]
  scimd events stream create --url URL|--poll [--tenant SLUG|--all-tenants] [--events prov:…]
  scimd events stream status [ID] | pause ID | resume ID | delete ID | replay ID --since 24h
  scimd admin link --tenant SLUG [--public-url URL]   # one-time sign-in URL to the admin console
  scimd app create --name NAME --redirect-uri URL [--redirect-uri URL…] [--public]
  scimd app list
  scimd app delete CLIENT_ID
  scimd app rotate-secret CLIENT_ID [--grace 24h]
  scimd oidc rotate-key [--publish-lead 10m]
  scimd healthcheck                 # GET /healthz on SCIMD_ADDR (container health checks)

Every command that touches data takes --database DSN (env SCIMD_DATABASE):
postgres://user@host:5432/db for PostgreSQL, or sqlite:PATH (default sqlite:scimd.db).
Run 'scimd COMMAND --help' for a command's flags.
`

// exitError carries an exit code; its message is printed as one line.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// run executes the command line args and returns the process exit code. Errors are printed
// to stderr as one line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(stderr, "scimd: %s\n", oneLine(err.Error()))
	return code
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErr("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serveCmd(ctx, rest, stderr)
	case "migrate":
		return migrateCmd(ctx, rest, stdout, stderr)
	case "tenant":
		return tenantCmd(ctx, rest, stdout, stderr)
	case "token":
		return tokenCmd(ctx, rest, stdout, stderr)
	case "saml":
		return samlCmd(ctx, rest, stdout, stderr)
	case "events":
		return eventsCmd(ctx, rest, stdout, stderr)
	case "admin":
		return adminCmd(ctx, rest, stdout, stderr)
	case "app":
		return appCmd(ctx, rest, stdout, stderr)
	case "oidc":
		return oidcCmd(ctx, rest, stdout, stderr)
	case "healthcheck": // for container health checks; see healthcheck.go
		return healthcheckCmd(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErr("unknown command %q", cmd)
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("scimd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseArgs parses flags that may come before or after positional arguments
// (`scimd tenant create acme --name Acme`) and returns the positional ones. The environment
// is applied first (env.go), so the command line wins.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := setFromEnv(fs); err != nil {
		return nil, err
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr("%s", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// databaseFlag adds the --database flag every data command shares.
func databaseFlag(fs *flag.FlagSet) *string {
	p := new(string)
	fs.StringVar(p, "database", "sqlite:scimd.db", "database: postgres://… or sqlite:PATH")
	fromEnv(fs, "database")
	return p
}

// publicURLFlag adds the --public-url flag of the commands that print browser links.
func publicURLFlag(fs *flag.FlagSet) *string {
	p := fs.String("public-url", "http://127.0.0.1:8080", "absolute URL browsers reach scimd at, as given to serve")
	fromEnv(fs, "public-url")
	return p
}
