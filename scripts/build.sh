#!/usr/bin/env bash
# build.sh [Debug|Release]: configures build/ with Ninja and ccache when needed, then builds.
set -euo pipefail
cd "$(dirname "$0")/.."

type=${1:-Debug}
case $type in
Debug | Release | RelWithDebInfo) ;;
*) echo "usage: $0 [Debug|Release|RelWithDebInfo]" >&2; exit 64 ;;
esac

# SEGEL_WERROR=ON (scripts/test sets it, so CI does): warnings are errors, in the tests too.
werror=${SEGEL_WERROR:-OFF}
cache=build/CMakeCache.txt
configured=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache" 2>/dev/null || true)
configured_werror=$(sed -n 's/^SEGEL_WERROR:BOOL=//p' "$cache" 2>/dev/null || true)
# A configure that failed (a package missing) leaves a cache but no build.ninja: configure again.
if [ ! -f "$cache" ] || [ ! -f build/build.ninja ] || [ "$configured" != "$type" ] || [ "${configured_werror:-OFF}" != "$werror" ]; then
    args=(-DCMAKE_BUILD_TYPE="$type" -DSEGEL_WERROR="$werror")
    # An existing build dir keeps its generator (CMake refuses to switch it in place).
    if ! grep -q '^CMAKE_GENERATOR:' "$cache" 2>/dev/null; then args+=(-G Ninja); fi
    if command -v ccache >/dev/null; then args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
    cmake -S . -B build "${args[@]}"
fi
cmake --build build -j2
