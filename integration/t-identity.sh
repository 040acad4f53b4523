#!/usr/bin/env bash
# The identity gate through real Postfix (issue 10 §2): segel signs only as the one person who
# submitted the mail, and nothing it signs may look like someone else.
#   - SASL logins are compared exactly: a separate Cyrus sasldb account "SITI" (its own password)
#     does not get siti's signature (unless signing.login_case: insensitive says so);
#   - a From field that common readers parse differently (';' lists, an address as an unquoted
#     display name, typographic quotes) is refused, and so is a display name or comment that
#     shows another address, plainly or RFC 2047-encoded;
#   - mail the client already signed is verified: someone else's valid signature, a certificate
#     from an untrusted CA claiming the sender's address, and a signature over a changed body are
#     refused; the sender's own valid signature passes unchanged; client-encrypted mail is refused;
#     signing.domains[].client_signatures: wrap | pass are the documented alternatives.
# Every case runs even when an earlier one fails, so one run shows every broken rule.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup identity
seg_start_sink
seg_start_postfix
seg_add_user siti pw-siti-lower
seg_add_user SITI pw-SITI-upper
seg_add_user "siti@$DINAS" siti-pw

# The standard configuration, plus the bare login "siti" mapped to siti@dinas.
config() { # FILE [sed expression...]
    local f=$1
    shift
    seg_write_config "$f"
    sed -i "s/^    budi: \[budi@$DINAS\]$/&\n    siti: [siti@$DINAS]/" "$f"
    local e
    for e in "$@"; do sed -i "$e" "$f"; done
}
config "$SEG_CONFIG"
seg_start_milter

failures=()
delivered=0
case_fail() { # WHAT
    printf 'not ok - %s: %s (reply: %s)\n' "$SEG_NAME" "$1" "$SEG_REPLY" >&2
    failures+=("$1")
}

# refused WHAT ERE: the last submission was refused with a reply matching ERE, nothing delivered.
refused() {
    local what=$1 ere=$2
    if ! printf '%s\n' "$SEG_REPLY" | grep -Eq -- "$ere"; then
        case_fail "$what: reply does not match /$ere/"
        [[ $SEG_REPLY == 250* ]] && delivered=$((delivered + 1))
        return 0
    fi
    seg_ok "$what: $SEG_REPLY"
}

# signed_as WHAT ADDRESS: the last submission was accepted and delivered, signed by ADDRESS.
signed_as() {
    local what=$1 who=$2 got
    if [[ $SEG_REPLY != 250* ]]; then
        case_fail "$what: refused, expected signed as $who"
        return 0
    fi
    seg_wait_delivered $((delivered += 1))
    seg_delivered_copy "$T/got.eml"
    if ! got=$(seg_verify_openssl "$T/got.eml") || [ "$got" != "$who" ]; then
        case_fail "$what: delivered copy is not signed by $who (openssl: '${got:-}')"
        return 0
    fi
    seg_ok "$what: signed as $who"
}

# send_msg LOGIN PASS FILE: siti's envelope, the message file as written.
send_msg() { seg_send "siti@$DINAS" - kepala@mitra.example --auth "$1" "$2" --data-file "$3"; }

# --- 1. logins are identities as SASL reports them --------------------------------------------------
seg_make_message "$T/siti.eml" "Siti Rahmawati <siti@$DINAS>" kepala@mitra.example "Login uji"
send_msg siti pw-siti-lower "$T/siti.eml"
signed_as "login siti (mapped to siti@$DINAS)" "siti@$DINAS"
send_msg SITI pw-siti-lower "$T/siti.eml"
refused "SITI is a separate SASL account: siti's password does not open it" '^535 '
send_msg SITI pw-SITI-upper "$T/siti.eml"
refused "login SITI (its own account) as siti@$DINAS" \
    "^550 5\.7\.1 login SITI may not send as siti@dinas\.example\.go\.id$"

# --- 2. From fields that readers parse differently ---------------------------------------------------
# from_refused WHAT FROM_VALUE ERE
from_refused() {
    seg_make_message "$T/from.eml" "$2" kepala@mitra.example "From uji"
    send_msg "siti@$DINAS" siti-pw "$T/from.eml"
    refused "$1" "$3"
}
from_refused "';' list (JavaMail reads two senders)" "siti@$DINAS; budi@$DINAS" \
    "^550 5\.7\.1 header From cannot be signed: ';' "
from_refused "address as an unquoted display name" "budi@$DINAS <siti@$DINAS>" \
    "^550 5\.7\.1 header From cannot be signed: the display name contains '@' outside double quotes"
from_refused "address as an unquoted display name, no space" "budi@$DINAS<siti@$DINAS>" \
    "^550 5\.7\.1 header From cannot be signed: the display name contains '@' outside double quotes"
from_refused "typographic quotes" "“budi@$DINAS” <siti@$DINAS>" \
    "^550 5\.7\.1 header From cannot be signed: .*U\+201C"
from_refused "two mailboxes" "Siti <siti@$DINAS>, budi@$DINAS" \
    "^550 5\.7\.1 header From cannot be signed: it names more than one mailbox"
from_refused "group syntax" "Staf: siti@$DINAS;" "^550 5\.7\.1 header From cannot be signed: .*group"

# --- 3. no other address in the display name --------------------------------------------------------
from_refused "quoted display name with another address" "\"budi@$DINAS\" <siti@$DINAS>" \
    "^550 5\.7\.1 header From cannot be signed: the display name shows another address \(budi@dinas\.example\.go\.id\)"
from_refused "RFC 2047 Q-encoded display name with another address" \
    "=?utf-8?q?budi=40dinas.example.go.id?= <siti@$DINAS>" \
    "^550 5\.7\.1 header From cannot be signed: the display name shows another address \(budi@dinas\.example\.go\.id\)"
from_refused "RFC 2047 B-encoded display name with another address" \
    "=?UTF-8?B?$(printf 'Budi <budi@%s>' "$DINAS" | base64 -w0)?= <siti@$DINAS>" \
    "^550 5\.7\.1 header From cannot be signed: the display name shows another address \(budi@dinas\.example\.go\.id\)"
from_refused "fullwidth at sign in the display name" "\"budi＠$DINAS\" <siti@$DINAS>" \
    "^550 5\.7\.1 header From cannot be signed: the display name shows another address \(budi@dinas\.example\.go\.id\)"
from_refused "comment with another address" "siti@$DINAS (budi@$DINAS)" \
    "^550 5\.7\.1 header From cannot be signed: a comment shows another address \(budi@dinas\.example\.go\.id\)"

for ok_from in "\"Siti Rahmawati\" <siti@$DINAS>" "\"siti@$DINAS\" <siti@$DINAS>" \
    "=?utf-8?q?Siti_Rahmawati?= <siti@$DINAS>" "siti@$DINAS" "Siti Rahmawati"$'\n'" <siti@$DINAS>"; do
    seg_make_message "$T/ok.eml" "$ok_from" kepala@mitra.example "From biasa"
    send_msg "siti@$DINAS" siti-pw "$T/ok.eml"
    signed_as "From: ${ok_from//$'\n'/\\n}" "siti@$DINAS"
done

# --- 4. mail the client already signed or encrypted -------------------------------------------------
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nodes -nocerts -out "$T/siti.key" 2>/dev/null
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nokeys -clcerts -out "$T/siti.pem" 2>/dev/null
# A certificate for siti's address from a CA the gateway does not trust.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/fake.key" 2>/dev/null
openssl req -new -key "$T/fake.key" -subj "/CN=Siti Rahmawati/emailAddress=siti@$DINAS" -out "$T/fake.csr"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\nextendedKeyUsage=emailProtection\nsubjectAltName=email:siti@%s\n' \
    "$DINAS" >"$T/fake.ext"
openssl x509 -req -in "$T/fake.csr" -CA "$PKI/untrusted-root.pem" -CAkey "$PKI/untrusted-root.key" \
    -set_serial 4242 -days 30 -extfile "$T/fake.ext" -out "$T/fake.pem" 2>/dev/null
printf 'Content-Type: text/plain; charset=utf-8\n\nSudah ditandatangani di klien surel.\n' >"$T/entity"

# client_made: what a mail client would send of openssl's output: the top-level Content-Type folded
# at each ';', no blank lines after the last boundary. openssl writes that header as one line of
# more than 76 characters and ends with an epilogue; over those (with the preamble it also writes)
# segel cannot sign yet (issue 10 §1, being fixed in smime/sign), and only "wrap" signs over it.
# The signed or encrypted part is not touched.
client_made() {
    awk 'head && /^Content-Type:/ { gsub(/; /, ";\n ") }
         /^$/ { head = 0; blanks++; next }
         { while (blanks > 0) { print ""; blanks-- } print }' head=1
}

# presigned OUT SIGNER_CERT SIGNER_KEY CHAIN: siti's message, signed by the client with that key.
presigned() {
    {
        printf 'Date: %s\nMessage-ID: <presigned.%s.%s@dinas.example.go.id>\n' "$(LC_ALL=C date -R)" "$$" "$RANDOM"
        printf 'From: Siti Rahmawati <siti@%s>\nTo: kepala@mitra.example\nSubject: signed by the client\n' "$DINAS"
        openssl cms -sign -in "$T/entity" -signer "$2" -inkey "$3" -certfile "$4" -md sha256 | client_made
    } >"$1"
}
presigned "$T/by-budi.eml" "$PKI/budi.crt" "$PKI/budi.key" "$PKI/intermediate.pem"
presigned "$T/by-fake.eml" "$T/fake.pem" "$T/fake.key" "$PKI/untrusted-root.pem"
presigned "$T/by-siti.eml" "$T/siti.pem" "$T/siti.key" "$PKI/intermediate.pem"
sed 's/Sudah ditandatangani/Telah diubah/' "$T/by-siti.eml" >"$T/tampered.eml"
{
    printf 'Date: %s\nMessage-ID: <encrypted.%s@dinas.example.go.id>\n' "$(LC_ALL=C date -R)" "$$"
    printf 'From: Siti Rahmawati <siti@%s>\nTo: kepala@mitra.example\nSubject: encrypted by the client\n' "$DINAS"
    openssl cms -encrypt -aes256 -in "$T/entity" "$T/siti.pem" | client_made
} >"$T/encrypted.eml"

send_msg "siti@$DINAS" siti-pw "$T/by-budi.eml"
refused "another staff member's valid signature under siti's From" \
    "^550 5\.7\.1 the message is already signed by budi@dinas\.example\.go\.id, not by the sender siti@dinas\.example\.go\.id"
send_msg "siti@$DINAS" siti-pw "$T/by-fake.eml"
refused "a signature from an untrusted CA claiming siti's address" \
    "^550 5\.7\.1 the message is already signed, but the signature cannot be trusted"
send_msg "siti@$DINAS" siti-pw "$T/tampered.eml"
refused "siti's signature over a changed body" \
    "^550 5\.7\.1 the message is already signed, but the signature does not match the content"
send_msg "siti@$DINAS" siti-pw "$T/encrypted.eml"
refused "mail the client encrypted" "^550 5\.7\.1 the message is already encrypted by the mail program"

send_msg "siti@$DINAS" siti-pw "$T/by-siti.eml"
if [[ $SEG_REPLY != 250* ]]; then
    case_fail "siti's own valid signature: refused"
else
    seg_wait_delivered $((delivered += 1))
    seg_delivered_copy "$T/got-siti.eml"
    seg_crlf "$T/by-siti.eml" "$T/by-siti.crlf"
    if ! cmp -s <(seg_body "$T/by-siti.crlf") <(seg_body "$T/got-siti.eml"); then
        case_fail "siti's own valid signature: the body was changed"
    else
        seg_expect_signed "$T/got-siti.eml" "siti@$DINAS"
        seg_ok "siti's own valid signature passes unchanged"
    fi
fi

# Passed unchanged, it cannot be encrypted: with encryption required ([RAHASIA]) it is refused.
sed 's/^Subject: signed by the client$/Subject: [RAHASIA] signed by the client/' "$T/by-siti.eml" >"$T/by-siti-secret.eml"
send_msg "siti@$DINAS" siti-pw "$T/by-siti-secret.eml"
refused "siti's own signature with encryption required ([RAHASIA])" '^550 5\.7\.1 encryption is required'

# --- the documented alternatives: wrap (sign over it) and pass (logged) -----------------------------
seg_stop_milter
config "$T/wrap.yaml" "s/^    - domain: $DINAS$/&\n      client_signatures: wrap\n      client_encrypted: wrap/"
seg_start_milter "$T/wrap.yaml"
send_msg "siti@$DINAS" siti-pw "$T/by-budi.eml"
signed_as "client_signatures: wrap signs over budi's signature" "siti@$DINAS"
send_msg "siti@$DINAS" siti-pw "$T/encrypted.eml"
signed_as "client_encrypted: wrap signs over the client's encryption" "siti@$DINAS"
grep -aq 'client_signatures: wrap' "$T/milter.log" || case_fail "wrap is not visible in the milter log"

seg_stop_milter
config "$T/pass.yaml" "s/^    - domain: $DINAS$/&\n      client_signatures: pass/"
seg_start_milter "$T/pass.yaml"
send_msg "siti@$DINAS" siti-pw "$T/tampered.eml"
if [[ $SEG_REPLY != 250* ]]; then
    case_fail "client_signatures: pass: refused"
else
    seg_wait_delivered $((delivered += 1))
    grep -aq 'does not match the content.*client_signatures: pass' "$T/milter.log" \
        || case_fail "client_signatures: pass: the reason is not in the milter log"
    seg_ok "client_signatures: pass delivers a bad client signature unchanged, with the reason logged"
fi

# --- signing.login_case: insensitive: SITI owns what siti owns ------------------------------------
seg_stop_milter
config "$T/insensitive.yaml" "s/^signing:$/&\n  login_case: insensitive/"
seg_start_milter "$T/insensitive.yaml"
send_msg SITI pw-SITI-upper "$T/siti.eml"
signed_as "login_case: insensitive lets SITI sign as siti" "siti@$DINAS"

sleep 1
[ "$(seg_sink_count)" -eq "$delivered" ] || case_fail "the sink holds $(seg_sink_count) messages, expected $delivered"
if [ ${#failures[@]} -gt 0 ]; then
    seg_fail "${#failures[@]} case(s) failed: $(printf '%s; ' "${failures[@]}")"
fi
seg_ok "every identity case behaves"
