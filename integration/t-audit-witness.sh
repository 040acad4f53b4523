#!/usr/bin/env bash
# The witness mail (docs/audit.md, "Witnesses"): `segelctl audit witness` mails the latest
# checkpoint, S/MIME-signed with the seal, over SMTP to a real Postfix (with segel-milter, which
# leaves the already-signed mail alone) for the configured witnesses. What the sink receives
# verifies with openssl (signer: the seal), its checkpoint.txt and checkpoint.p7s verify with the
# independent verifier, and the second mail carries a consistency proof from the first checkpoint.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/audit-lib.sh"

seg_setup audit-witness
seg_start_sink
seg_start_postfix
C="$T/segel.yaml"
audit_config "$C" "sqlite:$T/audit.db" "witnesses: [inspektorat@examplekab.go.id, arsip@mitra.example]" \
    "witness_smtp: 127.0.0.1:$SMTP_PORT"
# The gateway host submits the witness mail itself: a system sender that may send as the seal's address.
sed -i 's/^    - client: 127.0.0.5$/    - clients: [127.0.0.5, 127.0.0.1]/' "$C"
grep -q 'clients: \[127.0.0.5, 127.0.0.1\]' "$C" || seg_fail "test bug: the systems entry was not widened"
seg_start_milter "$C"
audit_generate "$T/audit.db" 400 100

# witness_mail N: runs audit witness, waits for the Nth delivery, extracts its parts into $T/wN/.
witness_mail() {
    local n=$1 dir="$T/w$1"
    rc=0
    "$SEGELCTL" audit witness --config "$C" >"$T/witness-$n.out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { cat "$T/witness-$n.out" >&2; seg_fail "audit witness exited $rc"; }
    grep -q 'to 2 witness(es): 250 ' "$T/witness-$n.out" || { cat "$T/witness-$n.out" >&2; seg_fail "the witness mail was not queued"; }
    seg_wait_delivered "$n"
    mkdir -p "$dir"
    # Both witnesses' copies come in one relay transaction: the newest file is this mail.
    seg_delivered_copy "$dir/mail.eml"
    "$SEG_PY" - "$dir/mail.eml" "$dir" <<'PY'
import email, email.policy, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.compat32)
for part in msg.walk():
    name = part.get_filename()
    if name in ("checkpoint.txt", "checkpoint.p7s", "consistency.json"):
        open(sys.argv[2] + "/" + name, "wb").write(part.get_payload(decode=True))
PY
    [ -s "$dir/checkpoint.txt" ] && [ -s "$dir/checkpoint.p7s" ] || seg_fail "mail $n has no checkpoint attachments"
}

witness_mail 1
f="$T/w1/mail.eml"
seg_expect_header "$f" Subject '^\[segel audit\] mx1: checkpoint [0-9]+, [0-9]+ events, 20[0-9-]+$'
seg_expect_header "$f" Content-Type '^multipart/signed;'
grep -q 'RCPT TO:<inspektorat@examplekab.go.id>' "$T/maillog" 2>/dev/null || grep -q 'to=<inspektorat@examplekab.go.id>' "$T/maillog" \
    || seg_fail "Postfix did not relay to the Inspektorat"
signer=$(seg_verify_openssl "$f") || { cat "$T/openssl.err" >&2; seg_fail "openssl cms -verify rejects the witness mail"; }
[ "$signer" = "noreply@$DINAS" ] || seg_fail "the witness mail is signed by '$signer', not the seal noreply@$DINAS"
grep -q 'already signed' "$T/milter.log" || seg_fail "segel-milter did not see the witness mail as already signed"
seg_ok "witness mail 1 went through Postfix and segel-milter unchanged; openssl verifies it, signer $signer"

"$SEG_PY" "$AUDIT_VERIFY" checkpoint "$T/w1/checkpoint.txt" "$T/w1/checkpoint.p7s" --seal-cert "$PKI/noreply.crt" \
    >"$T/w1.check" 2>&1 || { cat "$T/w1.check" >&2; seg_fail "the independent verifier rejects the mailed checkpoint"; }
openssl cms -verify -binary -inform DER -in "$T/w1/checkpoint.p7s" -content "$T/w1/checkpoint.txt" \
    -CAfile "$PKI/root.pem" -certfile "$PKI/intermediate.pem" -purpose any -out /dev/null 2>"$T/w1.openssl" \
    || { cat "$T/w1.openssl" >&2; seg_fail "openssl rejects the checkpoint's detached signature"; }
seq=$(awk '/^sequence / {print $2}' "$T/w1/checkpoint.txt")
stored=$(sqlite3 "$T/audit.db" "SELECT hex(body) FROM checkpoints WHERE seq = $seq")
[ "$stored" = "$(od -An -v -tx1 "$T/w1/checkpoint.txt" | tr -d ' \n' | tr 'a-f' 'A-F')" ] \
    || seg_fail "the mailed checkpoint.txt is not byte for byte the stored one"
sqlite3 "$T/audit.db" "SELECT count(*) FROM events WHERE kind = 'witness'" | grep -qx 1 || seg_fail "no witness event in the log"
seg_ok "mailed checkpoint: byte-exact, its signature verifies (openssl, segel-audit-verify); the sending is itself an event"

# The next day: more events, and the second mail proves the log extends the first checkpoint.
"$SEGEL_BENCH_AUDIT" generate --path "$T/audit.db" --node mx1 --count 300 --every 100 --start 1767312000 \
    --seal-p12 "$PKI/noreply.p12" --seal-pass "$PKI/noreply.pass" >/dev/null
witness_mail 2
[ -s "$T/w2/consistency.json" ] || seg_fail "the second witness mail has no consistency.json"
"$SEG_PY" "$AUDIT_VERIFY" proof "$T/w2/consistency.json" --seal-cert "$PKI/noreply.crt" >"$T/w2.proof" 2>&1 \
    || { cat "$T/w2.proof" >&2; seg_fail "the consistency proof in the second mail does not verify"; }
first=$(awk '/^sequence / {print $2}' "$T/w1/checkpoint.txt")
grep -q "extends checkpoint $first " "$T/w2.proof" || { cat "$T/w2.proof" >&2; seg_fail "the proof does not start from the checkpoint mailed first ($first)"; }
"$SEGELCTL" audit verify --config "$C" --witnessed "$T/w1/checkpoint.txt" >"$T/final.verify" 2>&1 \
    || { cat "$T/final.verify" >&2; seg_fail "audit verify --witnessed rejects the log"; }
grep -q '1 witnessed checkpoint(s) match' "$T/final.verify" || { cat "$T/final.verify" >&2; seg_fail "the witnessed checkpoint was not matched"; }
seg_ok "witness mail 2: $(cat "$T/w2.proof")"
