#!/usr/bin/env bash
# Large mail and failures: a message far above spool_memory_limit is spooled to disk and still
# signed byte-exact (R9); one above max_message_size gets 552 5.3.4 naming the limit; an internal
# error (an unusable spool directory) answers 451 4.3.0 and nothing is delivered — or, with
# on_internal_error: accept, the message goes out unchanged (R9: never lost, never half-modified);
# inbound mail above max_message_size is delivered, marked not verified.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup large-and-errors
seg_start_sink
# (Mail for $DINAS from any client is accepted, as on an MX: the last case comes from outside.)
seg_start_postfix_inbound "message_size_limit = 104857600"
seg_add_user "siti@$DINAS" siti-pw

# A config with a small memory limit, a private spool directory and a 4 MB maximum.
mkdir -p "$T/spool"
seg_write_config
sed -i "s|  spool_memory_limit: 1M|  spool_memory_limit: 64K\n  spool_directory: $T/spool|; s|  max_message_size: 50M|  max_message_size: 4M|" "$SEG_CONFIG"
seg_start_milter

# --- 3 MB: spooled, signed, verified by both tools ------------------------------------------------
{
    printf 'From: Siti <siti@%s>\nTo: arsip@mitra.example\nSubject: Lampiran besar\nMIME-Version: 1.0\n' "$DINAS"
    printf 'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nLihat lampiran.\n--b\n'
    printf 'Content-Type: application/octet-stream; name="data.bin"\nContent-Transfer-Encoding: base64\n\n'
    head -c 2300000 /dev/urandom | base64 -w 76
    printf -- '--b--\n'
} >"$T/big.eml"
seg_send "siti@$DINAS" - arsip@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/big.eml"
seg_expect_reply '^250 '
seg_wait_delivered 1
seg_delivered_copy "$T/got-big.eml"
seg_expect_signed "$T/got-big.eml" "siti@$DINAS"
[ "$(find "$T/spool" -type f | wc -l)" -eq 0 ] || seg_fail "spool files were left behind in $T/spool"
seg_ok "a 3 MB message above the 64 KB memory limit is spooled, signed and verified by openssl and gpgsm"

# --- 5 MB: above max_message_size ------------------------------------------------------------------
{
    printf 'From: Siti <siti@%s>\nTo: arsip@mitra.example\nSubject: Terlalu besar\n\n' "$DINAS"
    head -c 3900000 /dev/urandom | base64 -w 76
} >"$T/huge.eml"
seg_send "siti@$DINAS" - arsip@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/huge.eml"
seg_expect_reply '^552 5\.3\.4 message too large for signing: more than 4 MB \(the gateway.s milter\.max_message_size\)'
seg_ok "a 5 MB message is refused: $SEG_REPLY"

# --- a spool directory that does not exist stops the daemon at start, with the config line -------
sed "s|  spool_directory: $T/spool|  spool_directory: $T/no-such-dir|" "$SEG_CONFIG" >"$T/bad-spool.yaml"
rc=0
"$SEGEL_MILTER" -c "$T/bad-spool.yaml" >"$T/bad-spool.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] || seg_fail "segel-milter started (exit $rc) with a missing spool directory"
grep -Eq "bad-spool.yaml:[0-9]+:[0-9]+: milter.spool_directory: $T/no-such-dir: No such file or directory" "$T/bad-spool.out" \
    || seg_fail "unexpected refusal text: $(cat "$T/bad-spool.out")"
seg_ok "a missing spool directory is refused at start: $(head -1 "$T/bad-spool.out")"

# --- an internal error at run time: the spool directory vanishes -> 451, nothing delivered -------
rm -rf "$T/spool"
seg_send "siti@$DINAS" - arsip@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/big.eml"
seg_expect_reply '^451 4\.3\.0 segel: temporary failure while processing the message; please try again later'
sleep 1
[ "$(seg_sink_count)" -eq 1 ] || seg_fail "a message was delivered despite the internal error"
grep -q 'internal error: cannot create a spool file in .*/spool' "$T/milter.log" \
    || seg_fail "the milter log does not name the internal error"
seg_ok "an internal error answers $SEG_REPLY and delivers nothing; the log names the cause"

# --- the same with on_internal_error: accept -> delivered unchanged (unsigned) ---------------------
seg_stop_milter
sed -i "s|  on_internal_error: tempfail|  on_internal_error: accept|" "$SEG_CONFIG"
mkdir -p "$T/spool"
seg_start_milter
rm -rf "$T/spool"
seg_send "siti@$DINAS" - arsip@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/big.eml"
seg_expect_reply '^250 '
seg_wait_delivered 2
seg_delivered_copy "$T/got-accepted.eml"
seg_expect_unsigned "$T/got-accepted.eml"
seg_ok "with on_internal_error: accept the message is delivered unchanged"

# --- 5 MB from outside: inbound mail is never refused for size; delivered, marked unverified ------
seg_stop_milter
mkdir -p "$T/spool"
printf 'inbound:\n  authserv_id: mx.segel-test.example\n' >>"$SEG_CONFIG"
seg_start_milter
sed "s/^From: Siti <siti@$DINAS>/From: Kepala <kepala@mitra.example.id>/" "$T/huge.eml" >"$T/huge-in.eml"
seg_send kepala@mitra.example.id - "siti@$DINAS" --xclient 192.0.2.10 --data-file "$T/huge-in.eml"
seg_expect_reply '^250 '
seg_wait_delivered 3
seg_delivered_copy "$T/got-huge-in.eml"
seg_expect_header "$T/got-huge-in.eml" Authentication-Results \
    '^mx\.segel-test\.example; smime=temperror .*larger than milter\.max_message_size: not verified'
seg_ok "a 5 MB message from outside is delivered with smime=temperror (not verified), not refused"
