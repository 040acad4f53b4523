# shellcheck shell=bash
# integration/enc-lib.sh — helpers shared by the encryption tests (t-encrypt-*.sh, t-ldap.sh),
# sourced after lib.sh. Partners' certificates are issued by the test PKI's BSrE-like
# intermediate, so they chain to the configured anchors.

# enc_partner NAME EMAIL rsa|ec [COMMON-NAME]: $T/partners/NAME.key, NAME.crt (leaf only),
# NAME.p12 (legacy, empty passphrase: what gpgsm 2.2 imports), and the DER certificate NAME.der.
# The subject's CN is COMMON-NAME (default NAME).
enc_partner() {
    local name=$1 email=$2 kind=$3 cn=${4:-$1} dir="$T/partners" ku
    mkdir -p "$dir"
    if [ "$kind" = ec ]; then
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key" 2>/dev/null
        ku="digitalSignature, keyAgreement"
    else
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/$name.key" 2>/dev/null
        ku="digitalSignature, keyEncipherment"
    fi
    openssl req -new -key "$dir/$name.key" -subj "/O=Mitra/CN=$cn/emailAddress=$email" -out "$dir/$name.csr" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s\n' \
        "$ku" "$email" >"$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$PKI/intermediate.pem" -CAkey "$PKI/intermediate.key" \
        -CAcreateserial -CAserial "$dir/serial" -days 400 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null \
        || seg_fail "could not issue the partner certificate $name"
    openssl x509 -in "$dir/$name.crt" -outform DER -out "$dir/$name.der"
    openssl pkcs12 -export -legacy -certpbe NONE -passout pass: -inkey "$dir/$name.key" -in "$dir/$name.crt" \
        -out "$dir/$name.p12" 2>/dev/null
}

# enc_publish NAME EMAIL: puts the partner's certificate into the local store ($T/recipients).
enc_publish() {
    mkdir -p "$T/recipients"
    cp "$T/partners/$1.crt" "$T/recipients/$2.pem"
}

# enc_write_config FILE ENCRYPTION_YAML_LINES: the standard config plus "encryption:" with the
# local store at $T/recipients and the given lines (already indented by two spaces).
enc_write_config() {
    local f=$1
    seg_write_config "$f"
    {
        printf 'encryption:\n  certificate_directory: %s\n' "$T/recipients"
        printf '%s\n' "$2"
    } >>"$f"
}

# enc_body_der MSG OUT: the DER CMS of a delivered application/pkcs7-mime message.
enc_body_der() {
    "$SEG_PY" - "$1" "$2" <<'PY'
import base64, sys
data = open(sys.argv[1], 'rb').read().replace(b'\r\n', b'\n')
head, _, body = data.partition(b'\n\n')
open(sys.argv[2], 'wb').write(base64.b64decode(body))
PY
}

# enc_openssl_decrypt MSG NAME OUT: openssl cms -decrypt with the partner's key; nonzero on failure.
enc_openssl_decrypt() {
    openssl cms -decrypt -in "$1" -inkey "$T/partners/$2.key" -recip "$T/partners/$2.crt" -out "$3" \
        2>"$T/openssl-decrypt.err"
}

# enc_gpgsm_decrypt MSG NAME OUT: gpgsm --decrypt with the partner's key imported (RSA only:
# gpgsm 2.2.40 crashes importing an EC PKCS#12); nonzero on failure.
# Each attempt has a GNUPGHOME of its own, holding only that key (the verification keybox in
# $T/gnupg collects the certificates of every signature checked). gpg-agent has answered
# "No secret key" for a key it had just listed, under load, even after importing it again into
# the same home (CI, twice), and on a loaded machine the agent gpgsm starts on demand sometimes
# does not answer in time (gpgsm then exits 2 having printed no error about the data). So the
# agent is started before the decryption, and an attempt that did not get as far as a verdict
# on the data (no DECRYPTION_OKAY and no DECRYPTION_FAILED status) is retried with a fresh home
# and agent, at most three times. A DECRYPTION_FAILED is a failure at once. The verdict is the
# status line, not the exit code: gpgsm exits 2 after a good decryption when looking up another
# recipient's certificate (not in this home) failed with "Unknown system error" (seen with some
# certificates of the regenerated test PKI, not others).
enc_gpgsm_decrypt() {
    local try home fpr rc=1
    fpr=$(openssl x509 -inform DER -in "$T/partners/$2.der" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
    enc_body_der "$1" "$T/gpgsm-in.der"
    for try in 1 2 3; do
        home="$T/gnupg-decrypt-$2-$try"
        mkdir -p "$home"
        chmod 700 "$home"
        printf 'disable-crl-checks\ndisable-dirmngr\n' >"$home/gpgsm.conf"
        GNUPGHOME="$home" gpgsm --batch --pinentry-mode loopback --passphrase "" --import "$T/partners/$2.p12" \
            >>"$T/gpgsm-import.log" 2>&1 || true
        if ! GNUPGHOME="$home" gpgsm --batch --with-colons --list-secret-keys "0x$fpr" 2>/dev/null \
            | grep -q "^fpr:.*$fpr"; then
            printf 'attempt %s: the secret key of %s was not imported\n' "$try" "$2" >"$T/gpgsm-decrypt.err"
            rc=1
        elif GNUPGHOME="$home" gpgconf --launch gpg-agent >/dev/null 2>&1 \
            && GNUPGHOME="$home" gpgsm --batch --pinentry-mode loopback --passphrase "" --status-fd 3 \
                --output "$3" --decrypt "$T/gpgsm-in.der" 2>"$T/gpgsm-decrypt.err" 3>"$T/gpgsm-decrypt.status"; then
            rc=0
        elif grep -q 'DECRYPTION_OKAY' "$T/gpgsm-decrypt.status" 2>/dev/null && [ -s "$3" ]; then
            rc=0
        else
            rc=1
        fi
        GNUPGHOME="$home" gpgconf --kill all >/dev/null 2>&1 || true
        [ "$rc" = 0 ] && return 0
        # gpgsm judged the data: that verdict stands. Anything short of one is retried.
        if grep -q 'DECRYPTION_OKAY\|DECRYPTION_FAILED' "$T/gpgsm-decrypt.status" 2>/dev/null; then
            return 1
        fi
        cat "$T/gpgsm-decrypt.err" >>"$T/gpgsm-retries.log"
        sleep 0.5
    done
    cat "$T/gpgsm-import.log" >&2
    return 1
}
