#!/usr/bin/env bash
# Installs the Debian packages segel needs to build and test; does nothing when all are present.
# Postfix is installed without prompting and is not left running as the system MTA (the tests
# run their own throwaway instances).
#   scripts/deps.sh            build and test toolchain (packages below)
#   scripts/deps.sh --runtime  only what a mail server running an installed segel needs (runtime
#                              below); the .deb computes its own list from the binaries
#   scripts/deps.sh --list [--runtime]   print the list, install nothing
set -euo pipefail

packages=(build-essential cmake ninja-build ccache pkg-config clang-format libgmime-3.0-dev libssl-dev
    libmilter-dev libyaml-cpp-dev libspdlog-dev catch2 postfix swaks gpgsm sasl2-bin
    libsasl2-modules faketime openssl miltertest
    slapd ldap-utils libldap-dev)
packages+=(libpsl-dev publicsuffix)  # the Public Suffix List for config validation (issue 11)
packages+=(default-jdk-headless libbcpkix-java libbcprov-java libbcutil-java)  # Bouncy Castle verifier (integration/BcVerify.java)
packages+=(libsystemd-dev debhelper lintian)  # sd_notify and the journal; the Debian package and its test
packages+=(prometheus)  # promtool check metrics (integration/t-metrics.sh)
packages+=(clang-14 libclang-rt-14-dev llvm-14 lld-14)  # sanitizer build and libFuzzer (scripts/sanitize, scripts/fuzz)
packages+=(libcurl4-openssl-dev)  # services/http.cpp: OCSP, CRL distribution points, time-stamping
packages+=(libsqlite3-dev sqlite3)  # segelctl notify-expiry: the ledger of notices sent (tools/notices.cpp)
packages+=(libsqlite3-dev libpq-dev postgresql-15 sqlite3)  # the audit trail: SQLite store, shared PostgreSQL (issue 12)
packages+=(libp11-dev softhsm2 opensc gnutls-bin p11-kit libengine-pkcs11-openssl)  # PKCS#11 keys (smime/keys.cpp) and their SoftHSM tests
packages+=(weasyprint poppler-utils chromium)  # segelctl report --format pdf; integration/t-report.sh renders the PDF (pdftoppm, pdftotext) and the HTML (headless chromium)
# Runtime only: the shared libraries segel-milter and segelctl link, and openssl for key handling.
runtime=(libgmime-3.0-0 libglib2.0-0 libssl3 openssl libmilter1.0.1 libyaml-cpp0.7 libspdlog1.10 libfmt9
    libldap-2.5-0 libsystemd0 libpsl5 publicsuffix libcurl4 libsqlite3-0)
runtime+=(libpq5)  # the audit trail's shared store (issue 12)

list_only=0
for arg in "$@"; do
    case $arg in
    --runtime) packages=("${runtime[@]}") ;;
    --list) list_only=1 ;;
    *) echo "usage: $0 [--runtime] [--list]" >&2; exit 64 ;;
    esac
done
if [ "$list_only" = 1 ]; then
    printf '%s\n' "${packages[@]}"
    exit 0
fi
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
postfix_was_running=0
if [ -f /var/spool/postfix/pid/master.pid ] && kill -0 "$(tr -d ' ' </var/spool/postfix/pid/master.pid)" 2>/dev/null; then
    postfix_was_running=1
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
# slapd: no system directory is configured or started (t-ldap.sh runs its own under a temp dir).
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
# The package may have started a system Postfix that would hold port 25; the tests don't want it.
if [ "$postfix_was_running" = 0 ] && [ -f /var/spool/postfix/pid/master.pid ] \
    && kill -0 "$(tr -d ' ' </var/spool/postfix/pid/master.pid)" 2>/dev/null; then
    postfix stop >/dev/null 2>&1 || true
fi
if pgrep -x slapd >/dev/null 2>&1 && [ -x /etc/init.d/slapd ]; then
    /etc/init.d/slapd stop >/dev/null 2>&1 || true
fi
