# shellcheck shell=bash
# integration/hsm-lib.sh — a SoftHSM2 token for the PKCS#11 tests (t-pkcs11.sh) and the bench,
# sourced after lib.sh. The token lives under $T/hsm (SOFTHSM2_CONF is exported, so the milter
# started afterwards finds it); its user PIN is in $HSM_PIN_FILE (mode 600).
#
#   hsm_setup                         token "segel", PIN 1234, SO PIN 5678
#   hsm_import NAME LABEL ID          NAME's private key from the test PKI's NAME.p12 into the token
#   hsm_generate rsa|ec LABEL ID      a key pair made in the token (never extractable)
#   hsm_issue rsa|ec LABEL EMAIL CN OUT
#                                     a certificate for the token key LABEL, issued by the test PKI's
#                                     intermediate (the CSR is signed in the token: openssl's pkcs11
#                                     engine); OUT = leaf + intermediate (PEM)
#   hsm_store_cert CERT LABEL ID      the certificate as an object in the token, next to its key
#   hsm_away / hsm_back               the token disappears (its files are moved away) and returns
#   hsm_p11kit_start / hsm_p11kit_stop
#                                     `p11-kit server` exporting the token on $HSM_P11KIT_SOCKET, so a
#                                     milter using $HSM_CLIENT_MODULE reaches the key without loading
#                                     SoftHSM itself

HSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
HSM_CLIENT_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
HSM_P11KIT_PID=""

# Chains hsm_p11kit_stop before lib.sh's cleanup (which keeps the exit status).
hsm__trap() {
    trap 'rc=$?; set +e; hsm_p11kit_stop; (exit $rc); seg__cleanup' EXIT
}

hsm_setup() {
    for tool in softhsm2-util pkcs11-tool p11-kit; do
        command -v "$tool" >/dev/null || seg_fail "$tool is missing (scripts/deps.sh installs softhsm2, opensc, p11-kit)"
    done
    [ -r "$HSM_MODULE" ] || seg_fail "$HSM_MODULE is missing (package softhsm2)"
    HSM_DIR="$T/hsm"
    mkdir -p "$HSM_DIR/tokens"
    chmod 700 "$HSM_DIR"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$HSM_DIR/tokens" \
        >"$HSM_DIR/softhsm2.conf"
    export SOFTHSM2_CONF="$HSM_DIR/softhsm2.conf"
    softhsm2-util --init-token --free --label segel --pin 1234 --so-pin 5678 >"$HSM_DIR/init.log" 2>&1 \
        || { cat "$HSM_DIR/init.log" >&2; seg_fail "softhsm2-util could not make the token"; }
    HSM_PIN_FILE="$HSM_DIR/pin"
    printf '1234\n' >"$HSM_PIN_FILE"
    chmod 600 "$HSM_PIN_FILE"
    HSM_P11KIT_SOCKET="$HSM_DIR/p11-kit.sock"
    export HSM_DIR HSM_PIN_FILE HSM_P11KIT_SOCKET
    hsm__trap
}

hsm__tool() { pkcs11-tool --module "$HSM_MODULE" --token-label segel --login --pin 1234 "$@"; }

hsm_import() {
    local name=$1 label=$2 id=$3
    openssl pkcs12 -in "$PKI/$name.p12" -passin "file:$PKI/$name.pass" -nocerts -nodes 2>/dev/null \
        | openssl pkcs8 -topk8 -nocrypt -out "$HSM_DIR/$label.key.pem"
    softhsm2-util --import "$HSM_DIR/$label.key.pem" --token segel --label "$label" --id "$id" --pin 1234 \
        >>"$HSM_DIR/tool.log" 2>&1 || { cat "$HSM_DIR/tool.log" >&2; seg_fail "could not import $name's key"; }
    rm -f "$HSM_DIR/$label.key.pem"
}

hsm_generate() {
    local kind=$1 label=$2 id=$3 type=rsa:2048
    [ "$kind" = ec ] && type=EC:prime256v1
    hsm__tool --keypairgen --key-type "$type" --label "$label" --id "$id" >>"$HSM_DIR/tool.log" 2>&1 \
        || { cat "$HSM_DIR/tool.log" >&2; seg_fail "could not generate $label in the token"; }
}

hsm_issue() {
    local kind=$1 label=$2 email=$3 cn=$4 out=$5 ku="digitalSignature, nonRepudiation, keyEncipherment"
    [ "$kind" = ec ] && ku="digitalSignature, nonRepudiation, keyAgreement"
    PKCS11_MODULE_PATH=$HSM_MODULE openssl req -new -engine pkcs11 -keyform engine -key "pkcs11:token=segel;object=$label;type=private" \
        -passin pass:1234 -subj "/C=ID/O=Pemerintah Kabupaten Contoh/CN=$cn/emailAddress=$email" \
        -out "$HSM_DIR/$label.csr" >>"$HSM_DIR/tool.log" 2>&1 \
        || { cat "$HSM_DIR/tool.log" >&2; seg_fail "could not make a CSR with the token key $label"; }
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s\n' \
        "$ku" "$email" >"$HSM_DIR/$label.ext"
    openssl x509 -req -in "$HSM_DIR/$label.csr" -CA "$PKI/intermediate.pem" -CAkey "$PKI/intermediate.key" \
        -CAcreateserial -CAserial "$HSM_DIR/serial" -days 400 -extfile "$HSM_DIR/$label.ext" \
        -out "$HSM_DIR/$label.leaf.pem" >>"$HSM_DIR/tool.log" 2>&1 \
        || { cat "$HSM_DIR/tool.log" >&2; seg_fail "could not issue a certificate for $label"; }
    cat "$HSM_DIR/$label.leaf.pem" "$PKI/intermediate.pem" >"$out"
}

hsm_store_cert() {
    local cert=$1 label=$2 id=$3
    openssl x509 -in "$cert" -outform DER -out "$HSM_DIR/$label.der"
    hsm__tool --write-object "$HSM_DIR/$label.der" --type cert --label "$label" --id "$id" \
        >>"$HSM_DIR/tool.log" 2>&1 || { cat "$HSM_DIR/tool.log" >&2; seg_fail "could not store $label's certificate"; }
}

hsm_away() { mv "$HSM_DIR/tokens" "$HSM_DIR/tokens.away"; }
hsm_back() { mv "$HSM_DIR/tokens.away" "$HSM_DIR/tokens"; }

hsm_p11kit_start() {
    rm -f "$HSM_P11KIT_SOCKET"
    p11-kit server -f --provider "$HSM_MODULE" -n "$HSM_P11KIT_SOCKET" "pkcs11:token=segel" \
        >>"$HSM_DIR/p11-kit.log" 2>&1 &
    HSM_P11KIT_PID=$!
    for _ in $(seq 100); do
        [ -S "$HSM_P11KIT_SOCKET" ] && return 0
        kill -0 "$HSM_P11KIT_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$HSM_DIR/p11-kit.log" >&2
    seg_fail "p11-kit server did not create $HSM_P11KIT_SOCKET"
}

# Stops the server and the p11-kit-remote process it runs per client connection (which would
# otherwise go on serving the milter's open connection).
hsm_p11kit_stop() {
    [ -n "$HSM_P11KIT_PID" ] || return 0
    local children
    children=$(ps -o pid= --ppid "$HSM_P11KIT_PID" 2>/dev/null || true)
    kill "$HSM_P11KIT_PID" $children 2>/dev/null || true
    wait "$HSM_P11KIT_PID" 2>/dev/null || true
    HSM_P11KIT_PID=""
    rm -f "$HSM_P11KIT_SOCKET"
}
