#!/usr/bin/env bash
# The Debian package, end to end (issue 16): dpkg-buildpackage builds it from this tree (ccache
# keeps that cheap), lintian finds nothing it does not explain, `apt-get install ./segel_*.deb`
# creates the user, the directories and the unit, and the *installed* segel-milter, started the
# way the installed unit starts it, signs a message through a real Postfix that reaches it over
# /run/segel/segel.sock as user postfix. Its syslog lines (facility mail, real priorities) and its
# systemd notifications are checked, ExecReload reloads, SIGTERM stops it. The package is purged
# and the segel user removed at the end, so the machine is left as it was found.
#
# systemd is not PID 1 here, so the unit's sandbox is rebuilt by hand, as far as a shell can:
# User=/Group= with supplementary groups, UMask=, NoNewPrivileges=, an empty
# CapabilityBoundingSet=, MemoryDenyWriteExecute= (prctl PR_SET_MDWE), and in a mount namespace
# ProtectSystem=strict with ReadWritePaths=, PrivateTmp=, ProtectHome=, PrivateDevices= (a
# minimal /dev whose /dev/log is this test's syslog listener). Not rebuilt: the seccomp filters
# (SystemCallFilter=, RestrictAddressFamilies=), PrivateUsers= and the kernel protections;
# `systemd-analyze security` scores those (unit.systemd-unit and below).
#
# Exit 77 (skipped) when segel is already installed or configured on this machine other than by
# this test: it never touches a real installation.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SEG_NAME=package
MARKER=/var/lib/segel/.installed-by-t-package
if [ -e "$MARKER" ]; then # an earlier run of this test was killed before it cleaned up
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq segel >/dev/null 2>&1 || true
    rm -rf /etc/segel /run/segel /var/spool/segel /var/lib/segel
fi
if dpkg-query -W -f='${Status}' segel 2>/dev/null | grep -q 'install ok installed' || [ -e /etc/segel/segel.yaml ]; then
    echo "# package: segel is installed or configured on this machine; not touching it (skipped)"
    exit 77
fi
user_existed=0
getent passwd segel >/dev/null && user_existed=1
group_existed=0
getent group segel >/dev/null && group_existed=1

seg_setup package
UNIT=/lib/systemd/system/segel.service
DAEMON_PID=""
package_cleanup() {
    local rc=$?
    set +e
    if [ -n "$DAEMON_PID" ]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DAEMON_PID" 2>/dev/null
    fi
    [ -n "${SYSLOG_PID:-}" ] && kill "$SYSLOG_PID" 2>/dev/null
    [ -n "${NOTIFY_PID:-}" ] && kill "$NOTIFY_PID" 2>/dev/null
    rm -rf /etc/segel/segel.yaml /etc/segel/test-pki
    if dpkg-query -W -f='${Status}' segel 2>/dev/null | grep -qv 'not-installed'; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq segel >"$T/purge.log" 2>&1 || cat "$T/purge.log" >&2
    fi
    rm -rf /run/segel /var/spool/segel /var/lib/segel /etc/segel
    rmdir /run/segel-t-package /run/segel-t-package-dev 2>/dev/null
    [ "$user_existed" = 1 ] || userdel segel 2>/dev/null
    [ "$group_existed" = 1 ] || groupdel segel 2>/dev/null
    (exit "$rc")
    seg__cleanup
}
trap package_cleanup EXIT

# --- build --------------------------------------------------------------------------------------
src="$T/build/src"
mkdir -p "$src"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$src"
start=$(date +%s)
if ! (cd "$src" && DEB_BUILD_OPTIONS="noautodbgsym nocheck" dpkg-buildpackage -us -uc -b) >"$T/dpkg-buildpackage.log" 2>&1; then
    tail -n 40 "$T/dpkg-buildpackage.log" >&2
    seg_fail "dpkg-buildpackage failed"
fi
deb=$(ls "$T"/build/segel_*_*.deb)
seg_ok "dpkg-buildpackage -us -uc -b: $(basename "$deb") in $(($(date +%s) - start)) s"

version=$(dpkg-deb -f "$deb" Version)
want=$(sed -n 's/^project(segel VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")
[ "${version%-*}" = "$want" ] || seg_fail "debian/changelog says $version, CMakeLists.txt project() says $want"
if dpkg-deb -f "$deb" Depends | grep -Eq -- '-dev\b|cmake|ninja|catch2|postfix'; then
    seg_fail "the package depends on build or test tools: $(dpkg-deb -f "$deb" Depends)"
fi
lintian --fail-on error,warning "$T"/build/segel_*.changes >"$T/lintian.log" 2>&1 \
    || { cat "$T/lintian.log" >&2; seg_fail "lintian reports errors or warnings (debian/segel.lintian-overrides says why for the rest)"; }
seg_ok "version $version = project(); runtime dependencies only; lintian: no errors or warnings"

# --- install -----------------------------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$T/apt.log" 2>&1 \
    || { cat "$T/apt.log" >&2; seg_fail "apt-get install ./$(basename "$deb") failed"; }
touch "$MARKER"
id -nG segel | tr ' ' '\n' | grep -qx postfix || seg_fail "user segel is not in group postfix ($(id -nG segel))"
[ "$(stat -c '%a %U:%G' /run/segel)" = "2750 segel:postfix" ] || seg_fail "/run/segel is $(stat -c '%a %U:%G' /run/segel)"
[ "$(stat -c '%a %U:%G' /var/spool/segel)" = "750 segel:segel" ] || seg_fail "/var/spool/segel is $(stat -c '%a %U:%G' /var/spool/segel)"
[ "$(stat -c '%a %U:%G' /var/lib/segel)" = "750 segel:segel" ] || seg_fail "/var/lib/segel is $(stat -c '%a %U:%G' /var/lib/segel)"
[ "$(stat -c '%a %U:%G' /etc/segel)" = "750 root:segel" ] || seg_fail "/etc/segel is $(stat -c '%a %U:%G' /etc/segel)"
[ "$(/usr/sbin/segel-milter --version)" = "segel-milter $want" ] || seg_fail "installed segel-milter --version: $(/usr/sbin/segel-milter --version)"
man -w segel-milter segelctl segel.yaml >/dev/null 2>&1 || seg_fail "manual pages missing"
out=$(systemd-analyze verify "$UNIT" 2>&1) || seg_fail "systemd-analyze verify $UNIT: $out"
[ -z "$out" ] || seg_fail "systemd-analyze verify $UNIT complains: $out"
score=$(systemd-analyze security --offline=true "$UNIT" 2>&1 | sed -n 's/.*Overall exposure level for segel.service: \([0-9.]*\).*/\1/p')
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || seg_fail "installed unit: exposure $score, at most 2.0 wanted"
seg_ok "installed: user segel in group postfix, /run/segel 2750 segel:postfix, spool/state/etc dirs, man pages, unit verifies (exposure $score)"

# --- configure as an administrator would ---------------------------------------------------------
MILTER_SOCK=/run/segel/segel.sock
export MILTER_SOCK
install -d -o root -g segel -m 0750 /etc/segel/test-pki
for f in "$PKI"/*; do
    case $f in
    *.key | *.p12 | *.pass) install -o segel -g segel -m 0600 "$f" /etc/segel/test-pki/ ;; # segel refuses others' eyes on keys
    *) install -o root -g segel -m 0640 "$f" /etc/segel/test-pki/ ;;
    esac
done
PKI_SAVED=$PKI
PKI=/etc/segel/test-pki
seg_write_config /etc/segel/segel.yaml
PKI=$PKI_SAVED
sed -i 's|^milter:$|milter:\n  spool_directory: /var/spool/segel|; s|^log:$|log:\n  destination: syslog\n  facility: mail|' /etc/segel/segel.yaml
sed -i 's|^  level: debug$|  level: info|' /etc/segel/segel.yaml
chown root:segel /etc/segel/segel.yaml
chmod 0640 /etc/segel/segel.yaml
/usr/sbin/segelctl check-config >"$T/check.log" 2>&1 || { cat "$T/check.log" >&2; seg_fail "segelctl check-config (as segel) refuses the installed configuration"; }
grep -q "checked as user segel" "$T/check.log" || { cat "$T/check.log" >&2; seg_fail "check-config did not check as segel"; }
seg_ok "/etc/segel/segel.yaml (0640 root:segel) passes segelctl check-config, checked as user segel"

# --- start it the way the installed unit does ----------------------------------------------------
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
exec_start=$(unit_value ExecStart)
unit_user=$(unit_value User)
unit_group=$(unit_value Group)
unit_umask=$(unit_value UMask)
rw_paths=$(sed -n 's/^ReadWritePaths=//p' "$UNIT" | tr '\n' ' ') # every line: the unit has several
watchdog_s=$(unit_value WatchdogSec)
grep -qx 'MemoryDenyWriteExecute=yes' "$UNIT" || seg_fail "test bug: the unit no longer sets MemoryDenyWriteExecute"

# The journal's /dev/log and systemd's notification socket, played by this test.
"$SEG_PY" - "$T/syslog.sock" "$T/syslog.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\n") + b"\n")
PY
SYSLOG_PID=$!
"$SEG_PY" - "$T/notify.sock" "$T/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(4096).replace(b"\n", b" ") + b"\n")
PY
NOTIFY_PID=$!
for _ in $(seq 50); do [ -S "$T/syslog.sock" ] && [ -S "$T/notify.sock" ] && break; sleep 0.1; done

# The sandbox hides /tmp (PrivateTmp=), where $T lives: its sockets and helper are reached through
# a bind mount at $SANDBOX_T instead.
SANDBOX_T=/run/segel-t-package
SANDBOX_DEV=/run/segel-t-package-dev
mkdir -p "$SANDBOX_T" "$SANDBOX_DEV"
cat >"$T/sandbox.sh" <<EOF
set -e
mount --make-rprivate /
mount --bind "$T" "$SANDBOX_T"
# PrivateDevices=: a minimal /dev (null zero full random urandom tty, shm, pts) with /dev/log.
mount --bind /dev "$SANDBOX_DEV"
mount -t tmpfs -o mode=0755 tmpfs /dev
for d in null zero full random urandom tty; do touch /dev/\$d; mount --bind "$SANDBOX_DEV/\$d" /dev/\$d; done
mkdir -p /dev/shm /dev/pts
touch /dev/log
mount --bind "$SANDBOX_T/syslog.sock" /dev/log
# ProtectSystem=strict + ReadWritePaths=: everything read-only but the listed paths.
for p in $rw_paths; do
    p=\${p#-}
    if [ -e "\$p" ]; then mount --bind "\$p" "\$p"; fi
done
mount -o remount,bind,ro /
# PrivateTmp=, ProtectHome=
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mount -t tmpfs -o mode=0755 tmpfs /home
mount -t tmpfs -o mode=0700 tmpfs /root
umask $unit_umask
exec setpriv --reuid="$unit_user" --regid="$unit_group" --init-groups --no-new-privs \\
    --bounding-set=-all --inh-caps=-all -- "$SEG_PY" "$SANDBOX_T/mdwe-exec.py" $exec_start
EOF
cat >"$T/mdwe-exec.py" <<'PY'
# MemoryDenyWriteExecute=yes: the kernel refuses writable+executable mappings from now on.
import ctypes, os, sys
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_MDWE): " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
PY
start_daemon() {
    NOTIFY_SOCKET="$SANDBOX_T/notify.sock" WATCHDOG_USEC=$((${watchdog_s%s} * 1000000)) \
        unshare --mount --propagation private bash "$T/sandbox.sh" >>"$T/daemon.out" 2>&1 </dev/null &
    DAEMON_PID=$!
    for _ in $(seq 150); do
        grep -q 'READY=1' "$T/notify.log" 2>/dev/null && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$T/daemon.out" "$T/syslog.log" >&2 2>/dev/null; seg_fail "the installed segel-milter exited at start"; }
        sleep 0.1
    done
    cat "$T/daemon.out" "$T/syslog.log" >&2 2>/dev/null
    seg_fail "the installed segel-milter did not tell systemd READY=1"
}
start_daemon
[ "$(stat -c '%U:%G %a' "$MILTER_SOCK")" = "segel:postfix 660" ] || seg_fail "socket is $(stat -c '%U:%G %a' "$MILTER_SOCK"), expected segel:postfix 660"
seg_ok "started as the unit does ($exec_start as $unit_user, sandboxed): READY=1; socket segel:postfix 660"

# --- a signed message through Postfix (smtpd as user postfix, through group postfix) -------------
seg_start_sink
seg_start_postfix
seg_add_user "siti@$DINAS" siti-pw
seg_make_message "$T/msg.eml" "Siti Rahmawati <siti@$DINAS>" kepala@mitra.example "Dari paket Debian"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/msg.eml"
seg_expect_reply '^250 '
seg_wait_delivered 1
seg_delivered_copy "$T/got.eml"
seg_expect_signed "$T/got.eml" "siti@$DINAS"
seg_ok "signed by the installed milter through Postfix; openssl and gpgsm verify siti@$DINAS"

# --- its log: syslog facility mail, priorities by level ----------------------------------------------
# <PRI> = facility * 8 + severity; mail = 2: info <22>, warning <20>.
grep -q "^<22>.*segel\[[0-9]*\]: .*: sign from=<siti@$DINAS>" "$T/syslog.log" || { cat "$T/syslog.log" >&2; seg_fail "no mail.info sign line in syslog"; }
grep -q "^<22>.*segel\[[0-9]*\]: listening socket=unix:$MILTER_SOCK .*user=segel group=segel" "$T/syslog.log" \
    || seg_fail "no mail.info listening line naming user segel"
grep -q '^<20>.*segel\[[0-9]*\]: certificate .*state="expired' "$T/syslog.log" || seg_fail "no mail.warning line for the expired certificate"
for _ in $(seq 30); do grep -q 'WATCHDOG=1' "$T/notify.log" && break; sleep 0.1; done
grep -q 'WATCHDOG=1' "$T/notify.log" || seg_fail "no WATCHDOG=1 (the main loop pings every second while WatchdogSec is set)"
seg_ok "syslog: mail.info for sign and listening lines, mail.warning for an expired certificate; WATCHDOG=1 sent"

# --- the daily expiry notices: the timer is enabled, its service runs as the unit says -------------
NOTICE_UNIT=/lib/systemd/system/segel-notify-expiry.service
NOTICE_TIMER=/lib/systemd/system/segel-notify-expiry.timer
out=$(systemd-analyze verify "$NOTICE_UNIT" "$NOTICE_TIMER" 2>&1) || seg_fail "systemd-analyze verify of the expiry-notice units: $out"
[ -z "$out" ] || seg_fail "systemd-analyze verify of the expiry-notice units complains: $out"
nscore=$(systemd-analyze security --offline=true "$NOTICE_UNIT" 2>&1 | sed -n 's/.*Overall exposure level for segel-notify-expiry.service: \([0-9.]*\).*/\1/p')
awk -v s="$nscore" 'BEGIN { exit !(s <= 2.0) }' || seg_fail "installed segel-notify-expiry.service: exposure $nscore, at most 2.0 wanted"
[ -L /etc/systemd/system/timers.target.wants/segel-notify-expiry.timer ] \
    || seg_fail "segel-notify-expiry.timer is not enabled by the package (no timers.target.wants link)"
grep -qx 'OnCalendar=daily' "$NOTICE_TIMER" || seg_fail "the timer does not run daily"
# The test PKI has an expired certificate: its on-expiry notice is due. Sent straight to the sink
# (the relay an administrator names), signed with siti's key as notices.sign_as.
cat >>/etc/segel/segel.yaml <<EOF
notices:
  sign_as: siti@$DINAS
  relay: 127.0.0.1:$SINK_PORT
  administrators: [admin@$DINAS]
EOF
notice_value() { sed -n "s/^$1=//p" "$NOTICE_UNIT" | tail -n 1; }
notice_exec=$(notice_value ExecStart)
before=$(seg_sink_count)
# shellcheck disable=SC2086 # ExecStart is a command line
(cd / && umask "$(notice_value UMask)" && setpriv --reuid="$(notice_value User)" --regid="$(notice_value Group)" \
    --init-groups --no-new-privs -- $notice_exec) >"$T/notice.out" 2>&1 \
    || { cat "$T/notice.out" >&2; seg_fail "$notice_exec (as $(notice_value User)) failed"; }
grep -q '^sent: signing certificate .*, expired -> .*admin@' "$T/notice.out" || { cat "$T/notice.out" >&2; seg_fail "no expiry notice was sent"; }
[ "$(seg_sink_count)" -eq $((before + 1)) ] || seg_fail "the sink holds $(seg_sink_count) messages, expected $((before + 1))"
seg_delivered_copy "$T/notice.eml"
seg_expect_signed "$T/notice.eml" "siti@$DINAS"
[ "$(stat -c '%U:%G' /var/lib/segel/notices.sqlite)" = "segel:segel" ] \
    || seg_fail "the notices ledger is $(stat -c '%U:%G' /var/lib/segel/notices.sqlite 2>&1), expected segel:segel"
# shellcheck disable=SC2086
(cd / && setpriv --reuid=segel --regid=segel --init-groups -- $notice_exec) >"$T/notice2.out" 2>&1 \
    || { cat "$T/notice2.out" >&2; seg_fail "the second notify-expiry run failed"; }
grep -q '^already sent: ' "$T/notice2.out" || { cat "$T/notice2.out" >&2; seg_fail "the second run did not find the ledger entry"; }
seg_ok "segel-notify-expiry.{service,timer}: verify, exposure $nscore, timer enabled; the service as user segel mailed a signed notice, ledger in /var/lib/segel; a rerun sends nothing twice"

# --- ExecReload, then the stop systemd sends (SIGTERM) ---------------------------------------------
milter_pid=$(pgrep -u segel -x segel-milter)
reload=$(unit_value ExecReload)
${reload//\$MAINPID/$milter_pid}
for _ in $(seq 100); do grep -q 'reload status=ok' "$T/syslog.log" && break; sleep 0.1; done
grep -q 'reload status=ok .*signal=SIGHUP' "$T/syslog.log" || seg_fail "ExecReload ($reload) did not reload"
grep -q 'RELOADING=1' "$T/notify.log" || seg_fail "no RELOADING=1"
kill -TERM "$milter_pid"
for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=""
[ "$rc" = 0 ] || seg_fail "after SIGTERM the installed milter exited $rc"
grep -q 'STOPPING=1' "$T/notify.log" || seg_fail "no STOPPING=1"
grep -q "stopped socket=$MILTER_SOCK socket_removed=yes" "$T/syslog.log" || seg_fail "no stopped line"
[ ! -e "$MILTER_SOCK" ] || seg_fail "the socket is left behind"
seg_ok "ExecReload reloads (RELOADING=1); SIGTERM: STOPPING=1, 'stopped', exit 0, socket removed"
