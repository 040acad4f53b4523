#!/usr/bin/env bash
# make-lifecycle-pki.sh — a test PKI for revocation and expiry (R4, R5, R6), made with openssl(1) as a
# real CA would (`openssl ca`, an index, CRLs), whose certificates point at responders on 127.0.0.1:
#
#   make-lifecycle-pki.sh make OUTDIR BASEURL   e.g. BASEURL=http://127.0.0.1:PORT
#   make-lifecycle-pki.sh revoke OUTDIR NAME [REASON]   revoke NAME (default keyCompromise), new CRL
#   make-lifecycle-pki.sh gencrl OUTDIR [SECONDS]       a new intermediate CRL (default: valid 7 days)
#
# Serve it with integration/responders.py:
#   --static /crl=OUTDIR/crl
#   --ocsp /ocsp,index=OUTDIR/int-index.txt,ca=OUTDIR/int.pem,rsigner=OUTDIR/ocsp.pem,rkey=OUTDIR/ocsp.key,ndays=1,
#          unauth_rsigner=OUTDIR/rogue-ocsp.pem,unauth_rkey=OUTDIR/rogue-ocsp.key
#   --ocsp /ocsp-ca,index=OUTDIR/int-index.txt,ca=OUTDIR/int.pem,rsigner=OUTDIR/int.pem,rkey=OUTDIR/int.key,ndays=1
#
# Files (EC P-256 keys unless noted; *.key, *.pass, *.p12 mode 600; NAME.crt = leaf then int.pem):
#   root.pem/.key         "Segel Lifecycle Root CA"; its CRL crl/root.crl
#   int.pem/.key          "BSrE Lifecycle Intermediate CA" (CDP BASEURL/crl/root.crl); CRL crl/int.crl
#   ocsp.pem/.key         delegated OCSP responder issued by int (id-kp-OCSPSigning, ocspNoCheck)
#   rogue-ocsp.pem/.key   issued by int WITHOUT id-kp-OCSPSigning: an unauthorised responder
#   other-root.pem/.key   a CA that issued nothing here (a CRL signed by it is forged: crl/forged.crl)
#   leaves (AIA BASEURL/ocsp, CDP BASEURL/crl/int.crl unless said otherwise):
#     siti      siti@dinas.example.go.id         stays good
#     cabut     cabut@dinas.example.go.id        revoked by the tests
#     crlonly   crlonly@dinas.example.go.id      CDP only
#     ocsponly  ocsponly@dinas.example.go.id     AIA only
#     plain     plain@dinas.example.go.id        neither (nothing to check)
#     segera    segera@dinas.example.go.id       expires 100 days from now (expiry notices)
#     seal      noreply@dinas.example.go.id      the gateway's seal (signs notices)
#     mitra     mitra@mitra.example.go.id        an outside signer (inbound verification)
#     penerima  penerima@mitra.example.go.id     RSA, keyEncipherment: a recipient for encryption
#     subjonly  subjonly@dinas.example.go.id     emailProtection, but the address only in the subject emailAddress
#     bsredev   bsredev@dinas.example.go.id      like BSrE's development certificate: critical EKU with only
#               Adobe PDF signing (1.2.840.113583.1.1.5), no subjectAltName (address only in the subject
#               emailAddress), key usage digitalSignature + nonRepudiation only
#   NAME.p12 + NAME.pass (passphrase without newline) for every leaf; NAME.key kept too
set -euo pipefail

cmd=${1:-}
out=${2:-}
[ -n "$cmd" ] && [ -n "$out" ] || { echo "usage: $0 make OUTDIR BASEURL | revoke OUTDIR NAME [REASON] | gencrl OUTDIR [SECONDS]" >&2; exit 64; }
umask 077
export EE_EMAIL=none@example  # ca.cnf's leaf sections name $ENV::EE_EMAIL

crl() { # [SECONDS]
    local secs=${1:-}
    if [ -n "$secs" ]; then
        openssl ca -gencrl -config "$out/ca.cnf" -name int_ca -crlsec "$secs" -out "$out/crl/int.crl.tmp" 2>"$out/ca.err" \
            || { cat "$out/ca.err" >&2; exit 1; }
    else
        openssl ca -gencrl -config "$out/ca.cnf" -name int_ca -out "$out/crl/int.crl.tmp" 2>"$out/ca.err" \
            || { cat "$out/ca.err" >&2; exit 1; }
    fi
    chmod 644 "$out/crl/int.crl.tmp"
    mv -f "$out/crl/int.crl.tmp" "$out/crl/int.crl"
}

case $cmd in
revoke)
    name=${3:?NAME}
    reason=${4:-keyCompromise}
    openssl ca -config "$out/ca.cnf" -name int_ca -revoke "$out/$name.leaf.pem" -crl_reason "$reason" 2>"$out/ca.err" \
        || { cat "$out/ca.err" >&2; exit 1; }
    crl
    exit 0
    ;;
gencrl)
    crl "${3:-}"
    exit 0
    ;;
make) ;;
*) echo "$0: unknown command $cmd" >&2; exit 64 ;;
esac

base=${3:?BASEURL}
mkdir -p "$out/crl" "$out/newcerts"
cd "$out"
cat >ca.cnf <<EOF
[ca]
default_ca = int_ca

[root_ca]
dir              = $out
database         = $out/root-index.txt
new_certs_dir    = $out/newcerts
certificate      = $out/root.pem
private_key      = $out/root.key
serial           = $out/root-serial
crlnumber        = $out/root-crlnumber
default_md       = sha256
default_crl_days = 30
policy           = policy_any
unique_subject   = no
email_in_dn      = yes
copy_extensions  = none

[int_ca]
dir              = $out
database         = $out/int-index.txt
new_certs_dir    = $out/newcerts
certificate      = $out/int.pem
private_key      = $out/int.key
serial           = $out/int-serial
crlnumber        = $out/int-crlnumber
default_md       = sha256
default_crl_days = 7
policy           = policy_any
unique_subject   = no
email_in_dn      = yes
copy_extensions  = none

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

[v3_int]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:$base/crl/root.crl

[v3_ocsp]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = OCSPSigning
noCheck                = ignored
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[v3_rogue]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = emailProtection
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[v3_leaf]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation, keyAgreement
extendedKeyUsage       = emailProtection
subjectAltName         = email:\$ENV::EE_EMAIL
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
authorityInfoAccess    = OCSP;URI:$base/ocsp
crlDistributionPoints  = URI:$base/crl/int.crl

[v3_leaf_rsa]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage       = emailProtection
subjectAltName         = email:\$ENV::EE_EMAIL
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
authorityInfoAccess    = OCSP;URI:$base/ocsp
crlDistributionPoints  = URI:$base/crl/int.crl

[v3_crlonly]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation, keyAgreement
extendedKeyUsage       = emailProtection
subjectAltName         = email:\$ENV::EE_EMAIL
authorityKeyIdentifier = keyid
crlDistributionPoints  = URI:$base/crl/int.crl

[v3_ocsponly]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation, keyAgreement
extendedKeyUsage       = emailProtection
subjectAltName         = email:\$ENV::EE_EMAIL
authorityKeyIdentifier = keyid
authorityInfoAccess    = OCSP;URI:$base/ocsp

[v3_plain]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation, keyAgreement
extendedKeyUsage       = emailProtection
subjectAltName         = email:\$ENV::EE_EMAIL
authorityKeyIdentifier = keyid

[v3_subjonly]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation, keyAgreement
extendedKeyUsage       = emailProtection
authorityKeyIdentifier = keyid

[v3_bsredev]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation
extendedKeyUsage       = critical, 1.2.840.113583.1.1.5
authorityKeyIdentifier = keyid
authorityInfoAccess    = OCSP;URI:$base/ocsp
crlDistributionPoints  = URI:$base/crl/int.crl
EOF
: >root-index.txt
: >int-index.txt
echo 1000 >root-serial
echo 1000 >int-serial
echo 01 >root-crlnumber
echo 01 >int-crlnumber

fmt() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
start=$(fmt '2 days ago')
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# issue CA_SECTION EXT NAME SUBJ END [rsa]
issue() {
    local ca=$1 ext=$2 name=$3 subj=$4 end=$5 kind=${6:-ec}
    "${kind}_key" "$name.key"
    openssl req -new -config ca.cnf -key "$name.key" -subj "$subj" -out "$name.csr"
    openssl ca -batch -notext -config ca.cnf -name "$ca" -extensions "$ext" -startdate "$start" -enddate "$end" \
        -subj "$subj" -in "$name.csr" -out "$name.leaf.pem" 2>ca.err || { cat ca.err >&2; exit 1; }
    rm -f "$name.csr"
}

# The root (self-signed through its own openssl ca database) and the intermediate.
ec_key root.key
openssl req -new -config ca.cnf -key root.key -subj "/C=ID/O=Segel Test/CN=Segel Lifecycle Root CA" -out root.csr
openssl ca -batch -notext -selfsign -config ca.cnf -name root_ca -keyfile root.key -extensions v3_root \
    -startdate 20200101000000Z -enddate "$(fmt 'now + 10 years')" -in root.csr -out root.pem 2>ca.err \
    || { cat ca.err >&2; exit 1; }
rm -f root.csr
issue root_ca v3_int int "/C=ID/O=Badan Siber dan Sandi Negara/CN=BSrE Lifecycle Intermediate CA" "$(fmt 'now + 5 years')"
mv int.leaf.pem int.pem
openssl ca -gencrl -config ca.cnf -name root_ca -out crl/root.crl 2>ca.err || { cat ca.err >&2; exit 1; }

ec_key other-root.key
openssl req -x509 -new -config ca.cnf -key other-root.key -subj "/C=ID/O=Badan Siber dan Sandi Negara/CN=BSrE Lifecycle Intermediate CA" \
    -days 3650 -out other-root.pem 2>/dev/null

plus2y=$(fmt 'now + 2 years')
issue int_ca v3_ocsp ocsp "/C=ID/O=Badan Siber dan Sandi Negara/CN=BSrE Lifecycle OCSP Responder" "$(fmt 'now + 1 year')"
mv ocsp.leaf.pem ocsp.pem
issue int_ca v3_rogue rogue-ocsp "/C=ID/O=Pemerintah Kabupaten Contoh/CN=Not A Responder" "$plus2y"
mv rogue-ocsp.leaf.pem rogue-ocsp.pem

# leaf NAME EMAIL CN EXT END [rsa]
leaf() {
    EE_EMAIL=$2 issue int_ca "$4" "$1" "/C=ID/O=Pemerintah Kabupaten Contoh/CN=$3/emailAddress=$2" "$5" "${6:-ec}"
    cat "$1.leaf.pem" int.pem >"$1.crt"
    openssl rand -hex 12 | tr -d '\n' >"$1.pass"
    openssl pkcs12 -export -in "$1.crt" -inkey "$1.key" -name "$1" -passout "file:$1.pass" -out "$1.p12"
}
leaf siti siti@dinas.example.go.id "Siti Rahmawati" v3_leaf "$plus2y"
leaf cabut cabut@dinas.example.go.id "Cabut Prasetyo" v3_leaf "$plus2y"
leaf crlonly crlonly@dinas.example.go.id "Hanya CRL" v3_crlonly "$plus2y"
leaf ocsponly ocsponly@dinas.example.go.id "Hanya OCSP" v3_ocsponly "$plus2y"
leaf plain plain@dinas.example.go.id "Tanpa Alamat Cabut" v3_plain "$plus2y"
leaf segera segera@dinas.example.go.id "Segera Berakhir" v3_leaf "$(fmt 'now + 100 days')"
leaf seal noreply@dinas.example.go.id "Segel Elektronik Dinas Contoh" v3_leaf "$plus2y"
leaf mitra mitra@mitra.example.go.id "Mitra Luar" v3_leaf "$plus2y"
leaf penerima penerima@mitra.example.go.id "Penerima Sandi" v3_leaf_rsa "$plus2y" rsa
# No subjectAltName: the address lives only in the subject (EE_EMAIL is not used by these two).
leaf bsredev bsredev@dinas.example.go.id "BSrE Development" v3_bsredev "$plus2y"
leaf subjonly subjonly@dinas.example.go.id "Alamat Di Subjek" v3_subjonly "$plus2y"

crl
# A CRL for the intermediate's name signed by a key that is not the intermediate's (a forgery).
openssl ca -gencrl -config ca.cnf -name int_ca -keyfile other-root.key -cert other-root.pem \
    -out crl/forged.crl 2>ca.err || { cat ca.err >&2; exit 1; }
chmod 644 ./*.pem ./*.crt crl/*.crl
chmod 755 crl
cp root.pem trust.pem
