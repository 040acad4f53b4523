#!/usr/bin/env bash
# segelctl, the administrator's tool: `sign` produces the same kind of signed message as the
# gateway (checked by openssl and gpgsm), `explain` says which certificate would sign and why
# another was not chosen, and refuses with a reason for an expired one.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup segelctl
[ -x "$SEGELCTL" ] || seg_fail "segelctl binary not found: $SEGELCTL"
seg_write_config
C=$SEG_CONFIG

# --- sign ------------------------------------------------------------------------------------------
seg_make_message "$T/in.eml" "Siti Rahmawati <siti@$DINAS>" kepala@mitra.example "Ditandatangani oleh segelctl" \
    "Isi pesan." "From the office   " "Salam"
rc=0
"$SEGELCTL" sign --config "$C" --from "siti@$DINAS" --login "siti@$DINAS" <"$T/in.eml" >"$T/out.eml" 2>"$T/sign.err" || rc=$?
[ "$rc" -eq 0 ] || { cat "$T/sign.err" >&2; seg_fail "segelctl sign exited $rc"; }
seg_expect_header "$T/out.eml" Content-Type '^(multipart/signed|application/(x-)?pkcs7-mime);'
seg_expect_header "$T/out.eml" Subject '^Ditandatangani oleh segelctl$'
seg_expect_signed "$T/out.eml" "siti@$DINAS"
[ "$(seg_signer_serial)" = "$(seg_cert_serial "$PKI/siti.crt")" ] || seg_fail "segelctl sign did not use siti's newest certificate"
seg_ok "segelctl sign: output verified by openssl and gpgsm, signer siti@$DINAS"

# --- explain: refused, expired ----------------------------------------------------------------------
rc=0
"$SEGELCTL" explain --config "$C" --from "ani@$DINAS" --login "ani@$DINAS" >"$T/explain-ani.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || { cat "$T/explain-ani.out" >&2; seg_fail "segelctl explain for ani (expired) exited 0"; }
grep -q 'expired' "$T/explain-ani.out" || { cat "$T/explain-ani.out" >&2; seg_fail "segelctl explain for ani does not say 'expired'"; }
seg_ok "segelctl explain ani@$DINAS: exit $rc, $(grep -m1 expired "$T/explain-ani.out")"

# --- explain: chosen certificate and the older one not chosen --------------------------------------
rc=0
"$SEGELCTL" explain --config "$C" --from "siti@$DINAS" --login "siti@$DINAS" >"$T/explain-siti.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$T/explain-siti.out" >&2; seg_fail "segelctl explain for siti exited $rc"; }
# Serials may be printed as hex with or without colons, in any case, or in decimal.
normalised="$T/explain-siti.norm"
tr -d ':' <"$T/explain-siti.out" | tr '[:lower:]' '[:upper:]' >"$normalised"
serial_line() { # CERT: the first output line naming CERT's serial
    local hex dec
    hex=$(seg_cert_serial "$1" | sed 's/^0*//')
    dec=$("$SEG_PY" -c 'import sys; print(int(sys.argv[1], 16))' "$hex")
    grep -m1 -E -- "$hex|(^|[^0-9])$dec([^0-9]|\$)" "$normalised" || true
}
chosen=$(serial_line "$PKI/siti.crt")
older=$(serial_line "$PKI/siti-old.crt")
[ -n "$chosen" ] || { cat "$T/explain-siti.out" >&2; seg_fail "explain does not print the chosen serial $(seg_cert_serial "$PKI/siti.crt")"; }
[ -n "$older" ] || { cat "$T/explain-siti.out" >&2; seg_fail "explain does not mention the older certificate $(seg_cert_serial "$PKI/siti-old.crt")"; }
if ! printf '%s\n' "$older" | grep -Eiq 'NOT (CHOSEN|SELECTED|USED)|OLDER|SUPERSEDED|SKIPPED|NEWER'; then
    cat "$T/explain-siti.out" >&2
    seg_fail "explain does not say the older certificate was not chosen: '$older'"
fi
seg_ok "segelctl explain siti@$DINAS names the chosen serial and the older certificate as not chosen"
