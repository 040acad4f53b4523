#!/usr/bin/env bash
# System senders (R7, e-seal): an application server on the internal network, without SMTP AUTH,
# may send as the addresses listed for it in signing.systems and is signed with that mailbox's
# certificate; it may not send as a person, and an unlisted internal client may not use the
# system address either.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup system-sender
seg_standard_start

# 127.0.0.5 is "e-office" (signing.systems); XCLIENT makes Postfix and the milter see it.
seg_make_message "$T/eoffice.eml" "E-Office Dinas <noreply@$DINAS>" kepala@mitra.example "Disposisi surat 123/2026"
seg_send "noreply@$DINAS" - kepala@mitra.example --xclient 127.0.0.5 --data-file "$T/eoffice.eml"
seg_expect_reply '^250 '
seg_wait_delivered 1
seg_delivered_copy "$T/got-eoffice.eml"
seg_expect_header "$T/got-eoffice.eml" Content-Type '^multipart/signed;'
seg_expect_signed "$T/got-eoffice.eml" "noreply@$DINAS"
grep -q 'client=unknown\[127\.0\.0\.5\]' "$T/maillog" || seg_fail "Postfix did not see the XCLIENT address 127.0.0.5"
seg_ok "system sender 127.0.0.5 (e-office) signed as noreply@$DINAS"

seg_send "siti@$DINAS" "Siti Rahmawati <siti@$DINAS>" kepala@mitra.example --xclient 127.0.0.5
seg_expect_reply '^550 5\.7\.1 .*127\.0\.0\.5'
printf '%s\n' "$SEG_REPLY" | grep -q "siti@$DINAS" || seg_fail "reply does not name siti@$DINAS"
seg_ok "system sender may not send as a person: $SEG_REPLY"

seg_send "noreply@$DINAS" "noreply@$DINAS" kepala@mitra.example --xclient 127.0.0.9
seg_expect_reply '^550 5\.7\.1 '
seg_ok "an unlisted internal client may not send as noreply@$DINAS: $SEG_REPLY"

sleep 1
[ "$(seg_sink_count)" -eq 1 ] || seg_fail "sink holds $(seg_sink_count) messages, expected only e-office's"
