#!/usr/bin/env bash
# check-unit.sh UNIT MILTER MAX: the systemd unit as configured must pass `systemd-analyze verify`
# and score at most MAX in `systemd-analyze security --offline=true` (0 = locked down, 10 = none).
# ExecStart is pointed at MILTER (the built binary) so verify finds an executable; man pages are
# not installed in a build tree, so their Documentation= lines are not checked here (the package
# test checks the installed unit with everything in place).
set -euo pipefail
unit=$1 milter=$2 max=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -E "s|^ExecStart=[^ ]+|ExecStart=$milter|" "$unit" >"$tmp/segel.service"
if ! out=$(systemd-analyze verify --man=no "$tmp/segel.service" 2>&1) || [ -n "$out" ]; then
    printf 'FAIL - systemd-analyze verify:\n%s\n' "$out" >&2
    exit 1
fi
echo "ok - systemd-analyze verify: no complaints"
report=$(systemd-analyze security --offline=true "$tmp/segel.service" 2>&1) || true
score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for segel.service: \([0-9.]*\).*/\1/p')
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
