#!/usr/bin/env bash
# Metrics and `segelctl status` (issue 16): segel-milter writes its counters, histograms and
# certificate expiry times to metrics.file in the Prometheus text format; `promtool check metrics`
# (Debian's prometheus) accepts it; the numbers follow the messages, refusals and reloads that
# happened; every certificate's expiry time is the certificate's notAfter; `segelctl status` shows
# the running daemon from that file, and says it is not running once it stopped (the file is
# removed at stop). Traffic goes over the milter protocol (milter_client.py): no Postfix needed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup metrics
command -v promtool >/dev/null || seg_fail "promtool not found (Debian package prometheus; scripts/deps.sh installs it)"
seg_write_config
PROM="$T/segel.prom"
printf 'metrics:\n  file: %s\n  interval: 1\n' "$PROM" >>"$SEG_CONFIG"
seg_start_milter
for _ in $(seq 100); do [ -s "$PROM" ] && break; sleep 0.1; done
[ -s "$PROM" ] || seg_fail "no metrics file $PROM"

# Two signed messages, one refused send-as (login budi, From siti).
for _ in 1 2; do
    "$SEG_PY" "$SEG_LIB_DIR/milter_client.py" sign "$MILTER_SOCK" "$PKI" >/dev/null || seg_fail "the milter did not sign"
done
"$SEG_PY" - "$MILTER_SOCK" "$SEG_LIB_DIR" <<'PY' || seg_fail "the send-as was not refused"
import sys
sys.path.insert(0, sys.argv[2])
import milter_client as mc
with mc.Milter(sys.argv[1]) as m:
    m.negotiate()
    m.connect()
    verdict, text, _, _ = m.transaction(mc.SENDER, "kepala@mitra.example", mc.HEADERS, mc.TEXT_BODY, auth="budi")
    sys.exit(0 if verdict == mc.R_REPLYCODE and text.startswith(b"550 5.7.1") else 1)
PY
# One good reload, one that fails (an unknown key), then the good file again.
kill -HUP "$SEG_MILTER_PID"
for _ in $(seq 100); do grep -q 'reload status=ok' "$T/milter.log" && break; sleep 0.1; done
cp "$SEG_CONFIG" "$T/good.yaml"
printf 'bogus: 1\n' >>"$SEG_CONFIG"
kill -HUP "$SEG_MILTER_PID"
for _ in $(seq 100); do grep -q 'reload status=failed' "$T/milter.log" && break; sleep 0.1; done
cp "$T/good.yaml" "$SEG_CONFIG"

sample() { # METRIC-WITH-LABELS: its value in the current file
    awk -v m="$1" 'index($0, m " ") == 1 { print $NF; exit }' "$PROM"
}
want() { # METRIC-WITH-LABELS VALUE: waits (at most 5 s) until the file shows it
    for _ in $(seq 50); do
        [ "$(sample "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    cat "$PROM" >&2
    seg_fail "$1 is '$(sample "$1")', expected $2"
}
want 'segel_messages_total{direction="outbound",decision="sign",reason="none"}' 2
want 'segel_messages_total{direction="outbound",decision="reject",reason="550 5.7.1"}' 1
want 'segel_config_reloads_total{result="ok"}' 1
want 'segel_config_reloads_total{result="failed"}' 1
want 'segel_config_last_reload_success' 0
want "segel_config_generation{config=\"$SEG_CONFIG\"}" 2
want 'segel_message_duration_seconds_count{direction="outbound"}' 3
want 'segel_message_size_bytes_bucket{direction="outbound",le="+Inf"}' 3
seg_ok "messages by direction/decision/reason, reloads by result, generation, latency and size histograms"

promtool check metrics <"$PROM" >"$T/promtool.out" 2>&1 || { cat "$T/promtool.out" "$PROM" >&2; seg_fail "promtool check metrics rejects the file"; }
seg_ok "promtool check metrics: no problems"

serial=$(openssl x509 -in "$PKI/siti.crt" -noout -serial | cut -d= -f2)
not_after=$(date -d "$(openssl x509 -in "$PKI/siti.crt" -noout -enddate | cut -d= -f2)" +%s)
got=$(sample "segel_certificate_expiry_timestamp_seconds{serial=\"$serial\",address=\"siti@$DINAS\"}")
[ -n "$got" ] || seg_fail "no expiry sample for siti's certificate $serial"
[ "${got%.*}" = "$not_after" ] || seg_fail "siti's certificate expires at $not_after, the file says $got"
[ "$(sample "segel_certificate_usable{serial=\"$serial\",address=\"siti@$DINAS\"}")" = 1 ] || seg_fail "siti's certificate is not usable"
ani=$(openssl x509 -in "$PKI/ani.crt" -noout -serial | cut -d= -f2)
[ "$(sample "segel_certificate_usable{serial=\"$ani\",address=\"ani@$DINAS\"}")" = 0 ] || seg_fail "the expired certificate counts as usable"
seg_ok "certificate expiry times equal notAfter; usable 1 for siti, 0 for the expired one"

run_status() { RC=0; "$SEGELCTL" status --config "$SEG_CONFIG" >"$T/status.out" 2>&1 || RC=$?; }
run_status
[ "$RC" = 0 ] || { cat "$T/status.out" >&2; seg_fail "segelctl status: exit $RC while the milter runs"; }
for want in "segel-milter $(sed -n 's/^project(segel VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt"): running, pid $SEG_MILTER_PID" \
    "configuration: $SEG_CONFIG, generation 2; reloads: 1 ok, 1 failed; last FAILED (old one in force)" \
    "outbound sign" "outbound reject 550 5.7.1" "$serial  siti@$DINAS  expires" "NOT USABLE"; do
    grep -qF -- "$want" "$T/status.out" || { cat "$T/status.out" >&2; seg_fail "segelctl status lacks '$want'"; }
done
seg_ok "segelctl status: running, generation and reloads, counters, certificates"

seg_stop_milter
[ ! -e "$PROM" ] || seg_fail "the metrics file is left behind after the stop"
run_status
[ "$RC" = 1 ] || { cat "$T/status.out" >&2; seg_fail "segelctl status: exit $RC after the stop, expected 1"; }
grep -q "segel-milter is not running" "$T/status.out" || { cat "$T/status.out" >&2; seg_fail "status does not say it stopped"; }
seg_ok "after the stop the file is gone and segelctl status says the milter is not running (exit 1)"
