#!/usr/bin/env bash
# The corpus of real-world message shapes (integration/corpus.py: Outlook, Thunderbird, Apple Mail,
# Gmail, calendar invitations, forwarded signed and unsigned messages, preambles and epilogues,
# long and RFC 2231 parameters, a digest, long header lines, 8-bit parts) goes through the real
# Postfix + segel-milter in one SMTP session. Every delivered copy must be signed by siti and
# verified by three implementations over the bytes as delivered — openssl cms, gpgsm (exact CRLF
# bytes of the signed part) and Bouncy Castle (CMSSignedData + PKIX path) — and the decoded content
# of every part must be byte-identical to what was sent (Python's email package). A forwarded
# signed message must keep its own signature valid (all three verifiers again).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup corpus
seg_standard_start
seg_add_user "siti@$DINAS" siti-pw
CORPUS="$SEG_LIB_DIR/corpus.py"

# --- the forwarded signed message: budi's, made by openssl (a client's signature, not segel's) ---
printf 'Content-Type: text/plain; charset=us-ascii;\n\tname="%s"\n\nNota dinas nomor 1.\n' \
    "nota-dinas-nomor-001-tahun-2026-tentang-penggunaan-sertifikat-elektronik-untuk-surel.txt" >"$T/nota.txt"
{
    printf 'Date: Thu, 19 Nov 2026 08:00:00 +0700\nFrom: Budi Santoso <budi@%s>\n' "$DINAS"
    printf 'To: siti@%s\nSubject: Nota dinas\nMessage-ID: <nota.1@%s>\n' "$DINAS" "$DINAS"
    openssl cms -sign -in "$T/nota.txt" -signer "$PKI/budi.crt" -inkey "$PKI/budi.key" \
        -certfile "$PKI/intermediate.pem" -md sha256
} >"$T/nota.eml"
"$SEG_PY" "$CORPUS" generate "$T/corpus" --inner-signed "$T/nota.eml"
mapfile -t names < <(cut -f1 "$T/corpus/MANIFEST")
[ "${#names[@]}" -ge 19 ] || seg_fail "the corpus has ${#names[@]} shapes, expected at least 19"

# --- all of them in one SMTP session (AUTH as siti) --------------------------------------------------
files=()
for n in "${names[@]}"; do files+=("$T/corpus/$n.eml"); done
"$SEG_PY" "$CORPUS" send --port "$SMTP_PORT" --user "siti@$DINAS" --password siti-pw \
    --from "siti@$DINAS" --to kepala@mitra.example "${files[@]}" >"$T/replies" 2>"$T/send.err" \
    || { cat "$T/send.err" >&2; seg_fail "submitting the corpus failed"; }
# A shape that is not accepted is a failure, but the accepted ones are still checked (a full report).
failures=0
mapfile -t accepted < <(awk -F'\t' '$2 == 250 {print $1}' "$T/replies")
while IFS=$'\t' read -r n code reply; do
    printf 'FAIL %s: not accepted: %s %s\n' "$n" "$code" "$reply" >&2
    failures=$((failures + 1))
done < <(awk -F'\t' '$2 != 250' "$T/replies")
[ "${#accepted[@]}" -gt 0 ] || seg_fail "no shape was accepted"
seg_wait_delivered "${#accepted[@]}"

# --- each delivered copy: signed, three verifiers, content unchanged ---------------------------------
mkdir -p "$T/got"
for f in "$SINK_DIR"/*; do
    seg_strip_sink "$f" "$T/got/tmp.eml"
    id=$(seg_header "$T/got/tmp.eml" X-Corpus-Id) || seg_fail "$f has no X-Corpus-Id"
    mv "$T/got/tmp.eml" "$T/got/$id.eml"
done
: >"$T/bc.jobs"
for n in "${accepted[@]}"; do
    got="$T/got/$n.eml"
    [ -f "$got" ] || seg_fail "$n was not delivered"
    if ! signer=$(seg_verify_openssl "$got") || [ "$signer" != "siti@$DINAS" ]; then
        printf 'FAIL %s: openssl: %s\n' "$n" "$(head -c 300 "$T/openssl.err")" >&2
        failures=$((failures + 1))
    fi
    if ! signer=$(seg_verify_gpgsm "$got") || [ "$signer" != "siti@$DINAS" ]; then
        printf 'FAIL %s: gpgsm: %s\n' "$n" "$(grep -E 'BADSIG|ERRSIG|error' "$T/gpgsm.status" "$T/gpgsm.err" 2>/dev/null | head -2)" >&2
        failures=$((failures + 1))
    fi
    seg_bc_job "$got" "$T/bc/$n" >>"$T/bc.jobs" || seg_fail "$n: no S/MIME parts to give Bouncy Castle"
    printf '%s\n' "$n" >>"$T/bc.names"
    if ! "$SEG_PY" "$CORPUS" compare "$T/corpus/$n.eml" "$got" 2>"$T/compare.err"; then
        printf 'FAIL %s: decoded content differs: %s\n' "$n" "$(cat "$T/compare.err")" >&2
        failures=$((failures + 1))
    fi
    # A forwarded signed message: its own signature, as a recipient opening the attachment has it.
    for inner in $("$SEG_PY" "$CORPUS" inner-signed "$got" "$T/inner/$n"); do
        signer=$(seg_verify_openssl "$inner") && [ "$signer" = "budi@$DINAS" ] \
            || { printf 'FAIL %s: the forwarded signature: openssl: %s\n' "$n" "$(head -c 300 "$T/openssl.err")" >&2; failures=$((failures + 1)); }
        signer=$(seg_verify_gpgsm "$inner") && [ "$signer" = "budi@$DINAS" ] \
            || { printf 'FAIL %s: the forwarded signature: gpgsm\n' "$n" >&2; failures=$((failures + 1)); }
        seg_bc_job "$inner" "$T/bc/$n.inner" >>"$T/bc.jobs" || seg_fail "$n: the forwarded message has no S/MIME parts"
        printf '%s (forwarded)\n' "$n" >>"$T/bc.names"
    done
done
if [ "$failures" -eq 0 ] && [ "$(grep -c 'forwarded' "$T/bc.names")" -lt 2 ]; then
    seg_fail "the forwarded signed shapes were not found in the delivered copies"
fi

# One JVM for every Bouncy Castle job; line k of the result is job k, named by line k of bc.names.
seg_verify_bc_list "$T/bc.jobs" "$T/bc.out" || true
mapfile -t bc_names <"$T/bc.names"
mapfile -t bc_results <"$T/bc.out"
[ "${#bc_results[@]}" -eq "$(wc -l <"$T/bc.jobs")" ] \
    || { cat "$T/bc.err" >&2; seg_fail "Bouncy Castle answered ${#bc_results[@]} of $(wc -l <"$T/bc.jobs") jobs"; }
for k in "${!bc_results[@]}"; do
    want="siti@$DINAS"
    case ${bc_names[$k]} in *"(forwarded)") want="budi@$DINAS" ;; esac
    if [ "${bc_results[$k]}" != "OK $want" ]; then
        printf 'FAIL %s: Bouncy Castle: %s\n' "${bc_names[$k]}" "${bc_results[$k]}" >&2
        failures=$((failures + 1))
    fi
done
[ "$failures" -eq 0 ] || seg_fail "$failures check(s) of ${#names[@]} shapes failed (above)"
seg_ok "${#names[@]} shapes accepted in one session"
seg_ok "every shape signed by siti: openssl, gpgsm and Bouncy Castle verify the delivered bytes; every part's decoded content is as sent"
seg_ok "forwarded signed messages keep budi's own signature (three verifiers)"

# --- a message that cannot be signed: 554 5.6.0 with the reason, never 451; or unsigned by choice --
{
    printf 'Date: %s\nFrom: Siti Rahmawati <siti@%s>\nTo: kepala@mitra.example\nSubject: Lampiran rusak\n' \
        "$(LC_ALL=C date -R)" "$DINAS"
    printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nisi\n'
    printf -- '--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="%s.bin"\n' \
        "$(head -c 1200 /dev/zero | tr '\0' n)"
    printf 'Content-Transfer-Encoding: base64\n\nAAAA\n--b--\n'
} >"$T/unfoldable.eml"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/unfoldable.eml"
seg_expect_reply '^554 5\.6\.0 message cannot be signed: header field Content-Disposition has a line of [0-9]+ octets with no white space to fold it at \(RFC 5322 allows 998\)'
seg_ok "an unfoldable header line of 1,216 octets: $SEG_REPLY"

seg_stop_milter
seg_write_config "$T/pass.yaml"
sed -i "s|^      without_certificate: reject$|&\n      unsignable: pass|" "$T/pass.yaml"
grep -q '^      unsignable: pass$' "$T/pass.yaml" || seg_fail "test bug: unsignable: pass not written"
seg_start_milter "$T/pass.yaml"
before=$(seg_sink_count)
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/unfoldable.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((before + 1))
seg_delivered_copy "$T/got-unfoldable.eml"
seg_expect_unsigned "$T/got-unfoldable.eml"
seg_crlf "$T/unfoldable.eml" "$T/unfoldable.crlf"
# Postfix's SMTP client breaks the line over 998 octets with CRLF SPACE on the way out
# (smtp_line_length_limit) — the change that would have broken a signature; segel changed nothing.
unfold() { seg_body "$1" | "$SEG_PY" -c 'import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().replace(b"\r\n ", b""))'; }
cmp -s <(unfold "$T/unfoldable.crlf") <(unfold "$T/got-unfoldable.eml") || seg_fail "the unsigned message's body was changed"
grep -q $'^ n' "$T/got-unfoldable.eml" || seg_fail "test bug: Postfix no longer breaks lines over 998 octets (smtp_line_length_limit)"
grep -q 'pass: cannot be signed (header field Content-Disposition has a line of' "$T/milter.log" \
    || seg_fail "no 'pass: cannot be signed' line in the milter log"
seg_ok "with unsignable: pass it is delivered unsigned and unchanged, and logged"
