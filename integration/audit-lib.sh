# shellcheck shell=bash
# integration/audit-lib.sh — helpers of the audit trail tests (t-audit*.sh), sourced after lib.sh.
#
#   audit_section FILE STORE [YAML LINES...]        append an audit: section (node mx1, seal noreply)
#   audit_config FILE STORE [EXTRA YAML LINES...]   the standard config plus an audit: section
#   audit_generate DB COUNT EVERY                   COUNT realistic events, a checkpoint every EVERY
#   audit_expect_ok [segelctl args...]              both verifiers accept the store
#   audit_expect_bad WHAT [segelctl args...]        both verifiers refuse it and name WHAT
#                                                   ("at event 70", "at checkpoint 1")
# Inputs: SEGEL_BENCH_AUDIT (the bulk generator; default build/bench/segel-bench-audit).

: "${SEGEL_BENCH_AUDIT:=$REPO/build/bench/segel-bench-audit}"
AUDIT_VERIFY="$REPO/scripts/segel-audit-verify"
AUDIT_TAMPER="$SEG_LIB_DIR/audit_tamper.py"
export SEGEL_BENCH_AUDIT

# audit_section FILE STORE [LINE...]: appends an audit section for node mx1 to FILE, sealed with the
# system sender's certificate (noreply, the e-seal of the test PKI); each LINE is a key of it.
audit_section() {
    local f=$1 store=$2 line
    shift 2
    {
        printf 'audit:\n  store: %s\n  node: mx1\n' "$store"
        printf '  seal:\n    pkcs12: %s\n    passphrase_file: %s\n' "$PKI/noreply.p12" "$PKI/noreply.pass"
        for line in "$@"; do printf '  %s\n' "$line"; done
    } >>"$f"
}

# audit_config FILE STORE [LINE...]: the standard configuration plus audit_section.
audit_config() {
    seg_write_config "$1"
    audit_section "$@"
}

# audit_generate DB COUNT EVERY: the log of node mx1 in DB.
audit_generate() {
    [ -x "$SEGEL_BENCH_AUDIT" ] || seg_fail "segel-bench-audit not found: $SEGEL_BENCH_AUDIT (build first)"
    "$SEGEL_BENCH_AUDIT" generate --path "$1" --node mx1 --count "$2" --every "$3" \
        --seal-p12 "$PKI/noreply.p12" --seal-pass "$PKI/noreply.pass" >"$T/generate.out" 2>&1 \
        || { cat "$T/generate.out" >&2; seg_fail "segel-bench-audit generate failed"; }
}

# audit__both OUT_PREFIX SEGELCTL_ARGS...: runs segelctl audit verify with the arguments and the
# independent verifier on the same data (--sqlite FILE from AUDIT_PY_SOURCE, or --export of what
# segelctl exports); sets RC_C and RC_PY, output in OUT_PREFIX.{c,py}.
audit__both() {
    local out=$1
    shift
    RC_C=0
    timeout 120 "$SEGELCTL" audit verify "$@" >"$out.c" 2>&1 || RC_C=$?
    RC_PY=0
    if [ -n "${AUDIT_PY_SQLITE:-}" ]; then
        timeout 120 "$SEG_PY" "$AUDIT_VERIFY" log --sqlite "$AUDIT_PY_SQLITE" --seal-cert "$PKI/noreply.crt" \
            >"$out.py" 2>&1 || RC_PY=$?
    else
        timeout 120 "$SEGELCTL" audit export "${@:1:2}" --out "$out.jsonl" >/dev/null 2>&1 \
            || seg_fail "segelctl audit export $* failed"
        timeout 120 "$SEG_PY" "$AUDIT_VERIFY" log --export "$out.jsonl" --seal-cert "$PKI/noreply.crt" \
            >"$out.py" 2>&1 || RC_PY=$?
    fi
}

audit_expect_ok() {
    local out="$T/verify-ok.$RANDOM"
    audit__both "$out" "$@"
    [ "$RC_C" -eq 0 ] || { cat "$out.c" >&2; seg_fail "segelctl audit verify $* exited $RC_C on an untouched log"; }
    [ "$RC_PY" -eq 0 ] || { cat "$out.py" >&2; seg_fail "segel-audit-verify exited $RC_PY on an untouched log"; }
    grep -q ': OK: ' "$out.c" || { cat "$out.c" >&2; seg_fail "segelctl audit verify did not say OK"; }
    grep -q ': OK: ' "$out.py" || { cat "$out.py" >&2; seg_fail "segel-audit-verify did not say OK"; }
}

# audit_expect_bad NAME WHAT SEGELCTL_ARGS...: both exit 1 and print "FAILED WHAT:".
audit_expect_bad() {
    local name=$1 what=$2 out="$T/verify-$1" pattern="FAILED $2:"
    shift 2
    [ -n "$what" ] || pattern="FAILED: "
    audit__both "$out" "$@"
    [ "$RC_C" -eq 1 ] || { cat "$out.c" >&2; seg_fail "$name: segelctl audit verify exited $RC_C, expected 1"; }
    [ "$RC_PY" -eq 1 ] || { cat "$out.py" >&2; seg_fail "$name: segel-audit-verify exited $RC_PY, expected 1"; }
    grep -q "$pattern" "$out.c" || { cat "$out.c" >&2; seg_fail "$name: segelctl does not say '$pattern'"; }
    grep -q "$pattern" "$out.py" || { cat "$out.py" >&2; seg_fail "$name: segel-audit-verify does not say '$pattern'"; }
    seg_ok "$name: both verifiers: $(head -c 160 "$out.c" | head -n 1)"
}

# ---------------------------------------------------------------------------------------------
# A throwaway PostgreSQL 15 under $T/pg (ENVIRONMENT.md): runs as user postgres, listens on
# 127.0.0.1:$PG_PORT and a unix socket in $T/pg; role segel logs in over TCP with a password that
# lives only in $PGPASSFILE (mode 600), as docs/audit.md asks. Stopped on EXIT. AUDIT_PG_OPTS adds
# server options ("-c shared_buffers=1GB ..."; the 10-million-event bench sizes the server).

PG_BIN=/usr/lib/postgresql/15/bin
AUDIT_PG_UP=0

audit_start_pg() {
    [ -x "$PG_BIN/initdb" ] || seg_fail "PostgreSQL 15 is not installed (scripts/deps.sh installs postgresql-15)"
    if [ -z "${PG_PORT:-}" ]; then
        seg__port PG_PORT
        mkdir -p "$T/pg"
        chown postgres "$T/pg"
        runuser -u postgres -- "$PG_BIN/initdb" -D "$T/pg/data" --auth-local=trust --auth-host=scram-sha-256 \
            >"$T/pg-initdb.log" 2>&1 || { cat "$T/pg-initdb.log" >&2; seg_fail "initdb failed"; }
        trap audit__cleanup EXIT
    fi
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T/pg/data" -w -t 30 -l "$T/pg/pg.log" \
        -o "-p $PG_PORT -k $T/pg -c listen_addresses=127.0.0.1 -c fsync=off ${AUDIT_PG_OPTS:-}" start >"$T/pg-ctl.log" 2>&1 \
        || { cat "$T/pg-ctl.log" "$T/pg/pg.log" >&2; seg_fail "PostgreSQL did not start"; }
    AUDIT_PG_UP=1
}

audit__cleanup() {
    local rc=$?
    set +e
    [ -n "${AUDIT_SHIPPER_PID:-}" ] && kill -KILL "$AUDIT_SHIPPER_PID" 2>/dev/null
    audit_stop_pg
    (exit "$rc")
    "${AUDIT_NEXT_CLEANUP:-seg__cleanup}"  # scripts/bench sets bench__cleanup
}

audit_stop_pg() {
    [ "$AUDIT_PG_UP" = 1 ] || return 0
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T/pg/data" -m fast -w stop >>"$T/pg-ctl.log" 2>&1 || true
    AUDIT_PG_UP=0
}

# audit_psql SQL...: as the superuser over the unix socket; prints rows unaligned.
audit_psql() { runuser -u postgres -- psql -h "$T/pg" -p "$PG_PORT" -d "${AUDIT_PG_DB:-postgres}" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# audit_pg_setup: database segel_audit owned by role segel (password in $PGPASSFILE); sets AUDIT_PG_URL.
audit_pg_setup() {
    audit_psql -c "CREATE ROLE segel LOGIN PASSWORD 'kata-sandi-uji'" -c "CREATE DATABASE segel_audit OWNER segel" \
        >"$T/pg-setup.log" 2>&1 || { cat "$T/pg-setup.log" >&2; seg_fail "cannot create the audit database"; }
    export PGPASSFILE="$T/pgpass"
    printf '127.0.0.1:%s:segel_audit:segel:kata-sandi-uji\n' "$PG_PORT" >"$PGPASSFILE"
    chmod 600 "$PGPASSFILE"
    AUDIT_PG_URL="postgresql://segel@127.0.0.1:$PG_PORT/segel_audit"
    export AUDIT_PG_DB=segel_audit
}

# audit_pg_export FILE: the export format straight from the shared database with psql (no segel),
# the query docs/audit.md gives auditors.
audit_pg_export() {
    audit_psql -f "$REPO/scripts/segel-audit-export.sql" >"$1" 2>"$T/pg-export.err" \
        || { cat "$T/pg-export.err" >&2; seg_fail "psql export failed"; }
}
