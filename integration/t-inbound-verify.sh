#!/usr/bin/env bash
# Inbound verification through real Postfix (R4, R12, R13): mail from outside (XCLIENT 192.0.2.x,
# not internal, no AUTH) is verified; the delivered copy carries our Authentication-Results
# (RFC 8601 + RFC 7281 smime), forged A-R fields claiming our authserv-id are gone (foreign ones
# stay), the subject is tagged, the signed body is byte-identical to what was sent, trusted
# signers' certificates are harvested. Signatures made by openssl cms, by gpgsm and by segel's own
# outbound path all pass; a changed byte fails. Official-domain mail without a valid signature is
# tagged, quarantined (Postfix hold queue) or rejected per inbound.sender_protection.
# Outbound mail is unaffected (no A-R added, still signed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup inbound-verify
AUTHSERV=mx.segel-test.example
seg_start_sink
# Mail for dinas.example.go.id from any client is accepted and relayed to the sink (our "mailboxes").
seg_start_postfix_inbound
seg_add_user "siti@$DINAS" siti-pw

# write_inbound_config FILE PROTECTION: the standard config plus an inbound section.
write_inbound_config() {
    seg_write_config "$1"
    cat >>"$1" <<EOF
inbound:
  authserv_id: $AUTHSERV
  sender_protection: $2
  harvest_directory: $T/recipients
  subject_tag:
    enabled: true
    language: id
EOF
}
write_inbound_config "$T/tag.yaml" tag
seg_start_milter "$T/tag.yaml"
delivered=0
OUTSIDE=192.0.2.10

# ar FILE: our Authentication-Results value(s) (unfolded), one per line.
ar() { seg_header "$1" Authentication-Results | grep -i "^$AUTHSERV;" || true; }

# Signing material for siti (from the test PKI's PKCS#12).
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nodes -nocerts -out "$T/siti.key" 2>/dev/null
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nokeys -clcerts -out "$T/siti.pem" 2>/dev/null

# --- 1. signed with openssl cms by siti, arriving from outside, with forged A-R fields -------------
printf 'Content-Type: text/plain; charset=utf-8\n\nSurat dari mitra, ditandatangani dengan openssl.\nSalam\n' >"$T/entity"
{
    printf 'Date: %s\nMessage-ID: <ossl.%s@mitra.example>\n' "$(LC_ALL=C date -R)" "$$"
    printf 'Authentication-Results: %s; smime=pass body.smime-identifier=siti@%s\n' "$AUTHSERV" "$DINAS"
    printf 'Authentication-Results: other.example; spf=pass smtp.mailfrom=mitra.example\n'
    printf 'Authentication-Results: (comment first) MX.SEGEL-TEST.EXAMPLE 1; smime=pass\n'
    printf 'From: Siti Rahmawati <siti@%s>\nTo: budi@%s\nSubject: Undangan rapat\n' "$DINAS" "$DINAS"
    openssl cms -sign -in "$T/entity" -signer "$T/siti.pem" -inkey "$T/siti.key" \
        -certfile "$PKI/intermediate.pem" -md sha256
} >"$T/ossl.eml"
seg_send "siti@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/ossl.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-ossl.eml"
[ "$(ar "$T/got-ossl.eml" | wc -l)" -eq 1 ] || seg_fail "expected exactly one A-R with $AUTHSERV, got: $(ar "$T/got-ossl.eml")"
ar "$T/got-ossl.eml" | grep -q "smime=pass (good signature) body.smime-identifier=siti@$DINAS body.smime-serial=$(seg_cert_serial "$PKI/siti.crt") body.smime-issuer=" \
    || seg_fail "unexpected A-R: $(ar "$T/got-ossl.eml")"
seg_header "$T/got-ossl.eml" Authentication-Results | grep -q '^other.example; spf=pass' \
    || seg_fail "the foreign A-R (other.example) was removed"
seg_expect_header "$T/got-ossl.eml" Subject '^\[Tertandatangan: Siti Rahmawati\] Undangan rapat$'
seg_crlf "$T/ossl.eml" "$T/ossl.crlf"
cmp <(seg_body "$T/ossl.crlf") <(seg_body "$T/got-ossl.eml") || seg_fail "the signed body changed on the way"
seg_expect_signed "$T/got-ossl.eml" "siti@$DINAS"
[ -f "$T/recipients/siti@$DINAS.pem" ] || seg_fail "siti's certificate was not harvested"
[ "$(openssl x509 -in "$T/recipients/siti@$DINAS.pem" -noout -serial | cut -d= -f2)" = "$(seg_cert_serial "$PKI/siti.crt")" ] \
    || seg_fail "harvested certificate is not siti's"
grep -q "verify smime=pass signer=siti@$DINAS" "$T/milter.log" || seg_fail "no verify log line"
seg_ok "openssl-signed mail from outside: smime=pass, 2 forged A-R removed, foreign A-R kept, subject tagged, body byte-identical, certificate harvested"

# --- 2. the same message with one body byte changed: fail ----------------------------------------
sed 's/ditandatangani dengan openssl/ditandatangani dengan OpenSSL/' "$T/ossl.eml" >"$T/ossl-bad.eml"
cmp -s "$T/ossl.eml" "$T/ossl-bad.eml" && seg_fail "test bug: tampering changed nothing"
seg_send "siti@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/ossl-bad.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-bad.eml"
ar "$T/got-bad.eml" | grep -q 'smime=fail (content changed after signing' || seg_fail "expected smime=fail: $(ar "$T/got-bad.eml")"
seg_expect_header "$T/got-bad.eml" Subject '^\[TANDA TANGAN TIDAK SAH\] Undangan rapat$'
grep -q "incident kind=invalid-signature address=<siti@$DINAS> client=$OUTSIDE " "$T/milter.log" || seg_fail "no invalid-signature incident line for the changed body"
seg_ok "changed body: smime=fail, subject [TANDA TANGAN TIDAK SAH], incident logged"

# --- 3. signed by gpgsm --------------------------------------------------------------------------
export GNUPGHOME="$T/gnupg-sign"
mkdir -p "$GNUPGHOME"
chmod 700 "$GNUPGHOME"
printf 'disable-crl-checks\ndisable-dirmngr\n' >"$GNUPGHOME/gpgsm.conf"
cat "$T/siti.key" "$T/siti.pem" >"$T/siti-all.pem"
openssl pkcs12 -export -legacy -certpbe NONE -passout pass: -in "$T/siti-all.pem" -out "$T/siti-gpg.p12" 2>/dev/null
gpgsm --batch --pinentry-mode loopback --passphrase "" --import "$PKI/root.pem" "$PKI/intermediate.pem" "$T/siti-gpg.p12" \
    >"$T/gpgsm-sign-import.log" 2>&1 || { cat "$T/gpgsm-sign-import.log" >&2; seg_fail "gpgsm import failed"; }
fpr=$(gpgsm --with-colons --list-keys "Segel Test Root CA" 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
printf '%s S relax\n' "$fpr" >"$GNUPGHOME/trustlist.txt"
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nSurat ditandatangani dengan gpgsm.\r\n' >"$T/gpg-entity"
gpgsm --batch --pinentry-mode loopback --passphrase "" -u "siti@$DINAS" --include-certs -1 --base64 \
    --detach-sign "$T/gpg-entity" >"$T/gpg.p7s" 2>"$T/gpgsm-sign.err" || { cat "$T/gpgsm-sign.err" >&2; seg_fail "gpgsm could not sign"; }
gpgconf --kill all >/dev/null 2>&1 || true
unset GNUPGHOME
{
    printf 'Date: %s\r\nMessage-ID: <gpgsm.%s@mitra.example>\r\n' "$(LC_ALL=C date -R)" "$$"
    printf 'From: siti@%s\r\nTo: budi@%s\r\nSubject: gpgsm\r\nMIME-Version: 1.0\r\n' "$DINAS" "$DINAS"
    printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="gpgsm-b"\r\n\r\n'
    printf -- '--gpgsm-b\r\n'
    cat "$T/gpg-entity"
    printf '\r\n--gpgsm-b\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    grep -v -- '-----' "$T/gpg.p7s" | tr -d '\r' | sed 's/$/\r/'
    printf -- '--gpgsm-b--\r\n'
} >"$T/gpgsm.eml"
seg_send "siti@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/gpgsm.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-gpgsm.eml"
ar "$T/got-gpgsm.eml" | grep -q "smime=pass (good signature) body.smime-identifier=siti@$DINAS" \
    || seg_fail "gpgsm-signed: $(ar "$T/got-gpgsm.eml")"
cmp <(seg_body "$T/gpgsm.eml") <(seg_body "$T/got-gpgsm.eml") || seg_fail "the gpgsm-signed body changed on the way"
seg_ok "gpgsm-signed mail: smime=pass, body byte-identical"

# --- 4. signed by segel's own outbound path, then received from outside ----------------------------
seg_make_message "$T/out.eml" "Siti Rahmawati <siti@$DINAS>" kepala@mitra.example "Laporan (segel)"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/out.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-out.eml"
seg_expect_header "$T/got-out.eml" Content-Type '^multipart/signed;'
[ -z "$(seg_header "$T/got-out.eml" Authentication-Results)" ] || seg_fail "outbound mail got an Authentication-Results field"
seg_ok "outbound mail is still signed and gets no Authentication-Results"
# Its signed form comes back in from outside (e.g. a reply-all loop): it verifies.
"$SEG_PY" - "$T/got-out.eml" "$T/back.eml" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
head, _, body = data.partition(b"\r\n\r\n")
out, skip = [], False  # drop Received fields with their continuation lines
for line in head.split(b"\r\n"):
    if line[:1] in (b" ", b"\t"):
        if not skip:
            out.append(line)
        continue
    skip = line.lower().startswith(b"received:")
    if not skip:
        out.append(line)
open(sys.argv[2], "wb").write(b"\r\n".join(out) + b"\r\n\r\n" + body)
PY
sed -i 's/^To: kepala@mitra.example\r$/To: budi@dinas.example.go.id\r/' "$T/back.eml"
seg_send "siti@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/back.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-back.eml"
ar "$T/got-back.eml" | grep -q "smime=pass (good signature) body.smime-identifier=siti@$DINAS" \
    || seg_fail "segel-signed, received back: $(ar "$T/got-back.eml")"
seg_ok "a message signed by segel's outbound path verifies as smime=pass when it comes back in"

# --- 5. unsigned mail from a partner (not official): smime=none, forged "signed" tag removed --------
seg_make_message "$T/plain.eml" "Mitra <kepala@mitra.example>" "budi@$DINAS" "[Tertandatangan: Presiden] Penting"
seg_send kepala@mitra.example - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/plain.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-plain.eml"
ar "$T/got-plain.eml" | grep -q 'smime=none (not signed)' || seg_fail "unsigned: $(ar "$T/got-plain.eml")"
seg_expect_header "$T/got-plain.eml" Subject '^Penting$'
seg_ok "unsigned partner mail: smime=none, a forged [Tertandatangan: ...] tag is stripped from the subject"

# --- 6. sender protection: official From, unsigned, from outside ---------------------------------
seg_make_message "$T/spoof.eml" "Kepala Dinas <kepala@$DINAS>" "budi@$DINAS" "Transfer dana segera"
seg_send "kepala@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/spoof.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-spoof.eml"
seg_expect_header "$T/got-spoof.eml" Subject '^\[TIDAK TERTANDATANGAN\] Transfer dana segera$'
grep -q "incident kind=forged-official-sender address=<kepala@$DINAS> client=$OUTSIDE detail=\"official sender <kepala@$DINAS> from outside (client $OUTSIDE) without a valid signature: smime=none" \
    "$T/milter.log" || seg_fail "no incident line for the unsigned official sender"
seg_ok "sender_protection tag: unsigned official From from outside is tagged and logged as an incident"

seg_stop_milter
write_inbound_config "$T/reject.yaml" reject
seg_start_milter "$T/reject.yaml"
seg_send "kepala@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/spoof.eml"
seg_expect_reply "^550 5\.7\.1 .*kepala@$DINAS"
seg_ok "sender_protection reject: $SEG_REPLY"

seg_stop_milter
write_inbound_config "$T/quarantine.yaml" quarantine
seg_start_milter "$T/quarantine.yaml"
seg_send "kepala@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/spoof.eml"
seg_expect_reply '^250 '
held=""
for _ in $(seq 50); do
    held=$(find "$T/pf/queue/hold" -type f 2>/dev/null | head -n 1)
    [ -n "$held" ] && break
    sleep 0.1
done
[ -n "$held" ] || seg_fail "nothing in Postfix's hold queue"
grep -q 'milter triggers HOLD action' "$T/maillog" || seg_fail "Postfix did not log the milter's HOLD"
# A signed official message still passes through quarantine mode untouched.
seg_send "siti@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/ossl.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
sleep 1
[ "$(seg_sink_count)" -eq "$delivered" ] || seg_fail "sink holds $(seg_sink_count) messages, expected $delivered (the held one must not be delivered)"
seg_ok "sender_protection quarantine: the unsigned official message waits in the hold queue; signed mail is delivered"
