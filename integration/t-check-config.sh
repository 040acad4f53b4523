#!/usr/bin/env bash
# check-config as an administrator meets it (issue 16): one run reports every mistake with
# FILE:LINE:COL: key, files are opened as the user the milter runs as (--user / -u) and say the
# system's reason ("Permission denied"), --config is taken the same way by every segelctl command
# and before the command word, and both programs print the CMake project's version.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup check-config
seg_write_config
run() { # OUT CMD...: runs CMD, output in OUT, status in RC
    local out=$1
    shift
    RC=0
    timeout 20 "$@" >"$out" 2>&1 </dev/null || RC=$?
}
expect_in() { # OUT FIXED-STRING...
    local out=$1 want
    shift
    for want in "$@"; do
        grep -qF -- "$want" "$out" || { cat "$out" >&2; seg_fail "output lacks '$want'"; }
    done
}
line_of() { grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1; }

# --- every mistake in one run ------------------------------------------------------------------
bad="$T/bad.yaml"
cp "$SEG_CONFIG" "$bad"
sed -i 's/^  max_message_size: 50M$/  max_message_size: lots\n  colour: blue/' "$bad"
sed -i 's/^  format: detached$/  format: sideways/' "$bad"
sed -i "s|$PKI/budi.key|$PKI/missing.key|" "$bad"
l_size=$(line_of "$bad" "max_message_size: lots")
l_colour=$(line_of "$bad" "colour: blue")
l_format=$(line_of "$bad" "format: sideways")
l_key=$(line_of "$bad" "missing.key")
for how in milter segelctl; do
    if [ $how = milter ]; then
        run "$T/bad.$how" "$SEGEL_MILTER" --check-config -c "$bad"
    else
        run "$T/bad.$how" "$SEGELCTL" check-config "$bad" --user "$(id -un)"
    fi
    [ "$RC" = 78 ] || { cat "$T/bad.$how" >&2; seg_fail "$how: exit $RC, expected 78"; }
    expect_in "$T/bad.$how" "$bad:$l_size:21: milter.max_message_size: \"lots\" is not a size" \
        "$bad:$l_colour:3: milter.colour: unknown key" \
        "$bad:$l_format:11: signing.format: \"sideways\" is not one of detached | opaque"
    # The key file is only tried when the file itself is valid; the three mistakes above come first.
done
seg_ok "one run names all three mistakes with FILE:LINE:COL: key (segel-milter --check-config and segelctl)"

keys="$T/keys.yaml"
cp "$SEG_CONFIG" "$keys"
sed -i "s|$PKI/budi.key|$PKI/missing.key|; s|$PKI/dedi.pass|$PKI/missing.pass|" "$keys"
l_key=$(line_of "$keys" "missing.key")
l_pass=$(line_of "$keys" "missing.pass")
run "$T/keys.out" "$SEGELCTL" check-config --config "$keys" --user "$(id -un)"
[ "$RC" = 78 ] || { cat "$T/keys.out" >&2; seg_fail "missing key files: exit $RC, expected 78"; }
expect_in "$T/keys.out" "$keys:$l_key:10: credentials[0].key:" "missing.key" "No such file or directory" \
    "$keys:$l_pass:" "missing.pass" "2 problem(s)"
seg_ok "two unreadable key files are both reported, each at its line, with the system's reason"

# --- as the user the milter runs as ---------------------------------------------------------------
printf 'metrics:\n  file: %s/segel.prom\n' "$T" >>"$SEG_CONFIG"
chmod 644 "$SEG_CONFIG"
run "$T/nobody.out" "$SEGELCTL" check-config "$SEG_CONFIG" --user nobody
[ "$RC" = 78 ] || { cat "$T/nobody.out" >&2; seg_fail "--user nobody: exit $RC, expected 78 (the keys are mode 600 root)"; }
l_p12=$(line_of "$SEG_CONFIG" "$PKI/siti.p12")
expect_in "$T/nobody.out" "$SEG_CONFIG:$l_p12:" "Permission denied" "checked as user nobody" \
    "milter.socket: cannot create the socket in $T: Permission denied" \
    "metrics.file: cannot write in $T: Permission denied"
run "$T/nobody-milter.out" "$SEGEL_MILTER" --check-config -c "$SEG_CONFIG" -u nobody
[ "$RC" = 78 ] || { cat "$T/nobody-milter.out" >&2; seg_fail "segel-milter --check-config -u nobody: exit $RC"; }
expect_in "$T/nobody-milter.out" "Permission denied" "checked as user nobody"
run "$T/root.out" "$SEGELCTL" check-config "$SEG_CONFIG" --user "$(id -un)"
[ "$RC" = 0 ] || { cat "$T/root.out" >&2; seg_fail "the same file as $(id -un): exit $RC, expected 0"; }
expect_in "$T/root.out" "OK (" "checked as user $(id -un)"
chmod 600 "$SEG_CONFIG"
run "$T/unreadable.out" "$SEGELCTL" check-config "$SEG_CONFIG" --user nobody
[ "$RC" = 78 ] || seg_fail "unreadable config: exit $RC, expected 78"
expect_in "$T/unreadable.out" "$SEG_CONFIG:0:0: cannot open the configuration file: Permission denied"
seg_ok "--user nobody / -u nobody: keys, socket directory and the file itself say 'Permission denied'"

# --- --config the same way everywhere; --version ---------------------------------------------------
run "$T/certs-after.out" "$SEGELCTL" certs --config "$SEG_CONFIG"
[ "$RC" = 0 ] || { cat "$T/certs-after.out" >&2; seg_fail "certs --config: exit $RC"; }
run "$T/certs-before.out" "$SEGELCTL" --config "$SEG_CONFIG" certs
[ "$RC" = 0 ] || { cat "$T/certs-before.out" >&2; seg_fail "--config before certs: exit $RC"; }
cmp -s "$T/certs-after.out" "$T/certs-before.out" || seg_fail "--config before and after the command differ"
run "$T/explain.out" "$SEGELCTL" -c "$SEG_CONFIG" explain --from "siti@$DINAS" --login "siti@$DINAS"
[ "$RC" = 0 ] || { cat "$T/explain.out" >&2; seg_fail "-c before explain: exit $RC"; }
expect_in "$T/explain.out" "decision:  SIGN as siti@$DINAS"
run "$T/check-c.out" "$SEGELCTL" -c "$SEG_CONFIG" check-config --user "$(id -un)"
[ "$RC" = 0 ] || { cat "$T/check-c.out" >&2; seg_fail "-c before check-config: exit $RC"; }
run "$T/verify-c.out" "$SEGELCTL" -c "$T/does-not-exist.yaml" verify "$PKI/root.pem"
[ "$RC" != 0 ] || seg_fail "verify with a missing --config given before the command succeeded"
expect_in "$T/verify-c.out" "does-not-exist.yaml"
seg_ok "--config/-c before or after the command word, for check-config, certs, explain and verify"

want=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$REPO/build/CMakeCache.txt" 2>/dev/null || true)
[ -n "$want" ] || want=$(sed -n 's/^project(segel VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")
[ "$("$SEGELCTL" --version)" = "segelctl $want" ] || seg_fail "segelctl --version: '$("$SEGELCTL" --version)', expected 'segelctl $want'"
[ "$("$SEGEL_MILTER" --version)" = "segel-milter $want" ] || seg_fail "segel-milter --version: '$("$SEGEL_MILTER" --version)'"
seg_ok "segelctl --version and segel-milter --version print $want, the CMake project's version"
