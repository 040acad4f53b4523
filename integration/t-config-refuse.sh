#!/usr/bin/env bash
# Configuration errors are refused before anything runs (OpenDKIM's t-conf-check): for each bad
# file, `segel-milter -c FILE --check-config`, `segelctl check-config FILE` and the daemon itself
# exit 78 (EX_CONFIG) and print FILE:LINE: with the key path, so the administrator knows where
# and what to fix. The unmodified standard configuration passes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup config-refuse
[ -x "$SEGEL_MILTER" ] || seg_fail "milter binary not found: $SEGEL_MILTER"
[ -x "$SEGELCTL" ] || seg_fail "segelctl binary not found: $SEGELCTL"
good="$T/good.yaml"
seg_write_config "$good"

# run_tool OUT CMD...: runs CMD (at most 10 s), output to OUT, sets RC.
run_tool() {
    local out=$1
    shift
    RC=0
    timeout 10 "$@" >"$out" 2>&1 </dev/null || RC=$?
}

run_tool "$T/good.out" "$SEGEL_MILTER" -c "$good" --check-config
[ "$RC" -eq 0 ] || { cat "$T/good.out" >&2; seg_fail "segel-milter --check-config rejects the standard config (exit $RC)"; }
run_tool "$T/good.out" "$SEGELCTL" check-config "$good" --user "$(id -un)"
[ "$RC" -eq 0 ] || { cat "$T/good.out" >&2; seg_fail "segelctl check-config rejects the standard config (exit $RC)"; }
seg_ok "the standard configuration passes both checks"

# line_of FILE FIXED-STRING: 1-based number of the first line containing the string.
line_of() { grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1; }

# refused NAME FILE LINE KEY-PATH [FIXED-STRING...]: all three entry points refuse FILE with
# exit 78 and name FILE:LINE:, the key path and every further string.
refused() {
    local name=$1 f=$2 line=$3 key=$4
    shift 4
    [ -n "$line" ] || seg_fail "test bug: no line number for case '$name'"
    local how out want
    for how in check-config segelctl daemon; do
        out="$T/$name.$how.out"
        rm -f "$MILTER_SOCK"
        case $how in
        check-config) run_tool "$out" "$SEGEL_MILTER" -c "$f" --check-config ;;
        segelctl) run_tool "$out" "$SEGELCTL" check-config "$f" --user "$(id -un)" ;;
        daemon) run_tool "$out" "$SEGEL_MILTER" -c "$f" ;;
        esac
        if [ "$RC" -ne 78 ]; then
            cat "$out" >&2
            seg_fail "$name: $how exited $RC, expected 78 (EX_CONFIG)"
        fi
        for want in "$f:$line:" "$key" "$@"; do
            grep -qF -- "$want" "$out" || { cat "$out" >&2; seg_fail "$name: $how output lacks '$want'"; }
        done
        if [ "$how" = daemon ] && [ -e "$MILTER_SOCK" ]; then
            seg_fail "$name: the daemon created its socket although the config is bad"
        fi
    done
    seg_ok "$name refused by --check-config, segelctl and the daemon: $(grep -F -- "$f:$line:" "$T/$name.check-config.out" | head -n 1)"
}

# --- an unknown key --------------------------------------------------------------------------------
f="$T/unknown-key.yaml"
awk '{ print } /^signing:$/ { print "  colour: blue" }' "$good" >"$f"
refused unknown-key "$f" "$(line_of "$f" "colour: blue")" signing.colour

# --- a required key missing: a domains entry without "domain" ---------------------------------------
f="$T/missing-domain.yaml"
awk '/^    - domain: examplekab.go.id$/ { next } /^      subdomains: true$/ { print "    - subdomains: true"; next } { print }' \
    "$good" >"$f"
refused missing-domain "$f" "$(line_of "$f" "- subdomains: true")" "signing.domains[1]" domain

# --- a bad value ------------------------------------------------------------------------------------
f="$T/bad-format.yaml"
sed 's/^  format: detached$/  format: sideways/' "$good" >"$f"
refused bad-format "$f" "$(line_of "$f" "format: sideways")" signing.format sideways

# --- a wrong type: a list where a size is expected --------------------------------------------------
f="$T/wrong-type.yaml"
sed 's/^  max_message_size: 50M$/  max_message_size: [50M]/' "$good" >"$f"
refused wrong-type "$f" "$(line_of "$f" "max_message_size: [50M]")" milter.max_message_size

# --- a passphrase file that does not exist ----------------------------------------------------------
f="$T/missing-pass.yaml"
sed "s|passphrase_file: $PKI/siti.pass\$|passphrase_file: $PKI/no-such.pass|" "$good" >"$f"
refused missing-passphrase "$f" "$(line_of "$f" "$PKI/no-such.pass")" "credentials[1].passphrase_file" \
    "$PKI/no-such.pass"

# --- a private key file readable by everyone ---------------------------------------------------------
cp "$PKI/budi.key" "$T/budi-644.key"
chmod 644 "$T/budi-644.key"
f="$T/world-readable-key.yaml"
sed "s|key: $PKI/budi.key\$|key: $T/budi-644.key|" "$good" >"$f"
refused world-readable-key "$f" "$(line_of "$f" "key: $T/budi-644.key")" "credentials[0].key" \
    "$T/budi-644.key" "chmod 600"

# --- a limit on inbound parsing that would let nothing through ---------------------------------------
f="$T/zero-limit.yaml"
cp "$good" "$f"
printf 'inbound:\n  limits:\n    max_parts: 0\n' >>"$f"
refused zero-limit "$f" "$(line_of "$f" "max_parts: 0")" inbound.limits.max_parts "whole number from 1 to 100000"
