#!/usr/bin/env bash
# Availability (R9): when the milter is down Postfix answers 4xx (milter_default_action =
# tempfail), so the client retries and nothing leaves unsigned; once the milter runs, the same
# submission is accepted and delivered signed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup tempfail
seg_start_sink
seg_start_postfix
seg_add_user "siti@$DINAS" siti-pw
seg_write_config
[ ! -e "$MILTER_SOCK" ] || seg_fail "test bug: $MILTER_SOCK exists before the milter started"

seg_make_message "$T/msg.eml" "Siti Rahmawati <siti@$DINAS>" kepala@mitra.example "Saat milter mati"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/msg.eml"
seg_expect_reply '^4[0-9][0-9] '
sleep 2
[ "$(seg_sink_count)" -eq 0 ] || seg_fail "a message reached the sink while the milter was down"
if grep -q 'status=sent' "$T/maillog"; then seg_fail "Postfix delivered while the milter was down"; fi
seg_ok "milter down: Postfix tempfails ($SEG_REPLY) and delivers nothing"

seg_start_milter
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/msg.eml"
seg_expect_reply '^250 '
seg_wait_delivered 1
seg_delivered_copy "$T/got.eml"
seg_expect_signed "$T/got.eml" "siti@$DINAS"
seg_ok "milter up: the same submission is delivered signed by siti@$DINAS"
