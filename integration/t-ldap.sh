#!/usr/bin/env bash
# Recipient certificates from an LDAP directory (docs/encryption.md): a real OpenLDAP slapd on
# loopback (mdb backend, its own slapd.conf under $T, anonymous bind refused) holds a partner
# with userCertificate;binary (RSA) and one with userSMIMECertificate (a PKCS#7 certificate bag,
# EC). segelctl encrypt — the milter's code path — binds with bind_dn + bind_password_file, finds
# them, and encrypts; the partners decrypt with openssl. A recipient the directory does not know
# is refused with 550 5.7.1 when encryption is required; with the directory down it is 451 4.7.1.
# A filter-injection attempt finds nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/enc-lib.sh"

seg_setup ldap
SLAPD_PID=""
stop_slapd() {
    if [ -n "$SLAPD_PID" ]; then
        kill "$SLAPD_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SLAPD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SLAPD_PID" 2>/dev/null || true
        SLAPD_PID=""
    fi
}
trap 'rc=$?; stop_slapd; (exit $rc); seg__cleanup' EXIT
command -v slapd >/dev/null || PATH=$PATH:/usr/sbin
command -v slapd >/dev/null || seg_fail "slapd is not installed (apt-get install slapd ldap-utils; scripts/deps.sh does it)"

seg__port LDAP_PORT
BASE="dc=mitra,dc=example,dc=id"
ADMIN="cn=segel,$BASE"
printf 'rahasia-ldap' >"$T/ldap.pass"
chmod 600 "$T/ldap.pass"
mkdir -p "$T/ldap/db"
cat >"$T/ldap/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $T/ldap/slapd.pid
disallow bind_anon
database mdb
maxsize 10485760
suffix "$BASE"
rootdn "$ADMIN"
rootpw $(slappasswd -s rahasia-ldap)
directory $T/ldap/db
EOF
slapd -h "ldap://127.0.0.1:$LDAP_PORT/" -f "$T/ldap/slapd.conf" -u root -g root >"$T/ldap/slapd.log" 2>&1 \
    || { cat "$T/ldap/slapd.log" >&2; seg_fail "slapd did not start"; }
for _ in $(seq 100); do [ -s "$T/ldap/slapd.pid" ] && break; sleep 0.1; done
SLAPD_PID=$(cat "$T/ldap/slapd.pid" 2>/dev/null || true)
[ -n "$SLAPD_PID" ] || seg_fail "slapd wrote no pid file"
seg__wait_port "$LDAP_PORT" || seg_fail "slapd does not listen on $LDAP_PORT"

enc_partner kepala kepala@mitra.example.id rsa
enc_partner staf staf@mitra.example.id ec
openssl crl2pkcs7 -nocrl -certfile "$T/partners/staf.crt" -outform DER -out "$T/partners/staf.p7b"
cat >"$T/ldap/entries.ldif" <<EOF
dn: $BASE
objectClass: dcObject
objectClass: organization
o: Mitra
dc: mitra

dn: ou=people,$BASE
objectClass: organizationalUnit
ou: people

dn: uid=kepala,ou=people,$BASE
objectClass: inetOrgPerson
uid: kepala
cn: Kepala Mitra
sn: Mitra
mail: kepala@mitra.example.id
userCertificate;binary:< file://$T/partners/kepala.der

dn: uid=staf,ou=people,$BASE
objectClass: inetOrgPerson
uid: staf
cn: Staf Mitra
sn: Mitra
mail: staf@mitra.example.id
userSMIMECertificate:< file://$T/partners/staf.p7b
EOF
ldapadd -x -H "ldap://127.0.0.1:$LDAP_PORT/" -D "$ADMIN" -y "$T/ldap.pass" -f "$T/ldap/entries.ldif" \
    >"$T/ldap/add.log" 2>&1 || { cat "$T/ldap/add.log" >&2; seg_fail "ldapadd failed"; }
ldapsearch -x -H "ldap://127.0.0.1:$LDAP_PORT/" -b "$BASE" "(mail=kepala@mitra.example.id)" >/dev/null 2>&1 \
    && seg_fail "slapd answered an anonymous search (disallow bind_anon not in effect)"

enc_write_config "$SEG_CONFIG" "  policy: opportunistic
  ldap:
    uri: ldap://127.0.0.1:$LDAP_PORT/
    base_dn: ou=people,$BASE
    filter: (&(objectClass=inetOrgPerson)(mail=%s))
    bind_dn: $ADMIN
    bind_password_file: $T/ldap.pass
    timeout: 3"
mkdir -p "$T/recipients"  # the local store stays empty: only LDAP can answer
"$SEGELCTL" check-config "$SEG_CONFIG" --user "$(id -un)" >"$T/check.log" 2>&1 || { cat "$T/check.log" >&2; seg_fail "check-config refuses the LDAP config"; }

encrypt() { # OUT TO... (stderr in $T/encrypt.err)
    local out=$1 args=()
    shift
    for to in "$@"; do args+=(--to "$to"); done
    "$SEGELCTL" encrypt --config "$SEG_CONFIG" --from "siti@$DINAS" --login "siti@$DINAS" "${args[@]}" --explain \
        <"$T/msg.eml" >"$out" 2>"$T/encrypt.err"
}
seg_make_message "$T/msg.eml" "Siti Rahmawati <siti@$DINAS>" kepala@mitra.example.id "[RAHASIA] Rencana kerja" \
    "Rencana kerja sama, rahasia."

# --- 1. both partners found in LDAP (userCertificate;binary RSA, userSMIMECertificate EC) ----------
encrypt "$T/enc1.eml" kepala@mitra.example.id staf@mitra.example.id \
    || { cat "$T/encrypt.err" >&2; seg_fail "segelctl encrypt failed with LDAP certificates"; }
grep -q "ldap ldap://127.0.0.1:$LDAP_PORT/: serial" "$T/encrypt.err" || { cat "$T/encrypt.err" >&2; seg_fail "the certificates did not come from LDAP"; }
enc_openssl_decrypt "$T/enc1.eml" kepala "$T/in-kepala.eml" || { cat "$T/openssl-decrypt.err" >&2; seg_fail "kepala cannot decrypt"; }
enc_openssl_decrypt "$T/enc1.eml" staf "$T/in-staf.eml" || { cat "$T/openssl-decrypt.err" >&2; seg_fail "staf (EC, from userSMIMECertificate) cannot decrypt"; }
grep -q 'Rencana kerja sama' "$T/in-kepala.eml" || seg_fail "kepala's plaintext lacks the text"
seg_ok "LDAP (bound as $ADMIN): userCertificate;binary and userSMIMECertificate found; both partners decrypt"

# --- 2. unknown in the directory, and a filter-injection attempt: refused (trigger = required) ------
if encrypt "$T/enc2.eml" tamu@mitra.example.id; then seg_fail "encrypted for an address LDAP does not know"; fi
grep -q '^550 5.7.1 .*no usable certificate for: tamu@mitra.example.id' "$T/encrypt.err" \
    || { cat "$T/encrypt.err" >&2; seg_fail "no 550 naming tamu"; }
if encrypt "$T/enc3.eml" '*)(mail=*@mitra.example.id'; then seg_fail "a filter injection found a certificate"; fi
seg_ok "unknown recipient and filter injection: 550 5.7.1"

# --- 3. the directory down: a temporary refusal (451 4.7.1), never a silent clear-text send -------
stop_slapd
if encrypt "$T/enc4.eml" kepala@mitra.example.id; then seg_fail "encrypted although LDAP is down (nothing cached across runs)"; fi
grep -q '^451 4.7.1 ' "$T/encrypt.err" || { cat "$T/encrypt.err" >&2; seg_fail "LDAP down did not give 451 4.7.1"; }
seg_ok "LDAP down: $(grep '^451' "$T/encrypt.err")"
