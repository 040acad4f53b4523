#!/usr/bin/env bash
# tests/fuzz-pki/make-keys.sh — the fixed test PKI the fuzz harnesses verify and decrypt with.
#
# Unlike the tests' PKIs (made fresh each run), these keys are committed: the stored corpus
# (fuzz/corpus/) holds signatures and encrypted messages made with them, and a changed key
# would turn every such input into "not addressed" / "untrusted" noise. Run this only to
# replace the PKI, then rebuild the corpus (scripts/fuzz --seed) and commit both.
#
#   root.pem                 "Segel Fuzz Root CA" (self-signed, the only trust anchor we add)
#   intermediate.pem         "BSrE Fuzz Intermediate CA"
#   rsa.pem rsa.key          fuzz@dinas.example.go.id, RSA-2048 (sign, key transport)
#   ec.pem ec.key            fuzz-ec@dinas.example.go.id, EC P-256 (sign, key agreement)
# Valid 2025-01-01 .. 2125-01-01, so the harnesses' pinned clock (2026-06-01) is inside.
# Test keys only: never use them for anything else.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/ca.cnf" <<'CNF'
[ca]
default_ca = CA_default
[CA_default]
database = $ENV::DB
new_certs_dir = $ENV::NEW
serial = $ENV::NEW/serial
default_md = sha256
policy = any
unique_subject = no
email_in_dn = yes
copy_extensions = none
[any]
commonName = supplied
emailAddress = optional
organizationName = optional
[root]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_rsa]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:fuzz@dinas.example.go.id
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_ec]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, nonRepudiation, keyAgreement
extendedKeyUsage = emailProtection
subjectAltName = email:fuzz-ec@dinas.example.go.id
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
export DB="$work/index.txt" NEW="$work"
: >"$DB"
echo 01 >"$NEW/serial"
start=20250101000000Z
end=21250101000000Z
sign() {  # sign CSR ISSUER_CERT ISSUER_KEY EXT OUT
    openssl ca -batch -config "$work/ca.cnf" -notext -startdate "$start" -enddate "$end" \
        -in "$1" -cert "$2" -keyfile "$3" -extensions "$4" -out "$5" 2>/dev/null
}
sign_self() {  # sign_self CSR KEY EXT OUT
    openssl ca -batch -config "$work/ca.cnf" -notext -startdate "$start" -enddate "$end" \
        -selfsign -in "$1" -keyfile "$2" -extensions "$3" -out "$4" 2>/dev/null
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/root.key" 2>/dev/null
openssl req -new -key "$work/root.key" -subj "/O=Segel Fuzz/CN=Segel Fuzz Root CA" -out "$work/root.csr"
sign_self "$work/root.csr" "$work/root.key" root root.pem

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/inter.key" 2>/dev/null
openssl req -new -key "$work/inter.key" -subj "/O=Segel Fuzz/CN=BSrE Fuzz Intermediate CA" -out "$work/inter.csr"
sign "$work/inter.csr" root.pem "$work/root.key" inter intermediate.pem

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
openssl req -new -key rsa.key -subj "/CN=Fuzz RSA/emailAddress=fuzz@dinas.example.go.id" -out "$work/rsa.csr"
sign "$work/rsa.csr" intermediate.pem "$work/inter.key" leaf_rsa rsa.pem

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key 2>/dev/null
openssl req -new -key ec.key -subj "/CN=Fuzz EC/emailAddress=fuzz-ec@dinas.example.go.id" -out "$work/ec.csr"
sign "$work/ec.csr" intermediate.pem "$work/inter.key" leaf_ec ec.pem
echo "tests/fuzz-pki: new PKI written; rebuild the corpus (scripts/fuzz --seed) and commit both"
