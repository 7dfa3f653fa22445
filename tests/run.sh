#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs what the build and the tests need (Debian 12, as root), builds tlsguard twice -
# build/ (RelWithDebInfo) and build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer) - and
# runs the whole test suite in build-asan/, the unit and corpus tests in build/, and the
# end-to-end tests with build/'s binary under valgrind. Every end-to-end test so runs twice:
# once against the sanitized daemon at full size, once against the release binary under
# memcheck. (Running them a third time, plainly, cost 18 of 68 minutes and found nothing the
# other two do not.) Each end-to-end test has a network namespace of its own (tests/e2e/lib.sh),
# so they run side by side: E2E_JOBS at a time (default 3) against the sanitized daemon,
# MEMCHECK_JOBS (default 3) under valgrind.
#
#   bash tests/run.sh           the whole suite; exits non-zero if anything fails. .ci/run
#                               calls exactly this.
#   bash tests/run.sh --quick   the everyday tier: build/ only, `ctest -L quick` (every unit
#                               test, the corpus replays, golden and a few end-to-end tests)
# Safe to run again; works from any directory.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
e2e_jobs=${E2E_JOBS:-3}
memcheck_jobs=${MEMCHECK_JOBS:-3}
quick=""
case "${1:-}" in
"") ;;
--quick) quick=1 ;;
*)
    echo "usage: bash tests/run.sh [--quick]" >&2
    exit 1
    ;;
esac
# A sanitizer report aborts (status 134): exiting 1 it could pass for a refusal in a test.
sanitizer_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1)

if [ "$(id -u)" != 0 ]; then
    echo "run.sh: run as root (it installs packages, and the end-to-end tests start Postfix)" >&2
    exit 1
fi

packages=(
    cmake make gcc libc6-dev pkg-config
    libmilter-dev libssl-dev libunbound-dev libsqlite3-dev libpsl-dev libidn2-dev
    sqlite3 postfix swaks openssl ca-certificates e2fsprogs
    libnet-ssleay-perl libio-socket-ssl-perl valgrind
    nsd ldnsutils dns-root-data faketime
    clang libclang-rt-14-dev systemd
    # The harness's own tools: a network namespace per test (unshare, ip), flock, setpriv,
    # losetup, pgrep, perl's JSON::PP. Most are on every Debian; a minimal one may lack some.
    util-linux iproute2 mount procps perl
    sasl2-bin libsasl2-modules
    # Sendmail's libraries: the Sendmail tests run Debian's sendmail-bin unpacked into a
    # private prefix (below), because the package itself conflicts with postfix.
    m4 libwrap0 liblockfile1 libdb5.3 libldap-2.5-0 libnsl2 libsasl2-2
)

echo "== installing packages"
export DEBIAN_FRONTEND=noninteractive
# Postfix must install without questions and without a configuration of its own: the tests
# run private Postfix instances on loopback ports.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Services the packages may have started are not needed: the tests run private Postfix and
# nsd instances on loopback ports, and the system ones must not hold ports 25 and 53. Only the
# system instances are stopped (default config / pid file), never the tests' own.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl stop postfix nsd 2>/dev/null || true
else
    if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then
        postfix stop >/dev/null 2>&1 || true
    fi
    nsd_pid=$(nsd-checkconf -o pidfile /etc/nsd/nsd.conf 2>/dev/null || true)
    if [ -n "$nsd_pid" ] && [ -s "$nsd_pid" ] && [ -x /etc/init.d/nsd ]; then
        /etc/init.d/nsd stop >/dev/null 2>&1 || true
    fi
fi

# Sendmail for tests/e2e/test_sendmail*.sh: sendmail-bin, sendmail-cf and sendmail-base
# downloaded from the Debian archive and unpacked (dpkg -x, nothing installed or run) into
# /var/cache/tlsguard-tests/sendmail; an existing copy is reused.
echo "== sendmail for the tests"
bash "$repo/tests/e2e/tools/sendmail-prefix.sh" ||
    echo "== could not prepare Sendmail: the Sendmail tests will fail"

status=0

# build DIR ENV... -- CMAKE-ARGS...: configure, build and test one tree.
# shellcheck disable=SC2317 # called through step
build_and_test() {
    local dir=$1
    shift
    local env=()
    while [ "$1" != -- ]; do
        env+=("$1")
        shift
    done
    shift
    echo "== $dir: configure and build"
    mkdir -p "$repo/$dir"
    if ! cmake -S "$repo" -B "$repo/$dir" "$@" >"$repo/$dir/configure.log" 2>&1; then
        cat "$repo/$dir/configure.log"
        echo "== $dir: configure FAILED"
        return 1
    fi
    if ! cmake --build "$repo/$dir" -j "$jobs"; then
        echo "== $dir: build FAILED"
        return 1
    fi
    echo "== $dir: tests"
    if ! (cd "$repo/$dir" && env "${env[@]}" ctest --output-on-failure "${CTEST_ARGS[@]}"); then
        echo "== $dir: tests FAILED"
        return 1
    fi
    echo "== $dir: OK"
}

# step NAME CMD...: runs one step of the suite and says how long it took.
step() {
    local name=$1 t0 rc=0
    shift
    t0=$(date +%s)
    "$@" || rc=$?
    echo "== $name: $(($(date +%s) - t0)) s"
    return "$rc"
}

if [ -n "$quick" ]; then
    CTEST_ARGS=(-L quick -j "$jobs")
    step "build/ (quick)" build_and_test build "${sanitizer_env[@]}" -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo || status=1
    [ "$status" = 0 ] && echo "== quick tier passed (build/)" || echo "== FAILED"
    exit "$status"
fi

CTEST_ARGS=(-LE e2e -j "$jobs")
step "build/" build_and_test build -- -DCMAKE_BUILD_TYPE=RelWithDebInfo || status=1
# The whole suite against the sanitized daemon, the end-to-end tests side by side.
CTEST_ARGS=(-j "$e2e_jobs")
step "build-asan/" build_and_test build-asan "${sanitizer_env[@]}" \
    -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTLSGUARD_SANITIZE=ON || status=1
# The end-to-end tests of build/ once more, with every tlsguard they start under valgrind
# memcheck (TLSGUARD_VALGRIND=1, tests/e2e/lib.sh): a memcheck error or a definite leak fails
# the test. Only the scripts that start tlsguard (the others say "# ctest: no-memcheck"). The
# waits grow fivefold there, and three load tests run with smaller counts
# (test_fault_concurrency 100 sessions instead of 1,000, test_fault_kill9 300 messages at 10 a
# second instead of 1,000 at 100, test_fault_hup_load 150 instead of 600).
# shellcheck disable=SC2317 # called through step
memcheck() {
    echo "== build: end-to-end tests under valgrind memcheck"
    if (cd "$repo/build" && ctest -C memcheck -L memcheck -j "$memcheck_jobs" --no-tests=error \
        --output-on-failure); then
        echo "== build (memcheck): OK"
    else
        echo "== build (memcheck): tests FAILED"
        return 1
    fi
}
step "build/ (memcheck)" memcheck || status=1
# The fuzz targets, each for a bounded time (TLSGUARD_FUZZ_SECONDS), and their corpora; not
# the end-to-end tests, which would run against the fuzzer-instrumented daemon.
CTEST_ARGS=(-L fuzz -j "$jobs")
step "build-fuzz/" build_and_test build-fuzz "${sanitizer_env[@]}" \
    -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DTLSGUARD_FUZZ=ON || status=1

if [ "$status" = 0 ]; then
    echo "== all tests passed (build/, build/ under valgrind, build-asan/ and build-fuzz/)"
else
    echo "== FAILED"
fi
exit "$status"
