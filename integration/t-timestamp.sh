#!/usr/bin/env bash
# RFC 3161 signature time-stamps (R7, docs/keys.md) through real Postfix, with time-stamp
# authorities on 127.0.0.1 (`openssl ts -reply` behind responders.py): dinas.example.go.id asks
# "bssn" (needs HTTP Basic credentials) and then "backup". A time-stamped signature verifies in
# openssl, gpgsm and Bouncy Castle; BC and `openssl ts -verify` both accept its token. A TSA that
# is down, slow, answers with a wrong imprint or an untrusted certificate gives no token: the
# next one is asked, and when none gives one the message is signed without (logged) or, with
# on_failure: defer, deferred (451) and nothing leaves. segel's own inbound verification reports
# the time-stamp. A readable credentials file refuses to start.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup timestamp
TSA="$T/tsa"
bash "$SEG_LIB_DIR/make-tsa.sh" "$TSA" || seg_fail "make-tsa.sh failed"
seg_start_responders --tsa "/bssn,config=$TSA/tsa.cnf,auth=tsa-user:rahasia" --tsa "/backup,config=$TSA/tsa.cnf" \
    --tsa "/rogue,config=$TSA/rogue.cnf"
printf 'tsa-user:rahasia\n' >"$T/bssn.credentials"
chmod 600 "$T/bssn.credentials"
BC_CP=/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar
mkdir -p "$T/java"
javac -nowarn -cp "$BC_CP" -d "$T/java" "$SEG_LIB_DIR/BcTimeStamp.java" 2>"$T/javac.log" \
    || { cat "$T/javac.log" >&2; seg_fail "BcTimeStamp.java does not compile"; }

# ts_config FILE ON_FAILURE AUTHORITIES...: the standard configuration, with dinas.example.go.id
# asking AUTHORITIES (names of the timestamping section below) in that order.
ts_config() {
    local f=$1 on_failure=$2 list
    shift 2
    list=$(IFS=,; printf '%s' "$*")
    seg_write_config "$f.base"
    sed "s|^    - domain: dinas.example.go.id\$|    - domain: dinas.example.go.id\n      timestamp: [$list]|" "$f.base" >"$f"
    cat >>"$f" <<EOF
timestamping:
  authorities:
    - name: bssn
      url: $RESP_URL/bssn
      credentials_file: $T/bssn.credentials
    - name: backup
      url: $RESP_URL/backup
    - name: rogue
      url: $RESP_URL/rogue
  anchors: [$TSA/tsa-root.pem]
  hash: sha256
  timeout: 2
  on_failure: $on_failure
EOF
}

seg_start_sink
seg_start_postfix
seg_add_user "siti@$DINAS" siti-pw
ts_config "$SEG_CONFIG" sign bssn backup
seg_start_milter
delivered=0
n=0

# send_siti: one message from siti through Postfix; the delivered copy is $T/got.eml.
send_siti() {
    n=$((n + 1))
    seg_send "siti@$DINAS" "siti@$DINAS" kepala@mitra.example --auth "siti@$DINAS" siti-pw --subject "surat $n"
    seg_expect_reply '^250 2\.0\.0 Ok: queued as '
    seg_wait_delivered $((delivered += 1))
    seg_delivered_copy "$T/got.eml"
    seg_expect_signed "$T/got.eml" "siti@$DINAS"  # openssl and gpgsm; leaves the parts in $T/gpgsm-parts
    BC_RC=0
    java -cp "$BC_CP:$T/java" BcTimeStamp "$T/gpgsm-parts/signed-part" "$T/gpgsm-parts/signature.p7s" \
        "$TSA/tsa-root.pem" "$T/token.der" >"$T/bc.out" 2>&1 || BC_RC=$?
}

# expect_stamped AUTHORITY: the signature carries a token from AUTHORITY that BC and openssl ts accept.
expect_stamped() {
    [ "$BC_RC" -eq 0 ] || { cat "$T/bc.out" >&2; seg_fail "Bouncy Castle rejects the time-stamped signature"; }
    grep -q "^signer=siti@$DINAS tsa=Segel_Test_TSA " "$T/bc.out" || { cat "$T/bc.out" >&2; seg_fail "BC: unexpected signer or TSA"; }
    local digest
    digest=$(sed -n 's/.*sigsha256=\([0-9a-f]*\).*/\1/p' "$T/bc.out")
    openssl ts -verify -token_in -in "$T/token.der" -digest "$digest" -CAfile "$TSA/tsa-root.pem" \
        >"$T/ts-verify.out" 2>&1 || { cat "$T/ts-verify.out" >&2; seg_fail "openssl ts -verify rejects the token"; }
    grep -q "Verification: OK" "$T/ts-verify.out" || seg_fail "openssl ts -verify did not say OK"
    grep "sign from=<siti@$DINAS>" "$T/milter.log" | tail -n 1 | grep -q " timestamp=$1@" \
        || seg_fail "the last sign line does not say timestamp=$1@…"
}

# expect_unstamped WHY: signed without a time-stamp, and the log says why.
expect_unstamped() {
    [ "$BC_RC" -eq 2 ] || { cat "$T/bc.out" >&2; seg_fail "expected a signature without a time-stamp (BC exit $BC_RC)"; }
    grep "sign from=<siti@$DINAS>" "$T/milter.log" | tail -n 1 | grep -q " timestamp=none" \
        || seg_fail "the last sign line does not say timestamp=none"
    grep -q "time-stamp: .*$1" "$T/milter.log" || seg_fail "no log line says the time-stamp failed: $1"
    grep -q "signed without a time-stamp: no authority gave a valid one" "$T/milter.log" \
        || seg_fail "the log does not say the message was signed without a time-stamp"
}

send_siti
expect_stamped bssn
seg_ok "signed with a time-stamp from bssn (HTTP Basic): openssl, gpgsm and Bouncy Castle verify; BC and openssl ts accept the token"

"$SEGELCTL" verify --trust-anchors "$PKI/root.pem" --trust-anchors "$TSA/tsa-root.pem" "$T/got.eml" \
    >"$T/verify.out" 2>&1 || { cat "$T/verify.out" >&2; seg_fail "segelctl verify rejects the time-stamped message"; }
grep -q ": pass signer=siti@$DINAS .*time-stamped [0-9T:-]*Z by Segel Test TSA" "$T/verify.out" \
    || { cat "$T/verify.out" >&2; seg_fail "segelctl verify does not report the time-stamp"; }
seg_ok "segel's own verification: $(sed 's/.*reason=//' "$T/verify.out")"

seg_responder_fault /bssn down
send_siti
expect_stamped backup
grep -q "time-stamp: bssn: " "$T/milter.log" || seg_fail "the failed first authority is not logged"
seg_ok "bssn down: the time-stamp comes from backup, and bssn's failure is logged"

for fault in down slow:4 garbage wrong-imprint; do
    seg_responder_fault /backup "$fault"
    send_siti
    case $fault in
    slow:4) why="backup: .*imed out" ;;
    garbage) why="backup: the answer is not an RFC 3161 TimeStampResp" ;;
    wrong-imprint) why="backup: the message imprint is not the hash of this signature" ;;
    *) why="backup: " ;;
    esac
    expect_unstamped "$why"
    seg_ok "bssn down, backup $fault: signed without a time-stamp (timestamping.on_failure: sign), logged"
done
seg_responder_fault /bssn ok
seg_responder_fault /backup ok

# --- an authority whose certificate does not chain to the TSA anchors ---------------------------
seg_stop_milter
ts_config "$T/rogue.yaml" sign rogue
seg_start_milter "$T/rogue.yaml"
send_siti
expect_unstamped "rogue: the TSA certificate does not chain to the time-stamping anchors"
seg_ok "a TSA with an untrusted certificate gives no token"

# --- on_failure: defer ---------------------------------------------------------------------------
seg_stop_milter
ts_config "$T/defer.yaml" defer bssn backup
seg_start_milter "$T/defer.yaml"
seg_responder_fault /bssn down
seg_responder_fault /backup http500
seg_send "siti@$DINAS" "siti@$DINAS" kepala@mitra.example --auth "siti@$DINAS" siti-pw --subject "ditunda"
seg_expect_reply '^451 4\.3\.0 segel: the signing key or a signing service is unavailable right now'
grep -q "eom: unavailable: no time-stamp authority gave a valid time-stamp (bssn: .*; backup: .*500.*); deferred" \
    "$T/milter.log" || seg_fail "the deferral is not logged with each authority's failure"
[ "$(seg_sink_count)" -eq "$delivered" ] || seg_fail "a message left without its time-stamp"
seg_responder_fault /bssn ok
seg_responder_fault /backup ok
send_siti
expect_stamped bssn
seg_ok "on_failure: defer: 451 while no TSA answers, nothing leaves; signed and time-stamped once one does"

# --- a credentials file others may read refuses to start ------------------------------------------
chmod 644 "$T/bssn.credentials"
rc=0
timeout 20 "$SEGEL_MILTER" -c "$T/defer.yaml" --check-config >"$T/refuse.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] || { cat "$T/refuse.out" >&2; seg_fail "a readable credentials file: exit $rc, expected 78"; }
line=$(grep -n "credentials_file: $T/bssn.credentials" "$T/defer.yaml" | cut -d: -f1)
grep -qF "$T/defer.yaml:$line:" "$T/refuse.out" && grep -qF "timestamping.authorities[0].credentials_file" "$T/refuse.out" && grep -q "chmod 600 $T/bssn.credentials" "$T/refuse.out" \
    || { cat "$T/refuse.out" >&2; seg_fail "the refusal does not point at the credentials_file line"; }
grep -q rahasia "$T/refuse.out" && seg_fail "the password appears in the error"
seg_ok "refused: $(head -n 1 "$T/refuse.out")"
