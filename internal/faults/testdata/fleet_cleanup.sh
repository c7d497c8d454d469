#!/usr/bin/env bash
# The last resort of `make fleet-test`: kills what the fleet test started and left running
# (it stops everything itself, unless it was killed). Only processes recorded in DIR/pids
# whose command line still names the fleet directory or a scimd built for the fault tests,
# and the postmasters of DIR's data directories, are killed: nothing else on the machine.
set -u
dir=$1
[ -d "$dir" ] || exit 0
if [ -f "$dir/pids" ]; then
  while read -r p; do
    [ -r "/proc/$p/cmdline" ] || continue
    cmd=$(tr '\0' ' ' < "/proc/$p/cmdline")
    case "$cmd" in
      *"$dir"*|*scimd-faults-*) kill -9 -- "-$p" 2>/dev/null; kill -9 "$p" 2>/dev/null ;;
    esac
  done < "$dir/pids"
fi
for f in "$dir"/pg/*/postmaster.pid; do
  [ -f "$f" ] || continue
  p=$(head -1 "$f")
  if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' < "/proc/$p/cmdline" | grep -q -- "$dir"; then
    kill -9 "$p" 2>/dev/null
  fi
done
exit 0
