#!/usr/bin/env bash
# check.sh BUILD_DIR "target=header;..." "target;...": every forbidden target must fail
# to compile at its #include (the header is not on its include path), every allowed
# target must build. See tests/boundaries/CMakeLists.txt.
set -uo pipefail
build=$1
IFS=';' read -r -a forbidden <<<"$2"
IFS=';' read -r -a allowed <<<"$3"
rc=0
for t in "${allowed[@]}"; do
    if ! out=$(cmake --build "$build" --target "$t" 2>&1); then
        printf 'FAIL control %s does not build (the boundary check would prove nothing):\n%s\n' "$t" "$out"
        rc=1
    else
        printf 'ok - %s builds\n' "$t"
    fi
done
for spec in "${forbidden[@]}"; do
    t=${spec%%=*}
    header=${spec#*=}
    if out=$(cmake --build "$build" --target "$t" 2>&1); then
        printf 'FAIL %s compiled: its module can see %s\n' "$t" "$header"
        rc=1
    elif grep -q "No such file or directory" <<<"$out" && grep -qF "${header##*/}" <<<"$out" \
        || grep -q "gmime/gmime.h: No such file" <<<"$out"; then
        printf 'ok - %s: %s is out of reach\n' "$t" "$header"
    else
        printf 'FAIL %s failed for another reason:\n%s\n' "$t" "$out"
        rc=1
    fi
done
exit "$rc"
