#!/usr/bin/env bash
# check-unit.sh UNIT PROGRAM MAX [TIMER]: the systemd unit as configured must pass `systemd-analyze
# verify` and score at most MAX in `systemd-analyze security --offline=true` (0 = locked down,
# 10 = none). ExecStart is pointed at PROGRAM (the built binary) so verify finds an executable; man
# pages are not installed in a build tree, so their Documentation= lines are not checked here (the
# package test checks the installed units with everything in place). TIMER, when given, is the
# timer that starts UNIT: it must verify beside it.
set -euo pipefail
unit=$1 program=$2 max=$3 timer=${4:-}
name=$(basename "$unit")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -E "s|^ExecStart=[^ ]+|ExecStart=$program|" "$unit" >"$tmp/$name"
files=("$tmp/$name")
if [ -n "$timer" ]; then
    cp "$timer" "$tmp/" && files+=("$tmp/$(basename "$timer")")
fi
if ! out=$(systemd-analyze verify --man=no "${files[@]}" 2>&1) || [ -n "$out" ]; then
    printf 'FAIL - systemd-analyze verify:\n%s\n' "$out" >&2
    exit 1
fi
echo "ok - systemd-analyze verify: no complaints about ${files[*]##*/}"
report=$(systemd-analyze security --offline=true "$tmp/$name" 2>&1) || true
score=$(printf '%s\n' "$report" | sed -n "s/.*Overall exposure level for $name: \\([0-9.]*\\).*/\\1/p")
if [ -z "$score" ]; then
    printf 'FAIL - systemd-analyze security printed no score:\n%s\n' "$report" >&2
    exit 1
fi
if ! awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
    printf '%s\n' "$report" | grep '✗' >&2 || true
    echo "FAIL - systemd-analyze security: exposure $score, at most $max wanted" >&2
    exit 1
fi
echo "ok - systemd-analyze security --offline=true: exposure $score (at most $max)"
