#!/usr/bin/env bash
# Reload (SIGUSR1): a valid new configuration takes effect without a restart; a broken one is
# refused, logged with its line, and the running configuration keeps signing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup reload
seg_standard_start
seg_add_user sekretaris sek-pw

# Before: login 'sekretaris' owns nothing, so it may not send as the role mailbox.
seg_send "sekretariat@$DINAS" - kepala@mitra.example --auth sekretaris sek-pw
seg_expect_reply "^550 5\.7\.1 login sekretaris may not send as sekretariat@$DINAS"

# A valid change: map the login to the role mailbox, then SIGUSR1.
sed -i "s|    budi: \[budi@dinas.example.go.id\]|    budi: [budi@dinas.example.go.id]\n    sekretaris: [sekretariat@dinas.example.go.id]|" "$SEG_CONFIG"
kill -USR1 "$SEG_MILTER_PID"
for _ in $(seq 50); do grep -q 'reload status=ok' "$T/milter.log" && break; sleep 0.1; done
grep -q 'reload status=ok' "$T/milter.log" || seg_fail "no reload logged"
seg_send "sekretariat@$DINAS" - kepala@mitra.example --auth sekretaris sek-pw
seg_expect_reply '^250 '
seg_wait_delivered 1
seg_delivered_copy "$T/got-role.eml"
seg_expect_signed "$T/got-role.eml" "sekretariat@$DINAS"
seg_ok "after SIGUSR1 the new login map signs the role mailbox"

# A broken change: an unknown key. The reload is refused; the old configuration keeps working.
printf 'bogus_section: 1\n' >>"$SEG_CONFIG"
kill -USR1 "$SEG_MILTER_PID"
for _ in $(seq 50); do grep -q 'reload status=failed' "$T/milter.log" && break; sleep 0.1; done
grep -Eq "reload status=failed .*error=\".*segel.yaml:[0-9]+:1: bogus_section: unknown key" "$T/milter.log" \
    || seg_fail "the failed reload is not logged with file, line and key"
kill -0 "$SEG_MILTER_PID" || seg_fail "the milter died on a broken reload"
seg_send "sekretariat@$DINAS" - kepala@mitra.example --auth sekretaris sek-pw
seg_expect_reply '^250 '
seg_wait_delivered 2
seg_delivered_copy "$T/got-role2.eml"
seg_expect_signed "$T/got-role2.eml" "sekretariat@$DINAS"
seg_ok "a broken reload is refused and logged; the running configuration still signs"
