#!/usr/bin/env bash
# The test responders themselves (integration/responders.py), checked with openssl's own clients so
# that the tests built on them stand on something known to work: OCSP good → revoked after
# `openssl ca -revoke`, the nonce copied; every fault mode (down, slow, garbage, http500,
# wrong-nonce, no-nonce, unauthorized); CRLs with ETag / Last-Modified and 304; a TSA reply that
# `openssl ts -verify` accepts; the control endpoint and request log. No segel binary is involved.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup responders
P="$T/ca"
mkdir -p "$P/crl"
cd "$P"
cat >ca.cnf <<'EOF'
[ca]
default_ca = CA_default
[CA_default]
dir = .
database = index.txt
new_certs_dir = .
default_md = sha256
policy = p
serial = serial
crlnumber = crlnumber
default_crl_days = 7
unique_subject = no
[p]
commonName = supplied
[ocsp]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = emailProtection
[tsaext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
EOF
cat >tsa.cnf <<EOF
[tsa]
default_tsa = tsa_config
[tsa_config]
serial = $P/tsaserial
crypto_device = builtin
signer_cert = $P/tsa.pem
certs = $P/ca.pem
signer_key = $P/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
EOF
: >index.txt
echo 1000 >serial
echo 01 >crlnumber
echo 01 >tsaserial
ec() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=RespCA -days 30 2>/dev/null
for n in ocsp:ocsp leaf:leaf tsa:tsaext; do
    ec "${n%%:*}"
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -extensions "${n#*:}" -days 10 \
        -in "${n%%:*}.csr" -out "${n%%:*}.pem" 2>/dev/null
done
openssl ca -gencrl -config ca.cnf -cert ca.pem -keyfile ca.key -out crl/ca.crl 2>/dev/null

seg_start_responders --static /crl="$P/crl" --tsa /tsa,config="$P/tsa.cnf" \
    --ocsp /ocsp,index="$P/index.txt",ca="$P/ca.pem",rsigner="$P/ocsp.pem",rkey="$P/ocsp.key",ndays=1,unauth_rsigner="$P/leaf.pem",unauth_rkey="$P/leaf.key" \
    --fault /ocsp-down=down
ask() { openssl ocsp -issuer ca.pem -cert leaf.pem -url "$RESP_URL${1:-/ocsp}" -CAfile ca.pem -timeout 5 >"$T/ocsp.out" 2>&1 || true; }

ask
grep -q 'Response verify OK' "$T/ocsp.out" && grep -q 'leaf.pem: good' "$T/ocsp.out" || { cat "$T/ocsp.out"; seg_fail "OCSP: expected a verified 'good'"; }
grep -q '"nonce": "04' "$T/responders.log" || seg_fail "OCSP: the request log has no nonce"
openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -revoke leaf.pem -crl_reason keyCompromise >/dev/null 2>&1
ask
grep -q 'leaf.pem: revoked' "$T/ocsp.out" && grep -q 'Reason: keyCompromise' "$T/ocsp.out" || { cat "$T/ocsp.out"; seg_fail "OCSP: expected revoked (keyCompromise)"; }
seg_ok "OCSP: good, then revoked (keyCompromise) after openssl ca -revoke; nonce logged"

seg_responder_fault /ocsp wrong-nonce
ask
grep -q 'Nonce Verify error' "$T/ocsp.out" || { cat "$T/ocsp.out"; seg_fail "wrong-nonce: openssl did not see a nonce mismatch"; }
seg_responder_fault /ocsp no-nonce
ask
grep -q 'no nonce in response' "$T/ocsp.out" || { cat "$T/ocsp.out"; seg_fail "no-nonce: the answer still has a nonce"; }
seg_responder_fault /ocsp unauthorized
ask
grep -q 'missing ocspsigning usage' "$T/ocsp.out" || { cat "$T/ocsp.out"; seg_fail "unauthorized: openssl accepted the responder"; }
seg_responder_fault /ocsp garbage
ask
grep -q 'Error querying OCSP responder' "$T/ocsp.out" || { cat "$T/ocsp.out"; seg_fail "garbage: openssl parsed the answer"; }
seg_responder_fault /ocsp http500
ask
grep -qi 'status code: 500\|code=500\|500' "$T/ocsp.out" || { cat "$T/ocsp.out"; seg_fail "http500: no 500 seen"; }
ask /ocsp-down
grep -q 'Error querying OCSP responder\|error receiving' "$T/ocsp.out" || { cat "$T/ocsp.out"; seg_fail "down: openssl got an answer"; }
seg_responder_fault /ocsp slow:3
openssl ocsp -issuer ca.pem -cert leaf.pem -url "$RESP_URL/ocsp" -CAfile ca.pem -timeout 1 >"$T/ocsp.out" 2>&1 || true
grep -q 'leaf.pem: revoked' "$T/ocsp.out" && seg_fail "slow:3: answered within a 1 s timeout"
seg_responder_fault /ocsp ok
ask
grep -q 'leaf.pem: revoked' "$T/ocsp.out" || { cat "$T/ocsp.out"; seg_fail "mode ok: normal answers did not come back"; }
seg_ok "OCSP faults: wrong-nonce, no-nonce, unauthorized, garbage, http500, down, slow; ok restores"

curl_get() { "$SEG_PY" - "$@" <<'EOF'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], headers=dict(h.split(": ", 1) for h in sys.argv[2:]))
try:
    r = urllib.request.urlopen(req, timeout=10)
    print(r.status, r.headers.get("ETag"), r.headers.get("Last-Modified"), len(r.read()))
except urllib.error.HTTPError as e:
    print(e.code)
EOF
}
read -r status etag _ <<<"$(curl_get "$RESP_URL/crl/ca.crl")"
[ "$status" = 200 ] && [ -n "$etag" ] || seg_fail "CRL: expected 200 with an ETag, got $status $etag"
[ "$(curl_get "$RESP_URL/crl/ca.crl" "If-None-Match: $etag")" = 304 ] || seg_fail "CRL: If-None-Match did not give 304"
lm=$(curl_get "$RESP_URL/crl/ca.crl" | cut -d' ' -f3-7)
[ "$(curl_get "$RESP_URL/crl/ca.crl" "If-Modified-Since: $lm")" = 304 ] || seg_fail "CRL: If-Modified-Since did not give 304"
sleep 1.1
openssl ca -gencrl -config ca.cnf -cert ca.pem -keyfile ca.key -out crl/ca.crl 2>/dev/null
read -r status etag2 _ <<<"$(curl_get "$RESP_URL/crl/ca.crl" "If-None-Match: $etag")"
[ "$status" = 200 ] && [ "$etag2" != "$etag" ] || seg_fail "CRL: a new CRL was not served (status $status)"
[ "$(curl_get "$RESP_URL/crl/missing.crl")" = 404 ] || seg_fail "CRL: a missing file was not 404"
seg_ok "CRL: ETag and Last-Modified, 304 for both conditions, a new CRL served with a new ETag, 404"

openssl ts -query -data ca.cnf -sha256 -cert -out q.tsq 2>/dev/null
"$SEG_PY" - "$RESP_URL/tsa" q.tsq r.tsr <<'EOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=open(sys.argv[2], "rb").read(),
                             headers={"Content-Type": "application/timestamp-query"})
open(sys.argv[3], "wb").write(urllib.request.urlopen(req, timeout=10).read())
EOF
openssl ts -verify -in r.tsr -queryfile q.tsq -CAfile ca.pem -untrusted tsa.pem >"$T/ts.out" 2>&1 \
    || { cat "$T/ts.out"; seg_fail "TSA: openssl ts -verify rejects the reply"; }
seg_ok "TSA: the reply verifies with openssl ts -verify"

grep -q '"path": "/tsa"' "$T/responders.log" && grep -q '"status": 304' "$T/responders.log" \
    || seg_fail "the request log misses the TSA request or a 304"
seg_ok "request log: $(wc -l <"$T/responders.log") requests recorded"
