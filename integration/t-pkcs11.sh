#!/usr/bin/env bash
# Keys in a PKCS#11 token (R8, docs/keys.md) through real Postfix: a SoftHSM2 token holds an
# imported RSA key (certificate from a file) and an EC P-256 key generated in the token (never
# extractable; certificate stored in the token). Mail is signed with them and verified by openssl
# and gpgsm; the token disappears mid-run (451, a clear log line) and comes back (signing resumes
# by itself); a reload finds a key added to the token; the same token served by `p11-kit server`
# to a milter that never loads SoftHSM (p11-kit-client.so), including that server going down and
# up; configuration mistakes refuse to start with the line to fix.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hsm-lib.sh"

seg_setup pkcs11
hsm_setup
seg_start_sink
seg_start_postfix
seg_add_user "siti@$DINAS" siti-pw
seg_add_user budi budi-pw
seg_add_user rina@kominfo.examplekab.go.id rina-pw
delivered=0

# --- the token: siti's RSA key imported, budi's EC key generated in it -----------------------------
hsm_import siti siti 01
hsm_generate ec budi 02
hsm_issue ec budi "budi@$DINAS" "Budi Santoso" "$HSM_DIR/budi.crt"
hsm_store_cert "$HSM_DIR/budi.crt" budi 02
hsm__tool --list-objects --type privkey >"$T/privkeys.txt" 2>&1
grep -A4 "label: *budi" "$T/privkeys.txt" | grep -q "never extractable" \
    || { cat "$T/privkeys.txt" >&2; seg_fail "budi's key is not marked never extractable"; }
if hsm__tool --read-object --type privkey --label budi -o "$T/stolen.der" >/dev/null 2>&1 && [ -s "$T/stolen.der" ]; then
    seg_fail "budi's private key could be read out of the token"
fi
seg_ok "token: siti's RSA key imported, budi's EC P-256 key generated inside and not extractable"

# token_config FILE MODULE [EXTRA CREDENTIAL LINES]: the standard configuration with the keys in
# the token (siti: certificate file; budi: certificate from the token).
token_config() {
    local f=$1 module=$2
    shift 2
    seg_write_config "$f.base"
    sed '/^credentials:/,$d' "$f.base" >"$f"
    {
        printf 'credentials:\n'
        printf '  - pkcs11: "pkcs11:token=segel;object=siti;type=private"\n    module: %s\n' "$module"
        printf '    pin_file: %s\n    certificate: %s\n' "$HSM_PIN_FILE" "$PKI/siti.crt"
        printf '  - pkcs11: "pkcs11:token=segel;id=%%02"\n    module: %s\n    pin_file: %s\n' "$module" "$HSM_PIN_FILE"
        printf '%s\n' "$@"
    } >>"$f"
}

# sign_as LOGIN PASS FROM CERT: one message through Postfix, signed by the token key of CERT.
sign_as() {
    local login=$1 pass=$2 from=$3 cert=$4
    seg_send "$from" "$from" kepala@mitra.example --auth "$login" "$pass" --subject "token $from"
    seg_expect_reply '^250 2\.0\.0 Ok: queued as '
    seg_wait_delivered $((delivered += 1))
    seg_delivered_copy "$T/got.eml"
    seg_expect_signed "$T/got.eml" "$from"
    [ "$(seg_signer_serial)" = "$(seg_cert_serial "$cert")" ] \
        || seg_fail "signed with certificate $(seg_signer_serial), expected $(seg_cert_serial "$cert")"
    grep "sign from=<$from>" "$T/milter.log" | tail -n 1 | grep -q " cert=$(seg_cert_serial "$cert") key=pkcs11 " \
        || seg_fail "the sign line does not say the key is in a token (key=pkcs11)"
}

token_config "$SEG_CONFIG" "$HSM_MODULE"
seg_start_milter
sign_as "siti@$DINAS" siti-pw "siti@$DINAS" "$PKI/siti.crt"
seg_ok "siti's mail is signed in the token (RSA, certificate file); openssl and gpgsm verify"
sign_as budi budi-pw "budi@$DINAS" "$HSM_DIR/budi.crt"
seg_ok "budi's mail is signed in the token (EC P-256 generated there, certificate from the token)"

# --- the token disappears mid-run, then comes back --------------------------------------------------
hsm_away
seg_send "siti@$DINAS" "siti@$DINAS" kepala@mitra.example --auth "siti@$DINAS" siti-pw --subject "while away"
seg_expect_reply '^451 4\.3\.0 segel: the signing key or a signing service is unavailable right now'
grep -q "eom: unavailable: signing with the key pkcs11:token=segel;object=siti;type=private (module $HSM_MODULE)" \
    "$T/milter.log" || seg_fail "no log line names the token key that failed"
seg_send "budi@$DINAS" "budi@$DINAS" kepala@mitra.example --auth budi budi-pw --subject "still away"
seg_expect_reply '^451 4\.3\.0 '
grep -q "cannot load or initialise PKCS#11 module $HSM_MODULE.*tried again at the next message" "$T/milter.log" \
    || seg_fail "the failed reconnect is not logged with its reason"
[ "$(seg_sink_count)" -eq "$delivered" ] || seg_fail "a message left while the token was away"
seg_ok "token away: 451 for siti and budi, each logged with the key and the reason; nothing left unsigned"
hsm_back
sign_as "siti@$DINAS" siti-pw "siti@$DINAS" "$PKI/siti.crt"
sign_as budi budi-pw "budi@$DINAS" "$HSM_DIR/budi.crt"
seg_ok "token back: both sign again without a restart or reload"

# --- a reload finds a key added to the token --------------------------------------------------------
seg_send rina@kominfo.examplekab.go.id rina@kominfo.examplekab.go.id kepala@mitra.example \
    --auth rina@kominfo.examplekab.go.id rina-pw
seg_expect_reply '^550 5\.7\.1 no certificate for rina@kominfo\.examplekab\.go\.id'
hsm_import rina rina 03
token_config "$SEG_CONFIG" "$HSM_MODULE" \
    '  - pkcs11: "pkcs11:token=segel;object=rina"' "    module: $HSM_MODULE" "    pin_file: $HSM_PIN_FILE" \
    "    certificate: $PKI/rina.crt"
kill -USR1 "$SEG_MILTER_PID"
for _ in $(seq 100); do grep -q 'reload status=ok' "$T/milter.log" && break; sleep 0.1; done
grep -q 'reload status=ok' "$T/milter.log" || seg_fail "no reload logged"
sign_as rina@kominfo.examplekab.go.id rina-pw rina@kominfo.examplekab.go.id "$PKI/rina.crt"
sign_as "siti@$DINAS" siti-pw "siti@$DINAS" "$PKI/siti.crt"
seg_ok "after SIGUSR1 the key added to the token signs; the others still do"
seg_stop_milter

# --- the token outside the milter: p11-kit server + p11-kit-client.so -------------------------------
hsm_p11kit_start
token_config "$T/p11kit.yaml" "$HSM_CLIENT_MODULE"
P11_KIT_SERVER_ADDRESS="unix:path=$HSM_P11KIT_SOCKET" SOFTHSM2_CONF=/nonexistent seg_start_milter "$T/p11kit.yaml"
sign_as "siti@$DINAS" siti-pw "siti@$DINAS" "$PKI/siti.crt"
sign_as budi budi-pw "budi@$DINAS" "$HSM_DIR/budi.crt"
if grep -q libsofthsm2 "/proc/$SEG_MILTER_PID/maps"; then
    seg_fail "the milter loaded SoftHSM itself; the key must stay in the p11-kit server's process"
fi
grep -q p11-kit-client "/proc/$SEG_MILTER_PID/maps" || seg_fail "the milter did not load p11-kit-client.so"
seg_ok "p11-kit server: the milter signs through p11-kit-client.so and never maps SoftHSM"
hsm_p11kit_stop
seg_send "siti@$DINAS" "siti@$DINAS" kepala@mitra.example --auth "siti@$DINAS" siti-pw --subject "server down"
seg_expect_reply '^451 4\.3\.0 '
hsm_p11kit_start
sign_as "siti@$DINAS" siti-pw "siti@$DINAS" "$PKI/siti.crt"
seg_ok "p11-kit server down: 451; back up: signing resumes by itself"
seg_stop_milter
hsm_p11kit_stop

# --- mistakes refuse to start, pointing at the line -------------------------------------------------
check_refused() { # NAME FILE FIXED-STRING...
    local name=$1 f=$2 rc=0 want
    shift 2
    timeout 20 "$SEGEL_MILTER" -c "$f" --check-config >"$T/$name.out" 2>&1 </dev/null || rc=$?
    [ "$rc" -eq 78 ] || { cat "$T/$name.out" >&2; seg_fail "$name: exit $rc, expected 78"; }
    for want in "$@"; do
        grep -qF -- "$want" "$T/$name.out" || { cat "$T/$name.out" >&2; seg_fail "$name: output lacks '$want'"; }
    done
    seg_ok "$name refused: $(head -n 1 "$T/$name.out")"
}
printf '9999\n' >"$T/wrong.pin"
chmod 600 "$T/wrong.pin"
sed "0,\\|pin_file: $HSM_PIN_FILE|s||pin_file: $T/wrong.pin|" "$SEG_CONFIG" >"$T/wrong-pin.yaml"
check_refused wrong-pin "$T/wrong-pin.yaml" \
    "$T/wrong-pin.yaml:$(grep -n "pin_file: $T/wrong.pin" "$T/wrong-pin.yaml" | cut -d: -f1):" \
    "credentials[0].pin_file" "wrong PIN (CKR_PIN_INCORRECT)"
grep -q 9999 "$T/wrong-pin.out" && seg_fail "the wrong PIN appears in the error"
sed 's|object=siti;type=private|object=siti;pin-value=1234|' "$SEG_CONFIG" >"$T/pin-in-uri.yaml"
check_refused pin-in-uri "$T/pin-in-uri.yaml" "credentials[0].pkcs11" "the PIN goes in pin_file"
sed 's|object=siti;type=private|object=nobody|' "$SEG_CONFIG" >"$T/no-key.yaml"
check_refused no-such-key "$T/no-key.yaml" "credentials[0].pkcs11" 'no such private key in token "segel"'
chmod 644 "$HSM_PIN_FILE"
check_refused open-pin-file "$SEG_CONFIG" "credentials[0].pin_file" "chmod 600 $HSM_PIN_FILE"
chmod 600 "$HSM_PIN_FILE"
