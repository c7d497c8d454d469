package main

import (
	"flag"
	"os"
	"strings"
)

// Flags and the environment. A flag the environment may set reads one variable: SCIMD_ and
// the flag's name in upper case with underscores (--max-page-size reads SCIMD_MAX_PAGE_SIZE),
// and its help ends with "(env SCIMD_…)", which is also how parseArgs finds it: the help text
// is the one record, so what is documented is what is read. Every flag of serve may be set
// this way, and --database, --public-url and --addr of the other commands. parseArgs applies
// the environment before the command line, so the command line wins, and a value of either
// that does not parse is a usage error naming where it came from.

// envVar is the environment variable of the flag name.
func envVar(name string) string {
	return "SCIMD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// envNote is the end of the help of a flag the environment may set.
func envNote(name string) string { return " (env " + envVar(name) + ")" }

// fromEnv lets the environment set the named flags of fs, or every flag of fs when no name is
// given, and says so in their help.
func fromEnv(fs *flag.FlagSet, names ...string) {
	mark := func(f *flag.Flag) {
		if !strings.HasSuffix(f.Usage, envNote(f.Name)) {
			f.Usage += envNote(f.Name)
		}
	}
	if len(names) == 0 {
		fs.VisitAll(mark)
		return
	}
	for _, name := range names {
		mark(fs.Lookup(name))
	}
}

// setFromEnv gives every flag of fs that the environment may set the value of its variable,
// when that is set and not empty.
func setFromEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || !strings.HasSuffix(f.Usage, envNote(f.Name)) {
			return
		}
		v, ok := os.LookupEnv(envVar(f.Name))
		if !ok || v == "" {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = usageErr("%s=%q: %v", envVar(f.Name), v, e)
		}
	})
	return err
}
