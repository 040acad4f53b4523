#!/usr/bin/env bash
# Milter-protocol abuse (issue 10 §4/§5): a client that speaks the milter wire protocol sends
# what no well-behaved MTA would — commands out of order, MAIL without CONNECT, reuse after
# QUIT_NC, truncated and oversized packets, unknown commands, ABORT in the middle of a body,
# hundreds of connections at once (integration/milter-abuse.py). After each case the daemon must
# still run and still sign a normal message, checked by openssl cms. No Postfix needed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup milter-abuse
seg_write_config
seg_start_milter
ulimit -n 4096 2>/dev/null || true
if ! "$SEG_PY" "$SEG_LIB_DIR/milter-abuse.py" "$MILTER_SOCK" "$PKI" "$SEG_MILTER_PID" "$@"; then
    seg_fail "the milter did not survive a hostile client (see the FAIL line above)"
fi
kill -0 "$SEG_MILTER_PID" 2>/dev/null || seg_fail "segel-milter exited"
seg_ok "every abuse case: the daemon kept running and kept signing"
