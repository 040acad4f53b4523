#!/usr/bin/env bash
# packaging/check-build-depends.sh: every library the build looks for comes from a package that
# debian/control's Build-Depends names. A Debian builder (sbuild, pbuilder) installs only those, so
# a library found here only because scripts/deps.sh installed it would fail there at configure
# (libp11-dev and libpq-dev were missing). The packages are found from this machine's files:
# the .pc file of each pkg_check_modules() module, and a header of each find_package() library.
set -euo pipefail
cd "$(dirname "$0")/.."

owner() { dpkg -S "$1" 2>/dev/null | head -n 1 | cut -d: -f1; }
declare -A need=()
while read -r module; do
    pc="$(pkg-config --variable=pcfiledir "$module" 2>/dev/null)/$module.pc"
    p=$(owner "$pc")
    [ -n "$p" ] || { echo "check-build-depends: no installed package has $module.pc (./scripts/deps.sh)" >&2; exit 1; }
    need[$p]="pkg-config module $module"
done < <(grep -ho 'pkg_check_modules([A-Z0-9_]* REQUIRED IMPORTED_TARGET [^ )]*' CMakeLists.txt ./*/CMakeLists.txt |
    awk '{print $4}' | sort -u)
# find_package() and plain includes: one header each (cmake finds these by header and library).
for header in openssl/cms.h yaml-cpp/yaml.h spdlog/spdlog.h curl/curl.h sqlite3.h libmilter/mfapi.h; do
    file=""
    for dir in /usr/include "/usr/include/$(gcc -print-multiarch)"; do
        [ -e "$dir/$header" ] && file="$dir/$header" && break
    done
    p=$([ -n "$file" ] && owner "$file" || true)
    [ -n "$p" ] || { echo "check-build-depends: no installed package has $header (./scripts/deps.sh)" >&2; exit 1; }
    need[$p]="header $header"
done

declared=$(sed -n '/^Build-Depends:/,/^[A-Za-z-]*:/{s/^Build-Depends://; /^[A-Za-z-]*:/d; p}' debian/control |
    tr ',' '\n' | sed 's/(.*)//; s/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v '^$' || true)
missing=0
for p in "${!need[@]}"; do
    if ! grep -qxF "$p" <<<"$declared"; then
        echo "debian/control: Build-Depends does not name $p (the build needs its ${need[$p]}); add it" >&2
        missing=1
    fi
done
[ "$missing" = 0 ] || exit 1
echo "check-build-depends: the ${#need[@]} packages the build needs are in Build-Depends"
