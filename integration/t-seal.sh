#!/usr/bin/env bash
# The organisation seal (R7, docs/keys.md) through real Postfix: with signing.domains[].seal set,
# an authenticated sender who has no usable certificate of their own (none, expired, unfit for
# mail) is signed for with the seal's certificate; From stays the person, Sender names the seal,
# openssl and gpgsm verify the seal's signature, the log says "sealed by … for …", and segel's
# own inbound verification reads it back as sealed. The identity gate still applies, a personal
# certificate still wins, and without the setting nothing changes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup seal
seg_standard_start
seg_add_user "ani@$DINAS" ani-pw
seg_add_user "wahyu@$DINAS" wahyu-pw
seg_add_user "dedi@$DINAS" dedi-pw
seg_add_user "siti@$DINAS" siti-pw
seg_add_user budi budi-pw
SEAL="sekretariat@$DINAS"
delivered=0

# --- off by default: a sender with an expired certificate is refused ---------------------------------
seg_send "ani@$DINAS" "Ani Wulandari <ani@$DINAS>" kepala@mitra.example --auth "ani@$DINAS" ani-pw
seg_expect_reply "^550 5\.7\.1 no valid certificate for ani@$DINAS: expired 2026-01-01"
seg_ok "without a seal, a sender whose certificate expired is refused"

# --- the seal on ------------------------------------------------------------------------------------
sed "s|^    - domain: dinas.example.go.id\$|    - domain: dinas.example.go.id\n      seal: $SEAL|" "$SEG_CONFIG" \
    >"$T/seal.yaml"
grep -q "seal: $SEAL" "$T/seal.yaml" || seg_fail "test bug: the seal line was not added"
cp "$T/seal.yaml" "$SEG_CONFIG"
kill -USR1 "$SEG_MILTER_PID"
for _ in $(seq 100); do grep -q 'reload status=ok' "$T/milter.log" && break; sleep 0.1; done
grep -q 'reload status=ok' "$T/milter.log" || seg_fail "no reload logged"

# sealed LOGIN PASS ADDRESS NAME WHY: one message, signed by the seal for ADDRESS.
sealed() {
    local login=$1 pass=$2 address=$3 name=$4 why=$5 got="$T/got-$3.eml"
    seg_make_message "$T/in-$address.eml" "$name <$address>" kepala@mitra.example "Surat dari $name"
    seg_send "$address" - kepala@mitra.example --auth "$login" "$pass" --data-file "$T/in-$address.eml"
    seg_expect_reply '^250 2\.0\.0 Ok: queued as '
    seg_wait_delivered $((delivered += 1))
    seg_delivered_copy "$got"
    seg_expect_header "$got" From "^$name <$address>\$"
    seg_expect_header "$got" Sender "^\"Sekretariat Dinas Contoh\" <$SEAL>\$"
    [ "$(seg_header "$got" Sender | wc -l)" -eq 1 ] || seg_fail "$got has more than one Sender field"
    seg_expect_signed "$got" "$SEAL"
    [ "$(seg_signer_serial)" = "$(seg_cert_serial "$PKI/sekretariat.crt")" ] || seg_fail "not signed by the seal"
    grep -q "sign from=<$address> login=$login .*signer=$address sealed_by=$SEAL cert=$(seg_cert_serial "$PKI/sekretariat.crt")" \
        "$T/milter.log" || seg_fail "the sign log line does not say sealed_by=$SEAL for $address"
    grep -q "sealed by $SEAL for $address: $why" "$T/milter.log" \
        || seg_fail "the decision trail does not say why $address was sealed ($why)"
    seg_ok "$address ($why): From stays $name, Sender is the seal; openssl and gpgsm verify the seal's signature"
}
sealed "ani@$DINAS" ani-pw "ani@$DINAS" "Ani Wulandari" "no valid certificate for ani@$DINAS: expired 2026-01-01"
sealed "wahyu@$DINAS" wahyu-pw "wahyu@$DINAS" "Wahyu Hidayat" "no certificate for wahyu@$DINAS is installed"
sealed "dedi@$DINAS" dedi-pw "dedi@$DINAS" "Dedi Kurniawan" \
    "no valid certificate for dedi@$DINAS: extended key usage does not include emailProtection"

# --- the client's own Sender field is replaced, not doubled -----------------------------------------
seg_make_message "$T/with-sender.eml" "Wahyu Hidayat <wahyu@$DINAS>" kepala@mitra.example "Dengan Sender"
sed -i "1i Sender: Wahyu <wahyu@$DINAS>" "$T/with-sender.eml"
seg_send "wahyu@$DINAS" - kepala@mitra.example --auth "wahyu@$DINAS" wahyu-pw --data-file "$T/with-sender.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-with-sender.eml"
[ "$(seg_header "$T/got-with-sender.eml" Sender)" = "\"Sekretariat Dinas Contoh\" <$SEAL>" ] \
    || seg_fail "Sender is '$(seg_header "$T/got-with-sender.eml" Sender)', expected only the seal"
seg_ok "a Sender field the client wrote is replaced by the seal's"

# --- segel's own inbound verification reads it as sealed --------------------------------------------
"$SEGELCTL" verify --trust-anchors "$PKI/root.pem" "$T/got-ani@$DINAS.eml" >"$T/verify.out" 2>&1 \
    || { cat "$T/verify.out" >&2; seg_fail "segelctl verify rejects the sealed message"; }
grep -q ": pass signer=$SEAL " "$T/verify.out" && grep -q "sealed by $SEAL for ani@$DINAS" "$T/verify.out" \
    || { cat "$T/verify.out" >&2; seg_fail "segelctl verify does not report the seal"; }
seg_ok "segelctl verify: $(head -n 1 "$T/verify.out")"

# --- what does not change ---------------------------------------------------------------------------
seg_send "siti@$DINAS" "siti@$DINAS" kepala@mitra.example --auth "siti@$DINAS" siti-pw
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-siti.eml"
seg_expect_signed "$T/got-siti.eml" "siti@$DINAS"
if seg_header "$T/got-siti.eml" Sender | grep -q .; then seg_fail "siti's own signature got a Sender field"; fi
seg_ok "a sender with a usable certificate signs with it, without Sender"
seg_send "ani@$DINAS" "ani@$DINAS" kepala@mitra.example --auth budi budi-pw
seg_expect_reply "^550 5\.7\.1 login budi may not send as ani@$DINAS"
seg_ok "the identity gate comes first: login budi may not have ani's mail sealed"
seg_send "noreply@$DINAS" "noreply@$DINAS" kepala@mitra.example --xclient 127.0.0.5
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-system.eml"
seg_expect_signed "$T/got-system.eml" "noreply@$DINAS"
seg_ok "a system sender keeps signing with its own certificate"
[ "$(seg_sink_count)" -eq "$delivered" ] || seg_fail "sink holds $(seg_sink_count) messages, expected $delivered"
