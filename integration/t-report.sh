#!/usr/bin/env bash
# Supervision reports (docs/reports.md, R11): events made through real Postfix + segel-milter —
# signed, signed+encrypted, refused for three different reasons, inbound verified (pass and
# fail), decrypted, an incident — then `segelctl report` in JSON, CSV, HTML and PDF over the
# events the latest checkpoint covers (a message after it is not counted). The numbers are
# checked against what the test sent; the certificates against the test PKI's own dates; the
# same report from the shared PostgreSQL database after shipping; the HTML rendered in headless
# Chromium and the PDF by pdftoppm/pdftotext; the --sign signature checked by openssl cms, and
# a changed byte makes it fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/audit-lib.sh"
. "$(dirname "$0")/enc-lib.sh"

seg_setup report
OUTSIDE=192.0.2.10
seg_start_sink
seg_start_postfix_inbound
seg_add_user "siti@$DINAS" siti-pw
seg_add_user budi budi-pw
enc_partner kepala kepala@mitra.example.id rsa
enc_publish kepala kepala@mitra.example.id
C="$SEG_CONFIG"
DB="$T/audit.db"
enc_write_config "$C" "  policy: opportunistic"
printf 'inbound:\n  authserv_id: mx.segel-test.example\n  sender_protection: tag\n' >>"$C"
audit_section "$C" "sqlite:$DB" "checkpoint: {events: 1000, minutes: 60}"
seg_start_milter "$C"
delivered=0

send_siti() { # TO FROM-HEADER [ENVELOPE] [LOGIN PASSWORD]: one outbound message
    seg_make_message "$T/m.eml" "$2" "$1" "Surat dinas" "Isi surat dinas."
    seg_send "${3:-siti@$DINAS}" - "$1" --auth "${4:-siti@$DINAS}" "${5:-siti-pw}" --data-file "$T/m.eml"
}

# --- outbound: 2 signed, 1 signed+encrypted, 3 refusals with different reason words --------------
send_siti warga@contoh.example "Siti <siti@$DINAS>"
seg_expect_reply '^250 '
send_siti warga2@contoh.example "Siti <siti@$DINAS>"
seg_expect_reply '^250 '
send_siti kepala@mitra.example.id "Siti <siti@$DINAS>"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 3))
send_siti warga@contoh.example "Siti <siti@$DINAS>" "siti@$DINAS" budi budi-pw
seg_expect_reply '^550 5\.7\.1 login budi may not send as'
send_siti warga@contoh.example "Budi <budi@$DINAS>"
seg_expect_reply '^550 5\.7\.1 envelope sender'
send_siti warga@contoh.example "Orang <orang@gmail.example>" orang@gmail.example
seg_expect_reply '^550 5\.7\.1 .*is not an official address'

# --- inbound: verified pass, verified fail, decrypted (inner signature pass), an incident --------
printf 'Content-Type: text/plain; charset=utf-8\n\nLaporan triwulan.\n' >"$T/entity"
openssl cms -sign -in "$T/entity" -signer "$T/partners/kepala.crt" -inkey "$T/partners/kepala.key" \
    -certfile "$PKI/intermediate.pem" -md sha256 >"$T/signed.body"
inbound() { # FILE BODY-FILE [SUBJECT]: a message from kepala to siti with BODY-FILE (MIME headers included)
    {
        printf 'Date: %s\nMessage-ID: <%s.%s@mitra.example.id>\n' "$(LC_ALL=C date -R)" "$(date +%s%N)" "$RANDOM"
        printf 'From: Kepala <kepala@mitra.example.id>\nTo: siti@%s\nSubject: %s\n' "$DINAS" "${3:-Laporan}"
        cat "$2"
    } >"$1"
}
inbound "$T/in-pass.eml" "$T/signed.body"
seg_send kepala@mitra.example.id - "siti@$DINAS" --xclient "$OUTSIDE" --data-file "$T/in-pass.eml"
seg_expect_reply '^250 '
sed 's/Laporan triwulan\./Laporan triwulan palsu./' "$T/signed.body" >"$T/changed.body"
inbound "$T/in-fail.eml" "$T/changed.body"
seg_send kepala@mitra.example.id - "siti@$DINAS" --xclient "$OUTSIDE" --data-file "$T/in-fail.eml"
seg_expect_reply '^250 '
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nokeys -clcerts -out "$T/siti.pem" 2>/dev/null
openssl cms -encrypt -binary -aes256 -in "$T/signed.body" -outform DER -out "$T/enc.der" "$T/siti.pem"
{
    printf 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
    printf 'Content-Transfer-Encoding: base64\n\n'
    base64 -w 76 "$T/enc.der"
} >"$T/enc.body"
inbound "$T/in-enc.eml" "$T/enc.body"
seg_send kepala@mitra.example.id - "siti@$DINAS" --xclient "$OUTSIDE" --data-file "$T/in-enc.eml"
seg_expect_reply '^250 '
# An official sender from outside without a signature: tagged, and an incident (R12).
seg_make_message "$T/forged.eml" "Siti <siti@$DINAS>" "budi@$DINAS" "Transfer segera" "Tolong transfer."
seg_send "siti@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/forged.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 4))

# --- the checkpoint the report is computed from; one more message after it -----------------------
"$SEGELCTL" audit checkpoint --config "$C" >"$T/checkpoint.out" 2>&1 || { cat "$T/checkpoint.out" >&2; seg_fail "audit checkpoint failed"; }
send_siti warga@contoh.example "Siti <siti@$DINAS>"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
ev() { sqlite3 "$DB" "$1"; }
[ "$(ev "SELECT count(*) FROM events WHERE kind = 'sign'")" -eq 3 ] || seg_fail "expected 3 sign events in the store"
words=$(ev "SELECT reason_code FROM events WHERE kind = 'refuse' ORDER BY idx" | tr '\n' ' ')
[ "$words" = "login-not-owner envelope-mismatch not-official " ] \
    || seg_fail "the refusals' reason_code are '$words', expected the words login-not-owner envelope-mismatch not-official"
seg_ok "events through Postfix: refusals recorded with their reason words ($words)"

# The period: this half-year (the events are from today, UTC).
year=$(date -u +%Y)
if [ "$(date -u +%m)" -le 6 ]; then FROM=$year-01-01 TO=$year-06-30; else FROM=$year-07-01 TO=$year-12-31; fi
report() { "$SEGELCTL" report --config "$C" --from "$FROM" --to "$TO" "$@"; }
report --format json --local --out "$T/r.json" 2>"$T/report.err" || { cat "$T/report.err" >&2; seg_fail "segelctl report --format json failed"; }

# Every number against what the test sent. The certificates: those the milter loaded (the start
# event's list), with dates from the test PKI's files themselves.
for f in "$PKI"/budi.crt; do openssl x509 -in "$f" -noout -startdate -enddate; done >"$T/dates"
for n in siti siti-old sekretariat noreply legacy ani dedi eko rina fajar; do
    { openssl pkcs12 -in "$PKI/$n.p12" -passin "file:$PKI/$n.pass" -nokeys -clcerts 2>/dev/null \
        || openssl pkcs12 -legacy -in "$PKI/$n.p12" -passin "file:$PKI/$n.pass" -nokeys -clcerts 2>/dev/null; } \
        | openssl x509 -noout -startdate -enddate
done >>"$T/dates"
"$SEG_PY" - "$T/r.json" "$T/dates" "$FROM" "$TO" "$DINAS" <<'PY' || seg_fail "the JSON report's numbers are not the events the test made"
import datetime, json, sys
r = json.load(open(sys.argv[1]))
frm = datetime.date.fromisoformat(sys.argv[3]); to = datetime.date.fromisoformat(sys.argv[4])
end = to + datetime.timedelta(days=1)
def day(line):
    return datetime.datetime.strptime(line.split('=', 1)[1].strip(), '%b %d %H:%M:%S %Y %Z').date()
lines = open(sys.argv[2]).read().split('\n')
starts = [day(l) for l in lines if l.startswith('notBefore=')]
ends = [day(l) for l in lines if l.startswith('notAfter=')]
want_certs = {
    'issued': sum(frm <= d < end for d in starts),
    'expired': sum(frm <= d < end for d in ends),
    'expiring': sum(end <= d < end + datetime.timedelta(days=90) for d in ends),
    'revoked': 0,
}
t = r['total']
errors = []
def check(what, got, want):
    if got != want:
        errors.append(f'{what}: report says {got}, the test made {want}')
check('signed', t['signed'], 2)  # the third came after the checkpoint
check('signed_encrypted', t['signed_encrypted'], 1)
check('refused', t['refused'], {'login-not-owner': 1, 'envelope-mismatch': 1, 'not-official': 1})
check('verified', t['verified'], {'pass': 2, 'fail': 1, 'none': 1})
check('decrypted', t['decrypted'], 1)
check('incidents_total', t['incidents_total'], 1)
check('incidents', t['incidents'], {'forged-official-sender': 1})  # by kind (docs/incidents.md)
check('certificates', t['certificates'], want_certs)
u = r['units'].get(sys.argv[5])
check('unit dinas signed', u and u['signed'], 2)
check('unit dinas verified_total', u and u['verified_total'], 4)
cp = r['checkpoints']
check('checkpoints', len(cp), 1)
check('events after the checkpoint', cp[0]['events_after'] >= 2, True)
if errors:
    print('\n'.join(errors), file=sys.stderr)
    print(json.dumps(r, indent=1), file=sys.stderr)
    sys.exit(1)
PY
seq=$(ev "SELECT max(seq) FROM checkpoints")
root=$(ev "SELECT lower(hex(root)) FROM checkpoints WHERE seq = $seq")
"$SEG_PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["checkpoints"][0]; assert (c["sequence"], c["root"]) == (int(sys.argv[2]), sys.argv[3]), c' \
    "$T/r.json" "$seq" "$root" || seg_fail "the report does not name checkpoint $seq (root $root)"
seg_ok "JSON: 2 signed, 1 signed+encrypted, refusals by word, verified pass/fail/none, 1 decrypted, 1 incident, certificates as the PKI's dates say; checkpoint $seq named"

# CSV: RFC 4180, one row per unit × measure, the same numbers.
report --format csv --local --out "$T/r.csv" 2>/dev/null
head -1 "$T/r.csv" | grep -q $'^unit,measure,detail,count\r$' || seg_fail "the CSV header is wrong"
grep -q $'^"(total)","refused","login-not-owner",1\r$' "$T/r.csv" || seg_fail "CSV: no total row for login-not-owner"
grep -q "^\"$DINAS\",\"signed\",\"\",2"$'\r$' "$T/r.csv" || seg_fail "CSV: the unit's signed row is not 2"
"$SEG_PY" -c 'import csv,sys; rows=list(csv.reader(open(sys.argv[1], newline=""))); assert all(len(r)==4 for r in rows), rows' "$T/r.csv" \
    || seg_fail "CSV does not parse as four columns per row"
seg_ok "CSV: RFC 4180 rows with the same numbers"

# HTML, rendered in headless Chromium: a page with content, not blank.
report --format html --local --out "$T/r.html" 2>/dev/null
grep -q 'Ditandatangani' "$T/r.html" || seg_fail "the HTML report is not in Indonesian by default"
report --format html --lang en --local --out "$T/r-en.html" 2>/dev/null
grep -q 'Signed and encrypted' "$T/r-en.html" || seg_fail "--lang en is not English"
grep -q '<svg' "$T/r.html" || seg_fail "the HTML report has no inline SVG chart"
grep -Eq '<(script|link|img)[ >]' "$T/r.html" && seg_fail "the HTML report loads something or runs a script"
nonblank() { # PNG: at least 3 colours and 2 % of pixels not white (python, standard library only)
    "$SEG_PY" - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w, h = 8, b'', 0, 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
        assert depth == 8 and ctype in (2, 6), (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, ink = set(), 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, w, 4):
            px = bytes(line[x * bpp:x * bpp + 3])
            colours.add(px)
            ink += px != b'\xff\xff\xff'
samples = ((h + 3) // 4) * ((w + 3) // 4)
print(f'{w}x{h}, {len(colours)} colours, {100 * ink / samples:.1f} % ink')
assert len(colours) >= 3 and ink > 0.02 * samples, 'blank'
PY
}
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || seg_fail "chromium is not installed (scripts/deps.sh installs it)"
timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$T/chromium" \
    --screenshot="$T/r.png" --window-size=1200,1600 "file://$T/r.html" >"$T/chromium.log" 2>&1 \
    || { cat "$T/chromium.log" >&2; seg_fail "headless chromium failed on the HTML report"; }
ink=$(nonblank "$T/r.png") || seg_fail "the Chromium screenshot of the HTML report is blank"
seg_ok "HTML: Indonesian (and --lang en), inline SVG, nothing loaded; Chromium renders it ($ink)"

# PDF through WeasyPrint: pages, not blank, and the numbers in its text.
report --format pdf --local --out "$T/r.pdf" 2>"$T/pdf.err" || { cat "$T/pdf.err" >&2; seg_fail "--format pdf failed"; }
pages=$(pdfinfo "$T/r.pdf" | sed -n 's/^Pages: *//p')
[ "${pages:-0}" -ge 1 ] || seg_fail "the PDF has no pages"
pdftoppm -r 50 -png -f 1 -l 1 "$T/r.pdf" "$T/page"
ink=$(nonblank "$(ls "$T"/page*.png | head -1)") || seg_fail "page 1 of the PDF is blank"
pdftotext -layout "$T/r.pdf" "$T/r.txt"
grep -q 'login-not-owner' "$T/r.txt" || seg_fail "pdftotext does not find the reason word login-not-owner"
grep -q "$root" "$T/r.txt" || grep -q "${root:0:32}" "$T/r.txt" || seg_fail "pdftotext does not find the checkpoint's root"
grep -Eq "$DINAS +2 +1 " "$T/r.txt" || { grep "$DINAS" "$T/r.txt" >&2; seg_fail "pdftotext does not find the unit's row (2 signed, 1 signed+encrypted)"; }
# Without WeasyPrint: a clear error naming the program.
rc=0
PATH=/nonexistent "$SEGELCTL" report --config "$C" --from "$FROM" --to "$TO" --format pdf --out "$T/x.pdf" \
    >"$T/nopdf.out" 2>&1 || rc=$?
[ "$rc" -eq 69 ] && grep -q 'needs the program weasyprint' "$T/nopdf.out" \
    || { cat "$T/nopdf.out" >&2; seg_fail "without weasyprint: exit $rc, expected 69 naming the program"; }
seg_ok "PDF: $pages page(s), pdftoppm $ink, pdftotext finds the numbers; without weasyprint exit 69 naming it"

# --sign: a detached CMS signature by the audit seal; a changed byte fails it.
report --format html --local --out "$T/signed.html" --sign 2>/dev/null
[ -s "$T/signed.html.p7s" ] || seg_fail "--sign wrote no $T/signed.html.p7s"
openssl cms -verify -binary -inform DER -in "$T/signed.html.p7s" -content "$T/signed.html" -CAfile "$PKI/root.pem" \
    -certfile "$PKI/intermediate.pem" -purpose any -out /dev/null 2>"$T/cms.err" \
    || { cat "$T/cms.err" >&2; seg_fail "openssl cms -verify rejects the report's signature"; }
openssl cms -verify -binary -inform DER -in "$T/signed.html.p7s" -content "$T/signed.html" -noverify \
    -signer "$T/signer.pem" -out /dev/null 2>/dev/null
openssl x509 -in "$T/signer.pem" -noout -fingerprint -sha256 >"$T/fp1"
openssl x509 -in "$PKI/noreply.crt" -noout -fingerprint -sha256 >"$T/fp2"
cmp -s "$T/fp1" "$T/fp2" || seg_fail "the report is not signed by the audit seal"
sed 's/login-not-owner/login-not-ownEr/' "$T/signed.html" >"$T/changed.html"
if openssl cms -verify -binary -inform DER -in "$T/signed.html.p7s" -content "$T/changed.html" -noverify \
    -out /dev/null 2>/dev/null; then
    seg_fail "a changed report still verifies"
fi
seg_ok "--sign: openssl cms -verify accepts the seal's signature; one changed byte fails it"

# --- the same report from the shared PostgreSQL database (all nodes) -----------------------------
audit_start_pg
audit_pg_setup
sed -i "s|^  store: sqlite:$DB$|  store: $AUDIT_PG_URL\n  local: $DB|" "$C"
grep -q "^  local: $DB" "$C" || seg_fail "test bug: audit.store not changed"
"$SEGELCTL" audit ship --config "$C" --once >"$T/ship.out" 2>&1 || { cat "$T/ship.out" >&2; seg_fail "audit ship failed"; }
report --format json --out "$T/pg.json" 2>"$T/pg.err" || { cat "$T/pg.err" >&2; seg_fail "report on PostgreSQL failed"; }
grep -q "\"store\": \"postgresql://segel@127.0.0.1:$PG_PORT/segel_audit\"" "$T/pg.json" || seg_fail "the report did not read PostgreSQL"
"$SEG_PY" - "$T/r.json" "$T/pg.json" <<'PY' || seg_fail "PostgreSQL and SQLite give different numbers for the same events"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ('total', 'units', 'months'):
    assert a[k] == b[k], (k, a[k], b[k])
assert [c['root'] for c in a['checkpoints']] == [c['root'] for c in b['checkpoints']]
PY
seg_ok "PostgreSQL (shipped): the same numbers and checkpoint as the node's SQLite file"
