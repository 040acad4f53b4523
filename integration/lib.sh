# shellcheck shell=bash
# integration/lib.sh — the one helper library every integration test sources, so tests read like
# stories (rspamd's lib.lua idea):
#
#   . "$(dirname "$0")/lib.sh"
#   seg_setup outbound-sign
#   seg_start_sink; seg_start_postfix; seg_add_user siti@dinas.example.go.id pw
#   seg_write_config; seg_start_milter
#   seg_send siti@dinas.example.go.id siti@dinas.example.go.id kepala@mitra.example --auth siti@dinas.example.go.id pw
#   seg_expect_reply '^250 '
#   seg_wait_delivered 1; seg_verify_openssl "$(seg_last_delivered)"
#
# Everything runs as root on 127.0.0.1 only, under a fresh temp dir $T with its own ports, so ctest
# may run tests in parallel. Postfix, smtp-sink, the milter and gpg-agent are stopped on EXIT,
# and $T is removed unless SEGEL_KEEP=1.
#
# Inputs (environment): SEGEL_MILTER, SEGELCTL (binaries; default $REPO/build/...),
# SEGEL_KEEP=1 (keep $T), SEGEL_PKI_CACHE (where the shared test PKI is cached).
#
# Traps this library works around (more in integration/README.md):
#  - swaks turns a literal backslash-n ("\n", two characters) in --data into CRLF and expands
#    %DATE%-style tokens; and when the data file ends with a newline it adds an empty line before
#    the final dot. seg_send appends "\n.\n" so the message arrives byte-exact.
#  - smtp-sink stores LF line ends and one extra trailing LF: see seg_strip_sink.
#  - the milter socket is created by root with the milter's umask; smtpd runs as postfix and needs
#    write access to it, so seg_start_milter makes it mode 666.

set -euo pipefail

SEG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SEG_LIB_DIR/.." && pwd)
export REPO
: "${SEGEL_MILTER:=$REPO/build/milter/segel-milter}"
: "${SEGELCTL:=$REPO/build/tools/segelctl}"
: "${SEGEL_PKI_CACHE:=/tmp/segel-pki-cache}"
export SEGEL_MILTER SEGELCTL

if [ -x /usr/bin/python3 ]; then SEG_PY=/usr/bin/python3; else SEG_PY=python3; fi
SEG_MAILTOOL="$SEG_LIB_DIR/mailtool.py"

# Well-known test identities.
DINAS=dinas.example.go.id
export DINAS

SEG_NAME=""
T=""
SEG_PORTS=()
SEG_SINK_PID=""
SEG_MILTER_PID=""
SEG_RESPONDERS_PID=""
SEG_POSTFIX_UP=0
SEG_SEND_N=0
SEG_REPLY=""
SEG_TRANSCRIPT=""
export SEG_SWAKS_RC=0
SEG_PORT_DIR=/tmp/segel-ports

# ---------------------------------------------------------------------------------------------
# reporting

seg_ok() { printf 'ok - %s: %s\n' "$SEG_NAME" "$*"; }

seg__tail() { # FILE LABEL
    if [ -s "$1" ]; then
        printf -- '--- %s (%s, last 40 lines) ---\n' "$2" "$1" >&2
        tail -n 40 "$1" >&2
    fi
}

# seg_fail MESSAGE: says what went wrong, shows the logs that explain it, exits 1.
seg_fail() {
    printf 'FAIL - %s: %s\n' "$SEG_NAME" "$*" >&2
    [ -n "$SEG_REPLY" ] && printf '  last SMTP reply: %s\n' "$SEG_REPLY" >&2
    if [ -n "$T" ]; then
        [ -n "$SEG_TRANSCRIPT" ] && seg__tail "$SEG_TRANSCRIPT" "swaks transcript"
        seg__tail "$T/milter.log" "milter log"
        seg__tail "$T/maillog" "postfix log"
    fi
    exit 1
}

# ---------------------------------------------------------------------------------------------
# setup and teardown

seg__cleanup() {
    local rc=$?
    set +e
    seg_stop_milter
    if [ "$SEG_POSTFIX_UP" = 1 ]; then
        postfix -c "$T/pf/etc" stop >/dev/null 2>&1
        local pid
        pid=$(tr -d ' ' 2>/dev/null <"$T/pf/queue/pid/master.pid")
        for _ in $(seq 50); do
            if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then break; fi
            sleep 0.1
        done
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
        SEG_POSTFIX_UP=0
    fi
    if [ -n "$SEG_SINK_PID" ]; then
        kill "$SEG_SINK_PID" 2>/dev/null
        wait "$SEG_SINK_PID" 2>/dev/null
    fi
    seg_stop_responders
    # (seg_verify_gpgsm often runs in a command substitution, so test for the directory, not a flag)
    if [ -n "$T" ] && [ -d "$T/gnupg" ]; then
        GNUPGHOME="$T/gnupg" gpgconf --kill all >/dev/null 2>&1
    fi
    local p
    for p in "${SEG_PORTS[@]}"; do rm -f "$SEG_PORT_DIR/$p"; done
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ "${SEGEL_KEEP:-0}" = 1 ]; then
            printf '# %s: kept %s\n' "$SEG_NAME" "$T" >&2
        else
            rm -rf "$T"
        fi
    fi
    exit "$rc"
}

# seg__port VAR: reserves a free TCP port on 127.0.0.1 (not in the ephemeral range) into VAR.
# Reservations are files in $SEG_PORT_DIR holding the owner's pid, taken under a lock, so
# parallel tests never pick the same port.
seg__port() {
    local var=$1 p owner fd
    mkdir -p "$SEG_PORT_DIR"
    exec {fd}>"$SEG_PORT_DIR/.lock"
    flock "$fd"
    for _ in $(seq 500); do
        p=$((20000 + RANDOM % 12000))
        if [ -e "$SEG_PORT_DIR/$p" ]; then
            owner=$(cat "$SEG_PORT_DIR/$p" 2>/dev/null || true)
            if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then continue; fi
        fi
        if "$SEG_PY" -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' \
            "$p" 2>/dev/null; then
            echo "$$" >"$SEG_PORT_DIR/$p"
            SEG_PORTS+=("$p")
            printf -v "$var" '%s' "$p"
            exec {fd}>&-
            return 0
        fi
    done
    exec {fd}>&-
    seg_fail "no free TCP port found"
}

# seg_setup NAME: fresh $T, ports $SINK_PORT and $SMTP_PORT, test PKI in $PKI (= $T/pki).
seg_setup() {
    SEG_NAME=$1
    T=$(mktemp -d "/tmp/segel-$SEG_NAME.XXXXXX")
    chmod 755 "$T" # smtpd (user postfix) must reach the milter socket, smtp-sink its dump dir
    export T
    trap seg__cleanup EXIT
    trap 'exit 130' INT TERM
    seg__port SINK_PORT
    seg__port SMTP_PORT
    export SINK_PORT SMTP_PORT
    MILTER_SOCK="$T/milter.sock"
    SEG_CONFIG="$T/segel.yaml"
    PKI="$T/pki"
    export MILTER_SOCK SEG_CONFIG PKI
    seg__pki
}

# The PKI is made once per machine into $SEGEL_PKI_CACHE (make-pki.sh is idempotent and
# rebuilds when it changed or the certificates near expiry), then copied.
seg__pki() {
    local fd
    mkdir -p "$(dirname "$SEGEL_PKI_CACHE")"
    exec {fd}>"$SEGEL_PKI_CACHE.lock"
    flock "$fd"
    if ! bash "$SEG_LIB_DIR/make-pki.sh" "$SEGEL_PKI_CACHE" >"$T/make-pki.log" 2>&1; then
        exec {fd}>&-
        cat "$T/make-pki.log" >&2
        seg_fail "make-pki.sh failed"
    fi
    cp -a "$SEGEL_PKI_CACHE" "$PKI"
    exec {fd}>&-
    rm -rf "$PKI"/.staging.* "$PKI/.complete"
}

# ---------------------------------------------------------------------------------------------
# smtp-sink: the "Internet" that Postfix relays to. Each message becomes one file in $SINK_DIR.

seg_start_sink() {
    SINK_DIR="$T/sink"
    export SINK_DIR
    mkdir -p "$SINK_DIR"
    chown postfix "$SINK_DIR"
    smtp-sink -u postfix -d "$SINK_DIR/%Y%m%d%H%M%S." "127.0.0.1:$SINK_PORT" 100 \
        >"$T/sink.log" 2>&1 &
    SEG_SINK_PID=$!
    seg__wait_port "$SINK_PORT" || { seg__tail "$T/sink.log" "smtp-sink log"; seg_fail "smtp-sink did not start"; }
}

seg__wait_port() { # PORT [TRIES of 0.1 s]
    local tries=${2:-100}
    for _ in $(seq "$tries"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

seg_sink_count() { find "$SINK_DIR" -maxdepth 1 -type f | wc -l; }

# seg_wait_delivered N: waits (at most 20 s) until N messages were delivered to the sink.
seg_wait_delivered() {
    local n=$1 sent
    for _ in $(seq 200); do
        sent=$(grep -c 'status=sent' "$T/maillog" 2>/dev/null || true)
        if [ "${sent:-0}" -ge "$n" ] && [ "$(seg_sink_count)" -ge "$n" ]; then return 0; fi
        sleep 0.1
    done
    seg_fail "expected $n delivered message(s), the sink has $(seg_sink_count)"
}

# seg_last_delivered: path of the newest message file in the sink.
seg_last_delivered() {
    # smtp-sink names files TIMESTAMP.RANDOM; order by modification time, newest first.
    # shellcheck disable=SC2012
    ls -t "$SINK_DIR"/* 2>/dev/null | head -n 1
}

# seg_strip_sink FILE OUT: OUT = the message as delivered (smtp-sink's X-* lines and Received
# header removed, its trailing extra LF dropped, CRLF line ends as on the wire).
seg_strip_sink() { "$SEG_PY" "$SEG_MAILTOOL" strip-sink "$1" "$2"; }

# seg_delivered_copy OUT: the newest delivered message, stripped, into OUT.
seg_delivered_copy() { seg_strip_sink "$(seg_last_delivered)" "$1"; }

# ---------------------------------------------------------------------------------------------
# OCSP / CRL / TSA responders (integration/responders.py) on 127.0.0.1:$RESP_PORT

# seg_start_responders ARGS...: starts responders.py with ARGS (--static, --ocsp, --tsa, --fault;
# see the top of responders.py) on a reserved port $RESP_PORT; $RESP_URL is http://127.0.0.1:PORT.
# Its request log is $T/responders.log (one JSON line per request). Stopped on EXIT.
seg_start_responders() {
    [ -n "${RESP_PORT:-}" ] || seg__port RESP_PORT
    RESP_URL="http://127.0.0.1:$RESP_PORT"
    export RESP_PORT RESP_URL
    "$SEG_PY" "$SEG_LIB_DIR/responders.py" --port "$RESP_PORT" --log "$T/responders.log" "$@" \
        >>"$T/responders.out" 2>&1 &
    SEG_RESPONDERS_PID=$!
    seg__wait_port "$RESP_PORT" || { seg__tail "$T/responders.out" "responders"; seg_fail "responders.py did not start"; }
}

seg_stop_responders() {
    [ -n "$SEG_RESPONDERS_PID" ] || return 0
    kill "$SEG_RESPONDERS_PID" 2>/dev/null || true
    wait "$SEG_RESPONDERS_PID" 2>/dev/null || true
    SEG_RESPONDERS_PID=""
}

# seg_responder_fault PATH MODE: sets a fault mode (ok, down, slow:N, garbage, http500, wrong-nonce,
# no-nonce, unauthorized, status:NNN) for PATH on the running responders.
seg_responder_fault() {
    "$SEG_PY" -c 'import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/_control/fault", method="POST",
                             data=json.dumps({"path": sys.argv[2], "mode": sys.argv[3]}).encode())
urllib.request.urlopen(req, timeout=10).read()' "$RESP_URL" "$1" "$2" || seg_fail "responders: cannot set fault $2 on $1"
}

# ---------------------------------------------------------------------------------------------
# Postfix

# seg_start_postfix [MAIN.CF LINE...]: a throwaway Postfix under $T/pf; smtpd on
# 127.0.0.1:$SMTP_PORT with Cyrus sasldb AUTH and the milter at $MILTER_SOCK, relaying everything
# to the sink. Extra arguments ("name = value") replace or add main.cf settings.
seg_start_postfix() {
    local pf="$T/pf"
    mkdir -p "$pf/etc/sasl" "$pf/queue" "$pf/data"
    chown postfix "$pf/data"
    SASLDB="$pf/etc/sasldb2"
    export SASLDB
    cat >"$pf/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SASLDB
mech_list: PLAIN LOGIN
EOF
    cat >"$pf/etc/main.cf" <<EOF
compatibility_level = 3.6
config_directory = $pf/etc
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.segel-test.example
mydomain = segel-test.example
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
relayhost = [127.0.0.1]:$SINK_PORT
smtp_host_lookup = native
disable_dns_lookups = yes
smtp_tls_security_level = none
smtpd_tls_security_level = none
maillog_file = $T/maillog
maillog_file_prefixes = $T
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
mynetworks = 127.0.0.0/8
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_local_domain =
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, reject
smtpd_milters = unix:$MILTER_SOCK
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 5s
EOF
    # Extra lines replace the standard setting of the same name (Postfix would warn otherwise).
    local line name
    for line in "$@"; do
        name=${line%%=*}
        name=${name%% *}
        awk -v n="$name" '$1 != n' "$pf/etc/main.cf" >"$pf/etc/main.cf.new"
        mv "$pf/etc/main.cf.new" "$pf/etc/main.cf"
        printf '%s\n' "$line" >>"$pf/etc/main.cf"
    done
    # One smtpd on our port; nothing chrooted (the milter socket and sasldb live under $T).
    cat >"$pf/etc/master.cf" <<EOF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    postfix -c "$pf/etc" set-permissions >"$T/postfix-setup.log" 2>&1 \
        || { cat "$T/postfix-setup.log" >&2; seg_fail "postfix set-permissions failed"; }
    postfix -c "$pf/etc" check >>"$T/postfix-setup.log" 2>&1 \
        || { cat "$T/postfix-setup.log" >&2; seg_fail "postfix check failed"; }
    postfix -c "$pf/etc" start >>"$T/postfix-setup.log" 2>&1 \
        || { cat "$T/postfix-setup.log" >&2; seg__tail "$T/maillog" "postfix log"; seg_fail "postfix start failed"; }
    SEG_POSTFIX_UP=1
    if ! seg__wait_port "$SMTP_PORT" 150; then
        cat "$T/postfix-setup.log" >&2
        seg_fail "postfix is not listening on 127.0.0.1:$SMTP_PORT"
    fi
}

# seg_add_user LOGIN PASSWORD: a SASL account. "user@domain" logins are stored as user in realm
# domain, which Cyrus joins back, so {auth_authen} is the full address; bare logins ("budi") are
# stored in Cyrus' default realm (this host's name) and arrive bare.
seg_add_user() {
    if [[ $1 == *@* ]]; then
        printf '%s' "$2" | saslpasswd2 -f "$SASLDB" -p -c "$1"
    else
        printf '%s' "$2" | saslpasswd2 -f "$SASLDB" -p -c -u mx.segel-test.example "$1"
    fi
    chgrp postfix "$SASLDB"
    chmod 640 "$SASLDB"
}

# ---------------------------------------------------------------------------------------------
# segel configuration and milter

# seg_write_config [FILE]: writes the standard test configuration (default $SEG_CONFIG).
# Knobs: SEG_CFG_FORMAT (detached|opaque), SEG_CFG_WITHOUT_CERT (reject|pass) for
# dinas.example.go.id, SEG_CFG_OTHER_SENDERS (reject|pass), SEG_CFG_LOG_LEVEL.
seg_write_config() {
    local f=${1:-$SEG_CONFIG} name
    {
        cat <<EOF
milter:
  socket: unix:$MILTER_SOCK
  internal_networks: [127.0.0.0/8]
  on_internal_error: tempfail
  spool_memory_limit: 1M
  max_message_size: 50M
log:
  level: ${SEG_CFG_LOG_LEVEL:-debug}
trust:
  anchors: [$PKI/root.pem]
  intermediates: [$PKI/intermediate.pem]
signing:
  format: ${SEG_CFG_FORMAT:-detached}
  other_senders: ${SEG_CFG_OTHER_SENDERS:-reject}
  domains:
    - domain: dinas.example.go.id
      without_certificate: ${SEG_CFG_WITHOUT_CERT:-reject}
    - domain: examplekab.go.id
      subdomains: true
  logins:
    budi: [budi@dinas.example.go.id]
  systems:
    - client: 127.0.0.5
      name: e-office
      may_send_as: [noreply@dinas.example.go.id]
credentials:
  - certificate: $PKI/budi.crt
    key: $PKI/budi.key
EOF
        for name in siti siti-old sekretariat noreply legacy ani dedi eko rina fajar; do
            printf '  - pkcs12: %s\n    passphrase_file: %s\n' "$PKI/$name.p12" "$PKI/$name.pass"
        done
    } >"$f"
}

# seg_start_milter [CONFIG]: starts $SEGEL_MILTER -c CONFIG in the background (output in
# $T/milter.log) and waits up to 10 s for its socket.
seg_start_milter() {
    local cfg=${1:-$SEG_CONFIG}
    [ -x "$SEGEL_MILTER" ] || seg_fail "milter binary not found: $SEGEL_MILTER (build first, or set SEGEL_MILTER)"
    rm -f "$MILTER_SOCK"
    "$SEGEL_MILTER" -c "$cfg" >>"$T/milter.log" 2>&1 &
    SEG_MILTER_PID=$!
    for _ in $(seq 100); do
        if [ -S "$MILTER_SOCK" ]; then
            chmod 666 "$MILTER_SOCK"
            return 0
        fi
        if ! kill -0 "$SEG_MILTER_PID" 2>/dev/null; then
            local rc=0
            wait "$SEG_MILTER_PID" || rc=$?
            SEG_MILTER_PID=""
            seg_fail "segel-milter exited with status $rc before creating $MILTER_SOCK"
        fi
        sleep 0.1
    done
    seg_fail "segel-milter did not create $MILTER_SOCK within 10 s"
}

seg_stop_milter() {
    [ -n "$SEG_MILTER_PID" ] || return 0
    local pid=$SEG_MILTER_PID
    SEG_MILTER_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$MILTER_SOCK"
}

# ---------------------------------------------------------------------------------------------
# submitting mail

# seg_send FROM_ENV HEADER_FROM TO [--auth LOGIN PASS] [--xclient IP] [--subject S]
#          [--header "Name: value"]... [--body-file F | --data-file F]
# Submits one message with swaks to 127.0.0.1:$SMTP_PORT. HEADER_FROM "-" leaves the From header
# alone (useful with --data-file). Sets:
#   SEG_REPLY      the server's reply to the end of DATA, or the failing reply (MAIL, RCPT, AUTH,
#                  XCLIENT, DATA) when the transaction stopped earlier, as one line without
#                  swaks' prefix, e.g. "550 5.7.1 login budi may not send as siti@dinas.example.go.id"
#                  (for a multi-line reply: its last line). A connection failure gives "*** ...".
#   SEG_TRANSCRIPT the swaks transcript file; SEG_SWAKS_RC swaks' exit status.
# Always returns 0: assert on $SEG_REPLY.
seg_send() {
    local from_env=$1 header_from=$2 to=$3
    shift 3
    local args=(--server 127.0.0.1 --port "$SMTP_PORT" --helo client.segel-test.example
        --from "$from_env" --to "$to" --timeout 60)
    local data_file=""
    while [ $# -gt 0 ]; do
        case $1 in
        --auth) args+=(--auth PLAIN --auth-user "$2" --auth-password "$3"); shift 3 ;;
        --xclient) args+=(--xclient-addr "$2" --xclient-name "[UNAVAILABLE]"); shift 2 ;;
        --subject) args+=(--h-Subject "$2"); shift 2 ;;
        --header) args+=(--header "$2"); shift 2 ;;
        --body-file) args+=(--body "$2"); shift 2 ;;
        --data-file) data_file=$2; shift 2 ;;
        *) seg_fail "seg_send: unknown option $1" ;;
        esac
    done
    SEG_SEND_N=$((SEG_SEND_N + 1))
    SEG_TRANSCRIPT="$T/swaks.$SEG_SEND_N.log"
    if [ -n "$data_file" ]; then
        # swaks would add an empty line before its final dot when the data ends with a newline;
        # a trailing "\n.\n" is removed by swaks instead, so the message arrives as written.
        if grep -q '\\n' "$data_file"; then
            seg_fail "seg_send: $data_file contains a literal \\n, which swaks turns into CRLF"
        fi
        local d="$T/swaks.$SEG_SEND_N.data"
        cp "$data_file" "$d"
        if [ -n "$(tail -c 1 "$d")" ]; then printf '\n' >>"$d"; fi
        printf '.\n' >>"$d"
        args+=(--data "@$d")
    fi
    if [ "$header_from" != "-" ]; then args+=(--h-From "$header_from"); fi
    SEG_SWAKS_RC=0
    swaks "${args[@]}" >"$SEG_TRANSCRIPT" 2>&1 </dev/null || SEG_SWAKS_RC=$?
    # swaks marks replies "<-  " (expected) and "<** " (failure), its own errors "*** ".
    SEG_REPLY=$(awk '
        /^\*\*\* / && !/DEPRECATION/ && swaks_err == "" { swaks_err = $0 }
        /^<\*\* / && !done { reply = substr($0, 5); if (reply ~ /^[0-9][0-9][0-9] /) done = 1; next }
        /^ -> \.$/ { after_dot = 1; next }
        /^<-  / && after_dot && !done { reply = substr($0, 5); if (reply ~ /^[0-9][0-9][0-9] /) done = 1 }
        END { print (reply != "" ? reply : swaks_err) }' "$SEG_TRANSCRIPT")
    return 0
}

# seg_expect_reply ERE: the last reply must match (grep -E).
seg_expect_reply() {
    if ! printf '%s\n' "$SEG_REPLY" | grep -Eq -- "$1"; then
        seg_fail "SMTP reply does not match /$1/"
    fi
}

# ---------------------------------------------------------------------------------------------
# inspecting delivered mail

# seg_header FILE NAME: prints the unfolded value(s) of top-level header NAME.
seg_header() { "$SEG_PY" "$SEG_MAILTOOL" header "$1" "$2"; }

# seg_crlf IN OUT: OUT = IN in wire form (lone LF → CRLF, CRLF kept), e.g. the form in which a
# file submitted with seg_send --data-file travels.
seg_crlf() { "$SEG_PY" "$SEG_MAILTOOL" crlf "$1" "$2"; }

# seg_body FILE: the bytes after the top-level header block.
seg_body() { "$SEG_PY" "$SEG_MAILTOOL" body "$1"; }

# seg_expect_header FILE NAME ERE: some top-level NAME field must match.
seg_expect_header() {
    local values
    values=$(seg_header "$1" "$2" || true)
    if [ -z "$values" ]; then seg_fail "$1 has no $2 header"; fi
    if ! printf '%s\n' "$values" | grep -Eq -- "$3"; then
        seg_fail "$1: $2 is '$values', expected /$3/"
    fi
}

# seg_verify_openssl MSG: openssl cms verifies MSG against the test root (S/MIME signing
# purpose); prints the signer's e-mail address. Nonzero on failure (output in $T/openssl.err).
seg_verify_openssl() {
    local msg=$1 signer="$T/openssl-signer.pem"
    rm -f "$signer"
    if ! openssl cms -verify -in "$msg" -CAfile "$PKI/root.pem" -certfile "$PKI/intermediate.pem" \
        -purpose smimesign -signer "$signer" -out /dev/null >"$T/openssl.err" 2>&1; then
        return 1
    fi
    openssl x509 -in "$signer" -noout -ext subjectAltName 2>/dev/null \
        | grep -o 'email:[^, ]*' | head -n 1 | cut -d: -f2-
}

seg__gnupg() {
    export GNUPGHOME="$T/gnupg"
    [ -f "$GNUPGHOME/trustlist.txt" ] && return 0
    mkdir -p "$GNUPGHOME"
    chmod 700 "$GNUPGHOME"
    printf 'disable-crl-checks\ndisable-dirmngr\n' >"$GNUPGHOME/gpgsm.conf"
    gpgsm --batch --import "$PKI/root.pem" "$PKI/intermediate.pem" >"$T/gpgsm-import.log" 2>&1 \
        || { cat "$T/gpgsm-import.log" >&2; seg_fail "gpgsm could not import the test CA"; }
    local fpr
    fpr=$(gpgsm --with-colons --list-keys "Segel Test Root CA" 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
    [ -n "$fpr" ] || seg_fail "gpgsm: test root not found after import"
    printf '%s S relax\n' "$fpr" >"$GNUPGHOME/trustlist.txt"
}

# seg_verify_gpgsm MSG: independent verification with gpgsm (multipart/signed or opaque).
# Requires GOODSIG and VALIDSIG; prints the signer's e-mail address. Nonzero on failure
# (status output in $T/gpgsm.status, diagnostics in $T/gpgsm.err).
seg_verify_gpgsm() {
    local msg=$1 dir="$T/gpgsm-parts" kind
    seg__gnupg
    rm -rf "$dir"
    mkdir -p "$dir"
    if ! kind=$("$SEG_PY" "$SEG_MAILTOOL" smime-parts "$msg" "$dir" 2>"$T/gpgsm.err"); then
        return 1
    fi
    if [ "$kind" = detached ]; then
        gpgsm --batch --status-fd 1 --verify "$dir/signature.p7s" "$dir/signed-part" \
            >"$T/gpgsm.status" 2>>"$T/gpgsm.err" || true
    else
        gpgsm --batch --status-fd 1 --output "$dir/content" --verify "$dir/opaque.p7m" \
            >"$T/gpgsm.status" 2>>"$T/gpgsm.err" || true
    fi
    grep -q '^\[GNUPG:\] GOODSIG ' "$T/gpgsm.status" || return 1
    grep -q '^\[GNUPG:\] VALIDSIG ' "$T/gpgsm.status" || return 1
    local fpr
    fpr=$(awk '$2 == "VALIDSIG" {print $3; exit}' "$T/gpgsm.status")
    gpgsm --with-colons --list-keys "$fpr" 2>/dev/null \
        | awk -F: '$1 == "uid" && $10 ~ /^<.*>$/ {gsub(/[<>]/, "", $10); print $10; exit}'
}

# Bouncy Castle (integration/BcVerify.java), a third implementation that shares no code with
# OpenSSL or GnuPG: CMSSignedData over the exact signed-part bytes plus a PKIX path to the test
# root. The class is compiled once per source version into $SEGEL_BC_CACHE (like the PKI cache).
SEG_BC_JARS=/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar
seg__bc_classes() {
    local src="$SEG_LIB_DIR/BcVerify.java" sum dir fd
    sum=$(sha256sum "$src" | cut -c1-16)
    dir="${SEGEL_BC_CACHE:-/tmp/segel-bc-cache}/$sum"
    if [ ! -f "$dir/BcVerify.class" ]; then
        mkdir -p "$(dirname "$dir")"
        exec {fd}>"$(dirname "$dir")/.lock"
        flock "$fd"
        if [ ! -f "$dir/BcVerify.class" ]; then
            rm -rf "$dir.new"
            mkdir -p "$dir.new"
            if ! javac -nowarn -cp "$SEG_BC_JARS" -d "$dir.new" "$src" >"$T/bc-javac.log" 2>&1; then
                exec {fd}>&-
                cat "$T/bc-javac.log" >&2
                seg_fail "javac could not compile $src (packages: default-jdk-headless libbcpkix-java)"
            fi
            mv "$dir.new" "$dir"
        fi
        exec {fd}>&-
    fi
    SEG_BC_CLASSES=$dir
}

# seg_verify_bc_list LIST OUT: runs BcVerify over LIST (lines "detached PART SIG" or
# "opaque P7M"); OUT gets one "OK <signer>" or "FAIL <reason>" line per job, in order.
# Nonzero when any job fails.
seg_verify_bc_list() {
    seg__bc_classes
    java -cp "$SEG_BC_CLASSES:$SEG_BC_JARS" BcVerify "$PKI/root.pem" "$1" >"$2" 2>"$T/bc.err"
}

# seg_bc_job MSG DIR: the BcVerify job line for MSG, its parts extracted into DIR (created).
seg_bc_job() {
    local msg=$1 dir=$2 kind
    mkdir -p "$dir"
    kind=$("$SEG_PY" "$SEG_MAILTOOL" smime-parts "$msg" "$dir") || return 1
    if [ "$kind" = detached ]; then
        printf 'detached %s %s\n' "$dir/signed-part" "$dir/signature.p7s"
    else
        printf 'opaque %s\n' "$dir/opaque.p7m"
    fi
}

# seg_verify_bc MSG: Bouncy Castle verifies MSG (multipart/signed or opaque) against the test
# root; prints the signer's e-mail address. Nonzero on failure (reason in $T/bc.out).
seg_verify_bc() {
    local dir="$T/bc-parts"
    rm -rf "$dir"
    seg_bc_job "$1" "$dir" >"$T/bc.list" 2>"$T/bc.err" || { cp "$T/bc.err" "$T/bc.out"; return 1; }
    seg_verify_bc_list "$T/bc.list" "$T/bc.out" || return 1
    sed -n 's/^OK //p' "$T/bc.out"
}

# seg_expect_signed MSG SIGNER: both verifiers accept MSG and name SIGNER.
seg_expect_signed() {
    local msg=$1 want=$2 got
    got=$(seg_verify_openssl "$msg") || { cat "$T/openssl.err" >&2; seg_fail "openssl cms -verify rejects $msg"; }
    [ "$got" = "$want" ] || seg_fail "openssl: signer is '$got', expected '$want'"
    got=$(seg_verify_gpgsm "$msg") || { cat "$T/gpgsm.err" "$T/gpgsm.status" >&2 2>/dev/null; seg_fail "gpgsm rejects $msg"; }
    [ "$got" = "$want" ] || seg_fail "gpgsm: signer is '$got', expected '$want'"
}

# seg_expect_unsigned MSG: MSG carries no S/MIME signature at the top level.
seg_expect_unsigned() {
    local ct
    ct=$(seg_header "$1" Content-Type || true)
    if printf '%s\n' "$ct" | grep -Eiq 'multipart/signed|pkcs7-mime'; then
        seg_fail "$1 is signed (Content-Type: $ct), expected unsigned"
    fi
}

# ---------------------------------------------------------------------------------------------
# certificates and messages

# seg_cert_serial CERTFILE: the serial number in upper-case hex (as `openssl x509 -serial`).
seg_cert_serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

# seg_signer_serial: serial of the signer certificate found by the last seg_verify_openssl.
seg_signer_serial() { seg_cert_serial "$T/openssl-signer.pem"; }

# seg_make_message FILE FROM TO SUBJECT [BODY LINE...]: a small text/plain message (LF line ends).
seg_make_message() {
    local f=$1 from=$2 to=$3 subject=$4
    shift 4
    {
        printf 'Date: %s\n' "$(LC_ALL=C date -R)"
        printf 'Message-ID: <%s.%s@segel-test.example>\n' "$(date +%s%N)" "$RANDOM"
        printf 'From: %s\nTo: %s\nSubject: %s\n' "$from" "$to" "$subject"
        printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
        printf 'Content-Transfer-Encoding: 8bit\n\n'
        if [ $# -eq 0 ]; then set -- "Selamat pagi," "" "Pesan uji dari segel." "Salam"; fi
        printf '%s\n' "$@"
    } >"$f"
}

# seg_standard_start [MAIN.CF LINE...]: sink + Postfix + the standard config + milter.
seg_standard_start() {
    seg_start_sink
    seg_start_postfix "$@"
    seg_write_config
    seg_start_milter
}
