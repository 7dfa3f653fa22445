#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: no-memcheck
# cmake --install of this build tree into a DESTDIR: the system layout (files and modes), a
# second install keeps an edited configuration, the installed sample configuration passes
# `tlsguard check` alone and with the sample policy, every default path of the binary is in the
# layout, and the systemd unit passes `systemd-analyze verify` and `security --offline`.
# Needs no Postfix and no network; it does not use lib.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
checks=0

pass() { checks=$((checks + 1)); printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }
info() { printf '#    %s\n' "$*"; }

# The build tree: the one whose binary ctest hands over in $TLSGUARD, else the one ctest runs
# in, else build/.
find_build() {
    local d
    for d in "${TLSGUARD:+$(dirname "$TLSGUARD")}" "$PWD"; do
        while [ -n "$d" ] && [ "$d" != / ]; do
            [ -f "$d/CMakeCache.txt" ] && { echo "$d"; return; }
            d=$(dirname "$d")
        done
    done
    echo "$repo/build"
}
build=${TLSGUARD_BUILD:-$(find_build)}
[ -f "$build/cmake_install.cmake" ] || fail "no configured build tree at $build"
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }

tmp=$(mktemp -d /tmp/tlsguard-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
D=$tmp/root

# install PREFIX: cmake --install into $D; output in $tmp/install.log
install_to() {
    DESTDIR=$D cmake --install "$build" --prefix "$1" >"$tmp/install.log" 2>&1 ||
        { cat "$tmp/install.log" >&2; fail "cmake --install --prefix $1 failed"; }
}
# mode_is MODE PATH: octal permissions of PATH
mode_is() {
    [ -e "$2" ] || fail "missing: ${2#"$D"}"
    local m
    m=$(stat -c %a "$2")
    [ "$m" = "$1" ] || fail "${2#"$D"}: mode $m, want $1"
}

sysconfdir=$(cache CMAKE_INSTALL_SYSCONFDIR)
localstatedir=$(cache CMAKE_INSTALL_LOCALSTATEDIR)
# Where the layout puts /etc/tlsguard for prefix /usr (GNUInstallDirs: /etc for a relative etc).
case $sysconfdir in
    /*) etc=$sysconfdir ;;
    etc) etc=/etc ;;
    *) etc=/usr/$sysconfdir ;;
esac
case $localstatedir in
    /*) statedir=$localstatedir/lib/tlsguard ;;
    *) statedir=/$localstatedir/lib/tlsguard ;;
esac

# --- the layout, prefix /usr as a distribution installs it
install_to /usr
mode_is 755 "$D/usr/sbin/tlsguard"
"$D/usr/sbin/tlsguard" version >/dev/null || fail "the installed binary does not run"
pass "binary: /usr/sbin/tlsguard (0755), runs"
mode_is 644 "$D/usr/share/man/man8/tlsguard.8"
mode_is 644 "$D/usr/share/man/man5/tlsguard.conf.5"
mode_is 644 "$D/usr/share/man/man5/tlsguard-policy.5"
pass "man pages: man8/tlsguard.8, man5/tlsguard.conf.5, man5/tlsguard-policy.5 (0644)"
for f in tlsguard.conf.sample policy.sample; do
    mode_is 644 "$D/usr/share/doc/tlsguard/examples/$f"
    cmp -s "$repo/contrib/$f" "$D/usr/share/doc/tlsguard/examples/$f" || fail "examples/$f differs"
done
pass "examples: /usr/share/doc/tlsguard/examples/{tlsguard.conf,policy}.sample"
mode_is 755 "$D$etc/tlsguard"
mode_is 644 "$D$etc/tlsguard/tlsguard.conf"
mode_is 644 "$D$etc/tlsguard/policy.sample"
cmp -s "$repo/contrib/tlsguard.conf.sample" "$D$etc/tlsguard/tlsguard.conf" ||
    fail "$etc/tlsguard/tlsguard.conf is not the sample"
cmp -s "$repo/contrib/policy.sample" "$D$etc/tlsguard/policy.sample" ||
    fail "$etc/tlsguard/policy.sample is not the sample"
pass "configuration: $etc/tlsguard/tlsguard.conf and policy.sample (0644), the samples"
if [ "$(cache TLSGUARD_INSTALL_STATEDIR)" = OFF ]; then
    info "TLSGUARD_INSTALL_STATEDIR=OFF: no state directory installed, not checked"
else
    mode_is 750 "$D$statedir"
    [ -z "$(ls -A "$D$statedir")" ] || fail "$statedir is not empty"
    pass "state directory: $statedir (0750, empty)"
fi

# --- every default path of the binary is in this layout
out=$("$D/usr/sbin/tlsguard" check 2>&1) || fail "tlsguard check (built-in defaults) failed: $out"
db=$(sed -n 's/^database = //p' <<<"$out")
[ "$(dirname "$db")" = "$statedir" ] ||
    fail "the built-in database $db is not in the state directory $statedir"
pass "built-in database $db is in the installed state directory"
anchor=$(sed -n 's/^dns_trust_anchor = //p' <<<"$out")
[ "$anchor" = /usr/share/dns/root.key ] || fail "built-in trust anchor $anchor is not dns-root-data's"
if [ -s "$anchor" ]; then
    pass "built-in trust anchor $anchor (dns-root-data, a dependency of the package) is present"
else
    info "$anchor is missing here: install dns-root-data (the package depends on it)"
fi
# Where Debian's chrooted smtpd reaches it (unix:/tlsguard/tlsguard.sock), group postfix; the
# directory's creation is tested by test_surface.sh under its temp dir.
grep -qx 'socket = unix:/var/spool/postfix/tlsguard/tlsguard.sock' <<<"$out" ||
    fail "the built-in socket is not unix:/var/spool/postfix/tlsguard/tlsguard.sock: $out"
grep -qx 'socket_group = postfix' <<<"$out" || fail "the built-in socket_group is not postfix: $out"
pass "built-in socket unix:/var/spool/postfix/tlsguard/tlsguard.sock, socket_group postfix"

# --- the installed sample configuration passes check, alone and with the sample policy
out=$("$D/usr/sbin/tlsguard" check -c "$D$etc/tlsguard/tlsguard.conf" 2>&1) ||
    fail "check of the installed tlsguard.conf failed: $out"
grep -q '^policy = (built-in' <<<"$out" || fail "the installed configuration names a policy: $out"
[ "$(tail -n 1 <<<"$out")" = "configuration OK" ] || fail "no 'configuration OK': $out"
pass "installed tlsguard.conf: configuration OK, built-in policy (the safe mode)"
{ cat "$D$etc/tlsguard/tlsguard.conf"; echo "policy = $D$etc/tlsguard/policy.sample"; } \
    >"$tmp/with-policy.conf"
out=$("$D/usr/sbin/tlsguard" check -c "$tmp/with-policy.conf" 2>&1) ||
    fail "check with the installed sample policy failed: $out"
rules=$(sed -n 's/^# policy .*: \([0-9]*\) rules$/\1/p' <<<"$out")
[ "${rules:-0}" -gt 0 ] || fail "the sample policy has no rules: $out"
[ "$(tail -n 1 <<<"$out")" = "configuration OK" ] || fail "no 'configuration OK': $out"
pass "installed tlsguard.conf with policy = policy.sample: configuration OK ($rules rules)"

# --- a second install keeps what the postmaster edited
echo 'mode = monitor' >>"$D$etc/tlsguard/tlsguard.conf"
echo '# local rules' >>"$D$etc/tlsguard/policy.sample"
install_to /usr
[ "$(tail -n 1 "$D$etc/tlsguard/tlsguard.conf")" = 'mode = monitor' ] ||
    fail "a second install overwrote the edited tlsguard.conf"
[ "$(tail -n 1 "$D$etc/tlsguard/policy.sample")" = '# local rules' ] ||
    fail "a second install overwrote the edited policy.sample"
grep -q "Keeping existing: $D$etc/tlsguard/tlsguard.conf" "$tmp/install.log" ||
    fail "the second install does not say it kept tlsguard.conf: $(cat "$tmp/install.log")"
pass "second install: edited tlsguard.conf and policy.sample kept, and said so"
rm "$D$etc/tlsguard/policy.sample"
install_to /usr
cmp -s "$repo/contrib/policy.sample" "$D$etc/tlsguard/policy.sample" ||
    fail "a removed policy.sample was not installed again"
pass "third install: a removed policy.sample is installed again"

# --- prefix /usr/local: GNU's SYSCONFDIR, the same state directory
if [ "$sysconfdir" = etc ]; then
    install_to /usr/local
    mode_is 644 "$D/usr/local/etc/tlsguard/tlsguard.conf"
    mode_is 755 "$D/usr/local/sbin/tlsguard"
    pass "prefix /usr/local: /usr/local/sbin/tlsguard, /usr/local/etc/tlsguard/tlsguard.conf"
fi

# --- the systemd unit
unit=$repo/contrib/systemd/tlsguard.service
command -v systemd-analyze >/dev/null ||
    fail "systemd-analyze is not installed (tests/run.sh installs systemd)"
# verify wants the ExecStart binary to exist: point a copy of the unit at the installed one.
sed "s#/usr/sbin/tlsguard#$D/usr/sbin/tlsguard#g" "$unit" >"$tmp/tlsguard.service"
systemd-analyze verify --man=no "$tmp/tlsguard.service" >"$tmp/verify.log" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$tmp/verify.log")"
pass "systemd-analyze verify contrib/systemd/tlsguard.service (ExecStart at the installed binary)"
systemd-analyze security --offline=true "$tmp/tlsguard.service" >"$tmp/security.log" 2>&1 ||
    fail "systemd-analyze security --offline: $(tail -n 5 "$tmp/security.log")"
exposure=$(sed -n 's/.*Overall exposure level for tlsguard.service: \([0-9.]*\).*/\1/p' "$tmp/security.log")
[ -n "$exposure" ] || fail "no exposure level in: $(tail -n 3 "$tmp/security.log")"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' ||
    fail "systemd-analyze security: exposure $exposure, want <= 2.0: $(grep '✗' "$tmp/security.log")"
pass "systemd-analyze security: exposure $exposure (at most 2.0)"

printf 'PASS %s (%d checks)\n' "$(basename "$0")" "$checks"
