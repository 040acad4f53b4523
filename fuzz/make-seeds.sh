#!/usr/bin/env bash
# fuzz/make-seeds.sh OUTDIR — the seed corpus of every harness, OUTDIR/NAME/ (docs/fuzzing.md).
#
# Made from data that other implementations wrote: the shared interop corpus (Thunderbird/NSS,
# OpenSSL, Bouncy Castle, Outlook, .NET; ../shared/interop or $SEGEL_SHARED/interop) and
# messages signed and encrypted here with openssl(1) using the fixed fuzz PKI (tests/fuzz-pki), so
# the harnesses reach "good signature" and "decrypted" and fuzz from there. The seeds are
# large and redundant; scripts/fuzz --seed merges them into the small stored corpus
# (fuzz/corpus/NAME) keeping only inputs that add coverage.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
keys=$here/../tests/fuzz-pki
shared=${SEGEL_SHARED:-$here/../../shared}
interop=$shared/interop
out=$1
rm -rf "$out"
mkdir -p "$out"/{verify,decrypt,pkcs7_mime,cms_load,mime_fields,authres,base64,config,milter}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

seed() {  # seed HARNESS < bytes: stored under its SHA-1, as libFuzzer names inputs
    cat >"$work/seed"
    mv "$work/seed" "$out/$1/$(sha1sum "$work/seed" | cut -c1-40)"
}
crlf() { sed 's/$/\r/'; }

# --- messages other implementations wrote ------------------------------------------------
messages=()
if [ -d "$interop" ]; then
    while IFS= read -r -d '' f; do messages+=("$f"); done < <(
        find "$interop" -type f \( -name '*.eml' -o -name '*.message' -o -name '*.env' \) -print0 | sort -z)
else
    echo "make-seeds: no interop corpus at $interop: seeds from tests/fuzz-pki only" >&2
fi

# --- messages made here with the fuzz PKI ---------------------------------------------------
head_for() {  # head_for FROM: the envelope fields a signed message needs
    printf 'From: %s\r\nTo: siti@dinas.example.go.id\r\nSubject: fuzz seed\r\nDate: Mon, 1 Jun 2026 08:00:00 +0700\r\n' "$1"
}
cat >"$work/plain.txt" <<'EOF'
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Yth. Bapak/Ibu,
surat dinas terlampir. Terima kasih.
EOF
crlf <"$work/plain.txt" >"$work/plain.crlf"
cat >"$work/multi.txt" <<'EOF'
Content-Type: multipart/mixed; boundary="b1"

preamble line one

preamble after a blank line
--b1
Content-Type: text/plain; charset=us-ascii

Isi surat.
--b1
Content-Type: application/pdf; name="surat.pdf"
Content-Disposition: attachment; filename="surat.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K
--b1--
epilogue
EOF
crlf <"$work/multi.txt" >"$work/multi.crlf"
printf 'just a body, no header at all\r\n' >"$work/bare.crlf"
printf 'Content-Type: text/plain\nSubject: lf only\n\nbody\n' >"$work/lf.txt"

made=()
make_signed() {  # make_signed NAME FROM SIGNER_PEM SIGNER_KEY ENTITY [openssl cms options...]
    local name=$1 from=$2 cert=$3 key=$4 entity=$5
    shift 5
    {
        head_for "$from"
        openssl cms -sign -signer "$cert" -inkey "$key" -certfile "$keys/intermediate.pem" -in "$entity" \
            -crlfeol "$@" 2>/dev/null
    } >"$work/$name.eml"
    made+=("$work/$name.eml")
}
fz=fuzz@dinas.example.go.id
fzec=fuzz-ec@dinas.example.go.id
make_signed rsa-detached "$fz" "$keys/rsa.pem" "$keys/rsa.key" "$work/plain.crlf" -binary
make_signed rsa-detached-multi "$fz" "$keys/rsa.pem" "$keys/rsa.key" "$work/multi.crlf" -binary
make_signed rsa-opaque "$fz" "$keys/rsa.pem" "$keys/rsa.key" "$work/plain.crlf" -nodetach -binary
make_signed ec-detached "$fzec" "$keys/ec.pem" "$keys/ec.key" "$work/multi.crlf" -binary
make_signed ec-opaque-sha512 "$fzec" "$keys/ec.pem" "$keys/ec.key" "$work/plain.crlf" -nodetach -md sha512
make_signed rsa-sha1 "$fz" "$keys/rsa.pem" "$keys/rsa.key" "$work/plain.crlf" -md sha1 -binary
make_signed rsa-pss "$fz" "$keys/rsa.pem" "$keys/rsa.key" "$work/plain.crlf" -keyopt rsa_padding_mode:pss -binary
make_signed rsa-nocerts "$fz" "$keys/rsa.pem" "$keys/rsa.key" "$work/plain.crlf" -nocerts -binary
make_signed rsa-noattr "$fz" "$keys/rsa.pem" "$keys/rsa.key" "$work/plain.crlf" -noattr -binary
make_signed not-the-sender "siti@dinas.example.go.id" "$keys/rsa.pem" "$keys/rsa.key" "$work/plain.crlf" -binary
make_signed lf-text "$fz" "$keys/rsa.pem" "$keys/rsa.key" "$work/lf.txt"
# Content changed after signing: one letter of the signed text.
sed 's/Terima kasih/Terima kasiH/' "$work/rsa-detached.eml" >"$work/rsa-tampered.eml"
made+=("$work/rsa-tampered.eml")
# Signed, then encrypted to the fuzz keys (decrypt, then verify the inner signature).
for c in aes128 aes256 des3 aes-256-gcm; do
    sed '1,4d' "$work/rsa-detached.eml" >"$work/inner.eml"
    {
        head_for "$fz"
        openssl cms -encrypt -"$c" -in "$work/inner.eml" "$keys/rsa.pem" "$keys/ec.pem" 2>/dev/null
    } >"$work/enc-$c.eml"
    made+=("$work/enc-$c.eml")
done
# A signed part inside an unsigned multipart (partially signed), and deep nesting.
{
    head_for "$fz"
    printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\n--outer\r\n'
    sed '1,4d' "$work/rsa-detached.eml"
    printf '\r\n--outer--\r\n'
} >"$work/partial.eml"
made+=("$work/partial.eml")
{
    head_for "$fz"
    printf 'MIME-Version: 1.0\r\n'
    for i in $(seq 1 12); do printf 'Content-Type: multipart/mixed; boundary="d%d"\r\n\r\n--d%d\r\n' "$i" "$i"; done
    printf 'Content-Type: text/plain\r\n\r\ndeep\r\n'
    for i in $(seq 12 -1 1); do printf '\r\n--d%d--\r\n' "$i"; done
} >"$work/deep.eml"
made+=("$work/deep.eml")

for f in "${messages[@]}" "${made[@]}"; do
    seed verify <"$f"
    seed mime_fields < <(head -c 16384 "$f")
    # Encrypted and opaque-signed messages: pkcs7_mime; every CMS structure: cms_load.
    if grep -qiE '^Content-Type:[[:space:]]*application/(x-)?pkcs7-mime' "$f"; then
        seed pkcs7_mime <"$f"
    fi
    if openssl cms -cmsout -in "$f" -outform DER -out "$work/cms.der" 2>/dev/null && [ -s "$work/cms.der" ]; then
        seed cms_load <"$work/cms.der"
        if openssl cms -cmsout -in "$work/cms.der" -inform DER -print 2>/dev/null | grep -qi 'enveloped'; then
            seed decrypt <"$work/cms.der"
        fi
        # The base64 the decoder reads: the structure as a mail client writes it.
        openssl base64 -in "$work/cms.der" -out "$work/cms.b64"
        seed base64 < <(crlf <"$work/cms.b64")
    fi
done

# --- encrypted structures addressed to the fuzz keys (decrypt reaches the plaintext) ------------
for entity in plain.crlf multi.crlf bare.crlf lf.txt; do
    for opts in "-aes128" "-aes256" "-des3" "-aes-128-gcm" "-aes-256-gcm" "-aes192 -keyid" \
        "-aes256 -keyopt rsa_padding_mode:oaep"; do
        # shellcheck disable=SC2086  # opts is a list of options
        if openssl cms -encrypt $opts -binary -in "$work/$entity" -outform DER -out "$work/e.der" \
            "$keys/rsa.pem" 2>/dev/null; then
            seed decrypt <"$work/e.der"
        fi
    done
    openssl cms -encrypt -aes128 -binary -in "$work/$entity" -outform DER -out "$work/e.der" "$keys/ec.pem" \
        2>/dev/null && seed decrypt <"$work/e.der"
    openssl cms -encrypt -aes256 -binary -in "$work/$entity" -outform DER -out "$work/e.der" "$keys/rsa.pem" \
        "$keys/ec.pem" 2>/dev/null && seed decrypt <"$work/e.der"
done
# Entities with hostile heads, encrypted (header injection, bare CR, folds, no body).
printf 'From: spoof@dinas.example.go.id\r\nX-Segel-Decryption: decrypted\r\nSubject: [Ditandatangani: x]\r\nContent-Type: text/plain\r\n\r\nbody\r\n' >"$work/h1"
printf 'Content-Type: text/plain;\r\n charset=us-ascii\r\nBad\rName: x\r\nX: a\rb\r\n\r\n' >"$work/h2"
printf 'Content-Type: text/plain\r\nnot a field\r\n\r\nbody\r\n' >"$work/h3"
for h in h1 h2 h3; do
    openssl cms -encrypt -aes128 -binary -in "$work/$h" -outform DER -out "$work/e.der" "$keys/rsa.pem" \
        2>/dev/null && seed decrypt <"$work/e.der"
    seed mime_fields <"$work/$h"
done

# --- header helpers: heads with the shapes the helpers must survive -------------------------------
printf '\r\nContent-Type: application/pkcs7-mime\r\n\r\nbody\r\n' | seed mime_fields
printf 'From: "siti@dinas.example.go.id" <ayu@dinas.example.go.id>\r\nTo: a@x.example, Tim: b@x.example, c@x.example;\r\n\r\n' | seed mime_fields
printf 'From: =?UTF-8?B?U2l0aQ==?= <siti@dinas.example.go.id>\r\nSender: siti@dinas.example.go.id (Siti)\r\n\r\n' | seed mime_fields
printf 'Content-Type : text/plain\r\nContent-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: 7bit\r\n\tfolded\r\n\r\n' | seed mime_fields
printf 'Subject: no end of head' | seed mime_fields

# --- Authentication-Results values ---------------------------------------------------------------
for v in 'mx.dinas.example.go.id; smime=pass body.smime-identifier=siti@dinas.example.go.id' \
    ' (comment (nested)) "mx.quoted.example"; smime=fail (content changed)' \
    'mx.example.org; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=a@example.org' \
    'mx.dinas.example.go.id 1; none' '; smime=pass' '"unterminated; smime=pass' \
    "mx\\.example; smime=neutral (only part 1 is signed) body.smime-part=1"; do
    printf '%s' "$v" | seed authres
done

# --- base64 -----------------------------------------------------------------------------------------
for t in 'TWFu' 'TWE=' 'TQ==' 'TQ' 'T' 'TWFu TWFu' 'TQ==TQ==' 'TWFu=' '====' 'TW!u' "TWFu\r\nTWFu\r\n"; do
    printf '%s' "$t" | seed base64
done

# --- the milter: messages as callback sequences (fuzz/milter_seed.py), and abuse -------------------
to_fuzz_ec() {  # the message with its To: made fuzz-ec@ (who has a recipient certificate: encryption)
    sed 's/^To: .*/To: fuzz-ec@dinas.example.go.id\r/' "$1"
}
for entity in plain.crlf multi.crlf lf.txt bare.crlf; do
    { head_for "$fz"; printf 'MIME-Version: 1.0\r\n'; cat "$work/$entity"; } >"$work/out.eml"
    python3 "$here/milter_seed.py" --outbound "$work/out.eml" | seed milter
    python3 "$here/milter_seed.py" --outbound --leadspc "$work/out.eml" | seed milter
    to_fuzz_ec "$work/out.eml" >"$work/out-enc.eml"
    python3 "$here/milter_seed.py" --outbound "$work/out-enc.eml" | seed milter
    sed 's/^Subject: .*/Subject: [RAHASIA] laporan\r/' "$work/out.eml" >"$work/out-secret.eml"
    python3 "$here/milter_seed.py" --outbound "$work/out-secret.eml" | seed milter
    python3 "$here/milter_seed.py" --system "$work/out.eml" | seed milter
    python3 "$here/milter_seed.py" --inbound "$work/out.eml" | seed milter
done
{ head_for "siti@dinas.example.go.id"; cat "$work/plain.crlf"; } >"$work/other.eml"  # not fuzz's to sign
python3 "$here/milter_seed.py" --outbound "$work/other.eml" | seed milter
for f in "${made[@]}"; do
    python3 "$here/milter_seed.py" --inbound "$f" | seed milter
    python3 "$here/milter_seed.py" --outbound "$f" | seed milter  # already signed or encrypted
done
for f in "${messages[@]}"; do
    [ "$(stat -c %s "$f")" -le 65536 ] && python3 "$here/milter_seed.py" --inbound "$f" | seed milter
done
# Out of order, truncated and repeated callbacks (what the daemon must survive).
python3 - "$out/milter" <<'PY'
import hashlib, os, struct, sys
NEG, CON, MAIL, RCPT, HDR, EOH, BODY, EOM, ABORT, QID, FAULT, CLOSE = range(12)
op = lambda c, p=b"": struct.pack("<BH", c, len(p)) + p
hdrs = op(HDR, b"From\0fuzz@dinas.example.go.id") + op(HDR, b"Subject\0x")
msg = op(MAIL, b"<fuzz@dinas.example.go.id>\0fuzz") + op(RCPT, b"<siti@dinas.example.go.id>") + hdrs + op(EOH) \
    + op(BODY, b"body\r\n") + op(EOM)
seqs = [
    msg,                                                       # MAIL without CONNECT
    op(CON, b"h\0192.0.2.1") + hdrs + op(EOH) + op(BODY, b"x") + op(EOM),  # no MAIL at all
    op(CON, b"h\0192.0.2.1") + msg + msg + op(ABORT) + msg,    # reuse after a message and an abort
    op(CON, b"h\0192.0.2.1") + op(MAIL, b"<fuzz@dinas.example.go.id>\0fuzz") + op(BODY, b"early") + op(EOM),
    op(CON, b"h\0192.0.2.1") + msg + op(EOM) + op(EOH) + op(BODY, b"late"),
    op(NEG, b"\x06") + op(CON, b"h\0192.0.2.1") + op(MAIL, b"<fuzz@dinas.example.go.id>\0fuzz") + hdrs
        + op(FAULT, b"\x04") + op(EOH) + op(EOM),
    op(NEG, b"\x04") + op(CON, b"h\0192.0.2.1") + op(MAIL, b"<fuzz@dinas.example.go.id>\0fuzz") + hdrs + op(EOH)
        + op(BODY, b"x" * 60000) * 5 + op(EOM),                 # over max_message_size, no reply per chunk
    op(CON, b"h\0192.0.2.1") + msg + op(CLOSE) + msg + op(FAULT, b"\x01"),
    op(CON, b"h\0") + op(MAIL, b"\0") + op(HDR, b"\0") + op(HDR, b"From\0") + op(EOH) + op(EOM),
    op(CON, b"h\0198.51.100.7") + op(MAIL, b"<x@example.org>\0") + op(HDR, b"Authentication-Results\0"
        b"mx.dinas.example.go.id; smime=pass") + op(HDR, b"From\0fuzz@dinas.example.go.id") + op(EOH) + op(EOM),
]
for s in seqs:
    with open(os.path.join(sys.argv[1], hashlib.sha1(s).hexdigest()), "wb") as f:
        f.write(s)
PY

# --- configuration ------------------------------------------------------------------------------------
seed config <"$here/../docs/segel.example.yaml"
cat <<'EOF' | seed config
trust:
  anchors: [/etc/segel/trust/root.pem]
signing:
  domains:
    - domain: dinas.example.go.id
milter:
  max_message_size: 20M
  internal_networks: [10.0.0.0/8, "::1/128"]
inbound:
  enabled: true
  authserv_id: mx.dinas.example.go.id
encryption:
  decrypt_inbound: true
EOF
printf 'trust: [\n' | seed config
printf 'signing:\n  domains: []\nsigning:\n  x: 1\n' | seed config
printf '? [a, b]\n: c\n' | seed config

for d in "$out"/*; do
    printf '%-12s %4d files %6d KB\n' "$(basename "$d")" "$(find "$d" -type f | wc -l)" "$(du -sk "$d" | cut -f1)"
done
