#!/usr/bin/env bash
# make-pki.sh OUTDIR — a throwaway S/MIME test PKI shaped like Indonesia's (root → BSrE-like
# intermediate → staff, role mailbox and system sender certificates), made with openssl(1) only.
#
# Idempotent: when OUTDIR already holds a complete PKI made by this version of the script and its
# valid certificates stay valid for at least another 30 days, nothing is done. Otherwise the PKI is
# built in a private staging directory and moved into OUTDIR, so a half-written PKI is never seen.
# Prints nothing on success.
#
# Files (all *.key and *.pass are mode 600):
#   root.pem root.key            "Segel Test Root CA" (self-signed)      trust.pem = root.pem
#   intermediate.pem/.key        "BSrE Test Intermediate CA", pathlen 0   chain.pem = intermediate.pem
#   untrusted-root.pem/.key      "Untrusted Test Root" (issues eko only)
#   NAME.crt                     end-entity certificate first, then its issuing CA (PEM)
#   NAME.p12 + NAME.pass         PKCS#12 (key, cert, issuing CA); the .pass file holds the passphrase
#                                WITHOUT a trailing newline
#   budi.key                     budi's unencrypted PKCS#8 EC P-256 key (budi has no .p12)
#   legacy.p12                   made with `openssl pkcs12 -export -legacy` (RC2/3DES, like Windows)
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 64
fi
out=$1
umask 077

self_hash=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
stamp="$out/.complete"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$self_hash" ] \
    && openssl x509 -in "$out/siti.crt" -noout -checkend $((30 * 86400)) >/dev/null 2>&1; then
    exit 0
fi

mkdir -p "$out"
work=$(mktemp -d "$out/.staging.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fmt() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
now_minus_1d=$(fmt '1 day ago')
plus_2y=$(fmt 'now + 2 years')
old_start=$(fmt '-1 year -1 day')           # siti-old: one year before siti's notBefore
old_end=$(fmt 'now + 1 year')
ca_start=20200101000000Z
ca_end=$(fmt 'now + 10 years')
int_end=$(fmt 'now + 5 years')

cat >ca.cnf <<'EOF'
[ca]
default_ca = CA_default

[CA_default]
dir              = .
database         = $ENV::CA_DB
new_certs_dir    = ./newcerts
default_md       = sha256
policy           = policy_any
preserve         = yes
email_in_dn      = yes
unique_subject   = no
copy_extensions  = none
rand_serial      = yes

[policy_any]
countryName            = optional
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied
emailAddress           = optional

[req]
distinguished_name = req_dn
prompt             = no
[req_dn]
CN = placeholder

[v3_root]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[v3_intermediate]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[v3_person]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, $ENV::EE_KU
extendedKeyUsage       = $ENV::EE_EKU
subjectAltName         = email:$ENV::EE_EMAIL
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
EOF
mkdir newcerts
: >index-root.txt
: >index-int.txt
: >index-untrusted.txt
export EE_KU=digitalSignature EE_EKU=emailProtection EE_EMAIL=none@example CA_DB=index-root.txt

rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# ca_sign DB CACERT CAKEY EXT START END SUBJ KEY OUTCERT
ca_sign() {
    local db=$1 cacert=$2 cakey=$3 ext=$4 start=$5 end=$6 subj=$7 key=$8 crt=$9
    openssl req -new -config ca.cnf -key "$key" -subj "$subj" -out "$crt.csr"
    CA_DB=$db openssl ca -batch -notext -config ca.cnf -cert "$cacert" -keyfile "$cakey" \
        -extensions "$ext" -startdate "$start" -enddate "$end" -subj "$subj" \
        -in "$crt.csr" -out "$crt" 2>ca.err || { cat ca.err >&2; exit 1; }
    rm -f "$crt.csr"
}

self_signed() { # NAME CN
    rsa_key "$1.key"
    openssl req -new -config ca.cnf -key "$1.key" -subj "/C=ID/O=Segel Test/CN=$2" -out "$1.csr"
    openssl ca -batch -notext -selfsign -config ca.cnf -keyfile "$1.key" -extensions v3_root \
        -startdate "$ca_start" -enddate "$ca_end" -in "$1.csr" -out "$1.pem" 2>ca.err \
        || { cat ca.err >&2; exit 1; }
    rm -f "$1.csr"
}

CA_DB=index-root.txt self_signed root "Segel Test Root CA"
CA_DB=index-untrusted.txt self_signed untrusted-root "Untrusted Test Root"

rsa_key intermediate.key
ca_sign index-root.txt root.pem root.key v3_intermediate "$ca_start" "$int_end" \
    "/C=ID/O=Badan Siber dan Sandi Negara/OU=Balai Sertifikasi Elektronik/CN=BSrE Test Intermediate CA" \
    intermediate.key intermediate.pem

SIGN_KU="digitalSignature, nonRepudiation, keyEncipherment"

# person NAME EMAIL CN KEYTYPE KU EKU START END [ISSUER]
#   ISSUER = int (default) or untrusted
person() {
    local name=$1 email=$2 cn=$3 keytype=$4 ku=$5 eku=$6 start=$7 end=$8 issuer=${9:-int}
    local cacert=intermediate.pem cakey=intermediate.key db=index-int.txt
    if [ "$issuer" = untrusted ]; then
        cacert=untrusted-root.pem cakey=untrusted-root.key db=index-untrusted.txt
    fi
    "${keytype}_key" "$name.key"
    EE_KU=$ku EE_EKU=$eku EE_EMAIL=$email ca_sign "$db" "$cacert" "$cakey" v3_person "$start" "$end" \
        "/C=ID/O=Pemerintah Kabupaten Contoh/CN=$cn/emailAddress=$email" "$name.key" "$name.leaf.pem"
    cat "$name.leaf.pem" "$cacert" >"$name.crt"
    rm -f "$name.leaf.pem"
}

p12() { # NAME [extra pkcs12 options...]
    local name=$1
    shift
    openssl rand -hex 12 | tr -d '\n' >"$name.pass"
    openssl pkcs12 -export "$@" -in "$name.crt" -inkey "$name.key" -name "$name" \
        -passout "file:$name.pass" -out "$name.p12"
    rm -f "$name.key"
}

person siti siti@dinas.example.go.id "Siti Rahmawati" rsa "$SIGN_KU" emailProtection "$now_minus_1d" "$plus_2y"
p12 siti
person siti-old siti@dinas.example.go.id "Siti Rahmawati" rsa "$SIGN_KU" emailProtection "$old_start" "$old_end"
p12 siti-old
person budi budi@dinas.example.go.id "Budi Santoso" ec \
    "digitalSignature, nonRepudiation, keyAgreement" emailProtection "$now_minus_1d" "$plus_2y"
# budi keeps its PEM certificate + chain (budi.crt) and an unencrypted PKCS#8 key (budi.key)
person sekretariat sekretariat@dinas.example.go.id "Sekretariat Dinas Contoh" rsa "$SIGN_KU" emailProtection \
    "$now_minus_1d" "$plus_2y"
p12 sekretariat
person noreply noreply@dinas.example.go.id "Segel Elektronik Dinas Contoh" rsa "$SIGN_KU" emailProtection \
    "$now_minus_1d" "$plus_2y"
p12 noreply
person legacy lama@dinas.example.go.id "Lama Prasetyo" rsa "$SIGN_KU" emailProtection "$now_minus_1d" "$plus_2y"
p12 legacy -legacy
person ani ani@dinas.example.go.id "Ani Wulandari" rsa "$SIGN_KU" emailProtection \
    20240101000000Z 20260101000000Z
p12 ani
person dedi dedi@dinas.example.go.id "Dedi Kurniawan" rsa "$SIGN_KU" serverAuth "$now_minus_1d" "$plus_2y"
p12 dedi
person eko eko@dinas.example.go.id "Eko Saputra" rsa "$SIGN_KU" emailProtection "$now_minus_1d" "$plus_2y" untrusted
p12 eko
person rina rina@kominfo.examplekab.go.id "Rina Marlina" rsa "$SIGN_KU" emailProtection "$now_minus_1d" "$plus_2y"
p12 rina
person fajar fajar@dinas.example.go.id "Fajar Nugroho" rsa keyEncipherment emailProtection \
    "$now_minus_1d" "$plus_2y"
p12 fajar

cp root.pem trust.pem
cp intermediate.pem chain.pem
chmod 600 ./*.key ./*.pass ./*.p12
chmod 644 ./*.pem ./*.crt

files=(root.pem root.key trust.pem intermediate.pem intermediate.key chain.pem
    untrusted-root.pem untrusted-root.key budi.key)
for f in ./*.crt ./*.p12 ./*.pass; do files+=("${f#./}"); done
for f in "${files[@]}"; do mv -f "$f" "$out/$f"; done
printf '%s\n' "$self_hash" >"$stamp.tmp"
mv -f "$stamp.tmp" "$stamp"
