# shellcheck shell=bash
# integration/lifecycle-lib.sh — helpers shared by the certificate-lifecycle tests (t-revocation*.sh,
# t-notify-expiry.sh), sourced after lib.sh: a lifecycle PKI (make-lifecycle-pki.sh) whose
# certificates point at responders.py on $RESP_URL, and a segel configuration using it.

# lc_setup: reserves $RESP_PORT, makes the PKI in $LC (= $T/lc) for $RESP_URL, starts the responders
# (OCSP at /ocsp by the delegated responder, CRLs under /crl).
lc_setup() {
    seg__port RESP_PORT
    LC="$T/lc"
    export LC
    bash "$SEG_LIB_DIR/make-lifecycle-pki.sh" make "$LC" "http://127.0.0.1:$RESP_PORT" >"$T/make-lc.log" 2>&1 \
        || { cat "$T/make-lc.log" >&2; seg_fail "make-lifecycle-pki.sh failed"; }
    seg_start_responders --static /crl="$LC/crl" \
        --ocsp "/ocsp,index=$LC/int-index.txt,ca=$LC/int.pem,rsigner=$LC/ocsp.pem,rkey=$LC/ocsp.key,ndays=1,unauth_rsigner=$LC/rogue-ocsp.pem,unauth_rkey=$LC/rogue-ocsp.key"
}

# lc_revoke NAME [REASON]: revokes NAME's certificate in the CA's index and publishes a new CRL.
lc_revoke() {
    bash "$SEG_LIB_DIR/make-lifecycle-pki.sh" revoke "$LC" "$1" "${2:-keyCompromise}" >>"$T/make-lc.log" 2>&1 \
        || { cat "$T/make-lc.log" >&2; seg_fail "could not revoke $1"; }
}

# lc_serial NAME: NAME's certificate serial (upper-case hex, as segel prints it: no leading zeros).
lc_serial() { openssl x509 -in "$LC/$1.leaf.pem" -noout -serial | cut -d= -f2 | sed 's/^0*//'; }

# lc_config FILE "NAME..." [EXTRA YAML]: a configuration with the lifecycle PKI, the credentials of
# NAME..., and EXTRA appended (e.g. a revocation: section).
lc_config() {
    local f=$1 names=$2 extra=${3:-} name
    {
        cat <<EOF
milter:
  socket: unix:$MILTER_SOCK
  internal_networks: [127.0.0.0/8]
log:
  level: debug
trust:
  anchors: [$LC/root.pem]
  intermediates: [$LC/int.pem]
signing:
  domains:
    - domain: dinas.example.go.id
credentials:
EOF
        for name in $names; do
            printf '  - pkcs12: %s\n    passphrase_file: %s\n' "$LC/$name.p12" "$LC/$name.pass"
        done
        printf '%s\n' "$extra"
    } >"$f"
}

# lc_wait_log PATTERN [SECONDS]: waits until the milter log matches PATTERN (grep -E).
lc_wait_log() {
    local tries=$((${2:-15} * 10))
    for _ in $(seq "$tries"); do
        grep -Eq -- "$1" "$T/milter.log" 2>/dev/null && return 0
        sleep 0.1
    done
    seg_fail "the milter log never matched /$1/"
}

# lc_faketime_lib [MT]: the path of libfaketime.so.1 (or libfaketimeMT.so.1 with MT).
lc_faketime_lib() {
    local lib
    lib=$(dpkg -L libfaketime 2>/dev/null | grep -m1 "libfaketime${1:-}\.so\.1\$" || true)
    [ -n "$lib" ] || seg_fail "libfaketime (package libfaketime) is not installed"
    printf '%s\n' "$lib"
}

# lc_faketime OFFSET CMD...: runs CMD with the clock moved by OFFSET (libfaketime, e.g. +25h); the
# monotonic clock stays real so that network timeouts still mean what they say. The library is
# preloaded directly, not through the `faketime` wrapper: the wrapper makes a POSIX semaphore and
# shared memory named after its pid (O_EXCL) and leaves them behind when it is killed, so once pids
# wrap around a later run fails with "faketime: sem_open: File exists" (seen in CI).
lc_faketime() {
    local offset=$1 lib
    shift
    lib=$(lc_faketime_lib) || exit 1
    LD_PRELOAD=$lib FAKETIME="$offset" FAKETIME_DONT_FAKE_MONOTONIC=1 "$@"
}

# lc_expect_signed MSG SIGNER: openssl cms verifies MSG against the lifecycle root (S/MIME signing
# purpose, chain from the signature's own certificates) and the signer's address is SIGNER.
lc_expect_signed() {
    local signer="$T/lc-signer.pem" got
    openssl cms -verify -in "$1" -CAfile "$LC/root.pem" -purpose smimesign -signer "$signer" -out /dev/null \
        >"$T/openssl.err" 2>&1 || { cat "$T/openssl.err" >&2; seg_fail "openssl cms -verify rejects $1"; }
    got=$(openssl x509 -in "$signer" -noout -ext subjectAltName 2>/dev/null | grep -o 'email:[^, ]*' | head -n 1 | cut -d: -f2-)
    [ "$got" = "$2" ] || seg_fail "openssl: signer of $1 is '$got', expected '$2'"
}

# lc_responders_at OFFSET: restarts the responders (same port and endpoints as lc_setup) with their
# clock moved by OFFSET, so that their OCSP answers are current in the world a faketime'd segelctl
# lives in. libfaketime is preloaded directly (the faketime wrapper would stand between the pid we
# stop and the server).
lc_responders_at() {
    local lib
    lib=$(lc_faketime_lib MT) || exit 1
    seg_stop_responders
    LD_PRELOAD=$lib FAKETIME="$1" FAKETIME_DONT_FAKE_MONOTONIC=1 \
        "$SEG_PY" "$SEG_LIB_DIR/responders.py" --port "$RESP_PORT" --log "$T/responders.log" \
        --static /crl="$LC/crl" \
        --ocsp "/ocsp,index=$LC/int-index.txt,ca=$LC/int.pem,rsigner=$LC/ocsp.pem,rkey=$LC/ocsp.key,ndays=1" \
        >>"$T/responders.out" 2>&1 &
    SEG_RESPONDERS_PID=$!
    seg__wait_port "$RESP_PORT" || { seg__tail "$T/responders.out" "responders"; seg_fail "responders did not start at $1"; }
}
