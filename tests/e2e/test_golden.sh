#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: quick
# Golden explain scripts: for each tests/golden/NAME.in, runs every `explain` line through
# `tlsguard explain -c CONF` and diffs the transcript against NAME.ref.
#
# NAME.in, one directive a line ('#' comments and blank lines ignored):
#   config KEY = VALUE     a line of the config file (socket/database/policy/log are preset)
#   policy RULE            a line of the policy file, in order
#   explain ARGS           one case: ARGS as a shell would split them (quotes allowed)
# NAME.ref: for each case "$ explain ARGS", then stdout, then stderr lines prefixed "stderr: ",
# then "[exit N]" unless N is 0, then an empty line. The temp dir shows as TMP.
#
# GOLDEN_UPDATE=1 rewrites the .ref files from the current output: review the diff before
# committing it, the .ref files are the specification.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
golden=${GOLDEN_DIR:-$repo/tests/golden}
TLSGUARD=${TLSGUARD:-$repo/build/milter/tlsguard}
[ -x "$TLSGUARD" ] || { echo "FAIL tlsguard binary not found: $TLSGUARD" >&2; exit 1; }

tmp=$(mktemp -d /tmp/tlsguard-golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# TLSGUARD_VALGRIND=1: every explain under valgrind memcheck, as lib.sh runs tlsguard there.
if [ "${TLSGUARD_VALGRIND:-0}" = 1 ]; then
    # shellcheck source=lib.sh
    . "$here/lib.sh"
    E2E=$tmp
    valgrind_wrap
fi

# run_script NAME.in: prints the transcript.
run_script() {
    local in=$1 line args rc
    local conf=$tmp/tlsguard.conf policy=$tmp/policy
    : >"$policy"
    printf 'database = %s/tlsguard.db\npolicy = %s\nlog = stderr\n' "$tmp" "$policy" >"$conf"
    # Collect config and policy lines first: a script describes one configuration.
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
        config\ *) printf '%s\n' "${line#config }" >>"$conf" ;;
        policy\ *) printf '%s\n' "${line#policy }" >>"$policy" ;;
        esac
    done <"$in"
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
        explain\ *) ;;
        *) continue ;;
        esac
        args=${line#explain }
        printf '$ explain %s\n' "$args"
        eval "set -- $args"
        rc=0
        "$TLSGUARD" explain -c "$conf" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
        cat "$tmp/out"
        sed 's/^/stderr: /' "$tmp/err"
        [ "$rc" = 0 ] || printf '[exit %d]\n' "$rc"
        echo
    done <"$in"
}

status=0 n=0
for in in "$golden"/*.in; do
    [ -e "$in" ] || continue
    n=$((n + 1))
    name=$(basename "$in" .in)
    ref=${in%.in}.ref
    run_script "$in" | sed "s|$tmp|TMP|g" >"$tmp/$name.out"
    if [ -n "${GOLDEN_UPDATE:-}" ]; then
        cp "$tmp/$name.out" "$ref"
        echo "updated $ref"
    elif [ ! -f "$ref" ]; then
        echo "FAIL $name: no $ref"
        status=1
    elif diff -u "$ref" "$tmp/$name.out" >"$tmp/$name.diff"; then
        echo "ok   $name ($(grep -c '^\$ explain' "$ref") cases)"
    else
        echo "FAIL $name: output differs from $ref (--- expected, +++ actual):"
        cat "$tmp/$name.diff"
        status=1
    fi
done
[ "$n" -gt 0 ] || { echo "FAIL no golden scripts in $golden"; exit 1; }
[ -z "${E2E_VALGRIND:-}" ] || valgrind_check || status=1
[ "$status" = 0 ] && echo "PASS test_golden.sh ($n scripts)"
exit "$status"
