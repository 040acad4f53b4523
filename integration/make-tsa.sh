#!/usr/bin/env bash
# make-tsa.sh OUTDIR — two RFC 3161 time-stamp authorities for tests, made with openssl(1) only,
# each with an `openssl ts -reply` configuration for integration/responders.py (--tsa P,config=F):
#
#   tsa-root.pem               "Segel Test TSA Root" (self-signed): the anchor tests configure
#   tsa.pem tsa.key            "Segel Test TSA", issued by it: critical EKU timeStamping (RFC 3161 §2.3)
#   tsa.cnf                    its openssl ts configuration: SHA-256 signer digest, ESSCertIDv2
#                              (RFC 5816), policy 1.3.6.1.4.1.99999.1.1, TSA name in the token
#   rogue-root.pem             "Rogue TSA Root": an anchor no test configures
#   rogue.pem rogue.key        "Rogue TSA", issued by it, otherwise the same
#   rogue.cnf                  its configuration (a TSA whose certificate is untrusted)
#
# Keys are mode 600. Prints nothing on success. Takes about a second.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 64; }
out=$1
mkdir -p "$out"
cd "$out"
umask 077

cat >ext.cnf <<'EOF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# authority NAME CN ROOT_CN
authority() {
    local name=$1 cn=$2 root_cn=$3
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$name-root.key" -subj "/C=ID/O=Segel Test/CN=$root_cn" \
        -days 3650 -extensions root -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n'; cat ext.cnf) \
        -out "$name-root.pem" 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -subj "/C=ID/O=Segel Test/CN=$cn" \
        -out "$name.csr" 2>/dev/null
    openssl x509 -req -in "$name.csr" -CA "$name-root.pem" -CAkey "$name-root.key" -CAcreateserial \
        -CAserial "$name-root.srl" -days 730 -extfile ext.cnf -extensions tsa -out "$name.pem" 2>/dev/null
    rm -f "$name.csr"
    printf '01\n' >"$name.serial"
    cat >"$name.cnf" <<EOF
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = $out
serial = \$dir/$name.serial
crypto_device = builtin
signer_cert = \$dir/$name.pem
signer_key = \$dir/$name.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
other_policies = 1.3.6.1.4.1.99999.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
EOF
}

authority tsa "Segel Test TSA" "Segel Test TSA Root"
authority rogue "Rogue TSA" "Rogue TSA Root"
chmod 644 ./*.pem ./*.cnf
chmod 600 ./*.key ./*.serial
# "tsa" keeps its root key (tests may issue more); the rogue root's is not needed.
rm -f rogue-root.key ext.cnf
