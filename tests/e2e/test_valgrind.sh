#!/bin/bash
# SPDX-License-Identifier: MIT
# The daemon survives valgrind: the reload and actions scenarios again, with tlsguard under
# memcheck. Any memcheck error or definite leak makes tlsguard exit 99, which the scenarios
# see as a bad exit status at SIGTERM; the memcheck logs are checked here as well.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
real=${TLSGUARD:-$repo/build/milter/tlsguard}
case "$real" in
*asan*) echo "ok   skipped: valgrind does not run sanitizer builds"; exit 0 ;;
esac
command -v valgrind >/dev/null || { echo "FAIL valgrind not installed (tests/run.sh installs it)"; exit 1; }

work=$(mktemp -d /tmp/tlsguard-vg.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat >"$work/tlsguard" <<EOF2
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
    --log-file=$work/memcheck.%p.log "$real" "\$@"
EOF2
chmod +x "$work/tlsguard"

for scenario in reload actions; do
    if ! TLSGUARD="$work/tlsguard" bash "$here/test_$scenario.sh" >"$work/$scenario.out" 2>&1; then
        cat "$work/$scenario.out" "$work"/memcheck.*.log 2>/dev/null
        echo "FAIL $scenario scenario under valgrind"
        exit 1
    fi
    echo "ok   $scenario scenario passes with tlsguard under valgrind"
done
if grep -lE "Invalid (read|write)|uninitialised|definitely lost|Invalid free" "$work"/memcheck.*.log; then
    cat "$work"/memcheck.*.log
    echo "FAIL memcheck reported errors"
    exit 1
fi
echo "ok   memcheck: no errors, no definite leaks ($(ls "$work"/memcheck.*.log | wc -l) daemon runs)"
