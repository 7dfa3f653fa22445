#!/bin/bash
# SPDX-License-Identifier: MIT
# dpkg-query formats are single-quoted on purpose.
# shellcheck disable=SC2016
#
# verify-on-fresh-debian.sh - install the tlsguard .deb on a fresh Debian 12 (a debootstrap
# chroot) and check what the package promises: the tlsguard system user, /var/lib/tlsguard
# (0750 tlsguard:tlsguard), the conffile /etc/tlsguard/tlsguard.conf in the safe built-in mode,
# the enabled unit, a daemon that starts as tlsguard and creates its database; then that
# `apt-get remove` keeps the configuration and the database and `apt-get purge` removes them
# (the system user stays, as Debian does for system users).
#
#     debian/verify-on-fresh-debian.sh [path/to/tlsguard_VERSION_ARCH.deb]
#
# Without an argument it first builds the .deb of the committed HEAD with
# `dpkg-buildpackage -b -us -uc` in a temp dir (the build dependencies must be installed).
# Run as root on Debian 12 with debootstrap installed and the Debian mirror reachable; takes a
# few minutes. Not part of CI.
#
# Environment:
#   MIRROR=URL   Debian mirror for debootstrap (default: the first one in this host's APT
#                sources)
#   KEEP=1       keep the temp dir (chroot included) and print where it is
#   BOOT=1       also boot the chroot with systemd-nspawn (package systemd-container) and
#                check the unit under a real systemd: the service starts in the safe mode as
#                tlsguard without capabilities, Postfix hands it a message, reload and stop work
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
checks=0
failed=0

say() { printf '== %s\n' "$*"; }
ok() { checks=$((checks + 1)); printf 'ok   %s\n' "$*"; }
bad() { checks=$((checks + 1)); failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
die() { printf 'verify: error: %s\n' "$*" >&2; exit 1; }
# check DESCRIPTION COMMAND...: ok if the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

# The mirror this host already uses, unless MIRROR says otherwise.
host_mirror() {
    local uri
    uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources \
          2>/dev/null | grep -v security | head -n 1 || true)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' \
                           /etc/apt/sources.list 2>/dev/null || true)
    printf '%s\n' "$uri"
}
mirror=${MIRROR:-$(host_mirror)}
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt; set MIRROR"

work=$(mktemp -d /var/tmp/tlsguard-verify.XXXXXX)
root=$work/root
cleanup() {
    local m
    for m in "$root/proc" "$root/dev/pts" "$root/dev"; do
        mountpoint -q "$m" 2>/dev/null && umount -l "$m"
    done
    # A container still running (a check died midway): end its init, then systemd-nspawn.
    [ -z "${ct_init:-}" ] || kill -KILL "$ct_init" 2>/dev/null || true
    [ -z "${nspawn_pid:-}" ] || kill "$nspawn_pid" 2>/dev/null || true
    if [ "${KEEP:-}" = 1 ]; then
        echo "kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

deb=${1:-}
if [ -z "$deb" ]; then
    say "building the .deb of $(git -C "$repo" rev-parse --short HEAD)"
    mkdir -p "$work/src/tlsguard"
    git -C "$repo" archive HEAD | tar -x -C "$work/src/tlsguard"
    (cd "$work/src/tlsguard" && dpkg-checkbuilddeps && dpkg-buildpackage -b -us -uc) \
        >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; die "build failed"; }
    deb=$(compgen -G "$work/src/tlsguard_*.deb" | head -n 1)
fi
[ -f "$deb" ] || die "$deb: no such file"
say "package: $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) ($(basename "$deb"))"

say "debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log"; die "debootstrap failed"; }
mount -t proc proc "$root/proc"
# No service may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

say "apt-get install ./$(basename "$deb")"
in_root apt-get update -qq
in_root apt-get install -y -q "/tmp/$(basename "$deb")" >"$work/install.log" 2>&1 ||
    { tail -n 30 "$work/install.log"; die "apt-get install failed"; }
grep -E '^(Setting up|Unpacking) ' "$work/install.log" | grep -E 'tlsguard|dns-root-data|libmilter' || true

say "after install"
pw=$(in_root getent passwd tlsguard || true)
check "user tlsguard exists: $pw" test -n "$pw"
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
check "tlsguard is a system user (uid $uid < 1000)" test "${uid:-1000}" -lt 1000
check "home is /var/lib/tlsguard" test "$home" = /var/lib/tlsguard
check "no login shell ($shell)" test "$shell" = /usr/sbin/nologin
check "group tlsguard is its primary group (gid $gid)" \
    test "$(in_root getent group tlsguard | cut -d: -f3)" = "$gid"
st=$(in_root stat -c '%a %U:%G' /var/lib/tlsguard || true)
check "/var/lib/tlsguard is 750 tlsguard:tlsguard ($st)" test "$st" = "750 tlsguard:tlsguard"
check "/etc/tlsguard/tlsguard.conf is a conffile" \
    grep -qx ' /etc/tlsguard/tlsguard.conf [0-9a-f]*' \
    <(in_root dpkg-query -W -f='${Conffiles}\n' tlsguard)
active=$(grep -Ev '^[[:space:]]*(#|$)' "$root/etc/tlsguard/tlsguard.conf" || true)
check "the conffile sets nothing: built-in defaults, no policy (safe mode)" test -z "$active"
out=$(in_root tlsguard check -c /etc/tlsguard/tlsguard.conf 2>&1 || true)
check "tlsguard check: configuration OK" grep -q 'configuration OK' <<<"$out"
check "tlsguard check: built-in policy, no rules" grep -Eq '^policy = \(built-in' <<<"$out"
check "the trust anchor of dns-root-data is there" test -s "$root/usr/share/dns/root.key"
check "unit installed" test -f "$root/lib/systemd/system/tlsguard.service"
check "tmpfiles.d entry for the socket directory installed" grep -qs \
    '^d /var/spool/postfix/tlsguard 2750 tlsguard postfix' "$root/usr/lib/tmpfiles.d/tlsguard.conf" \
    "$root/lib/tmpfiles.d/tlsguard.conf"
check "unit enabled (multi-user.target.wants)" \
    test -L "$root/etc/systemd/system/multi-user.target.wants/tlsguard.service"
check "unit runs tlsguard serve -c /etc/tlsguard/tlsguard.conf" grep -q \
    '^ExecStart=/usr/sbin/tlsguard serve -c /etc/tlsguard/tlsguard.conf$' \
    "$root/lib/systemd/system/tlsguard.service"

# Start the daemon as the unit would (user tlsguard, the installed configuration), but with a
# unix socket and stderr logging so it neither needs syslog nor takes a port of the host.
say "serve as tlsguard, a few seconds"
cat >"$root/tmp/verify.conf" <<'EOF'
socket = unix:/tmp/tlsguard-verify.sock
log = stderr
EOF
in_root setpriv --reuid=tlsguard --regid=tlsguard --init-groups \
    timeout -s TERM 3 tlsguard serve -c /tmp/verify.conf >"$work/serve.log" 2>&1 || true
sed 's/^/    /' "$work/serve.log"
check "serve started in the safe mode (built-in policy, 0 rules)" \
    grep -q 'policy (built-in) (0 rules)' "$work/serve.log"
st=$(in_root stat -c '%U:%G' /var/lib/tlsguard/tlsguard.db 2>/dev/null || true)
check "it created /var/lib/tlsguard/tlsguard.db as tlsguard ($st)" test "$st" = tlsguard:tlsguard
# Boots the chroot and checks the unit under systemd (BOOT=1). The container gets its own
# network namespace with only loopback, so nothing it runs reaches the host's ports.
boot_checks() {
    local p pid st out
    say "BOOT=1: systemd, postfix and swaks into the chroot, then boot it with systemd-nspawn"
    echo 'postfix postfix/main_mailer_type select Local only' | in_root debconf-set-selections
    echo 'postfix postfix/mailname string tlsguard.test' | in_root debconf-set-selections
    in_root apt-get install -y -q --no-install-recommends systemd systemd-sysv postfix swaks \
        sqlite3 iproute2 >"$work/boot-install.log" 2>&1 ||
        { tail -n 30 "$work/boot-install.log"; die "installing systemd and postfix failed"; }
    in_root postconf -e inet_protocols=ipv4 inet_interfaces=loopback-only \
        'smtpd_milters = unix:/tlsguard/tlsguard.sock' 'milter_default_action = tempfail'
    rm -f "$root/usr/sbin/policy-rc.d"
    umount -l "$root/proc"
    # --keep-unit and --register=no: no systemd or machined needed on the host.
    systemd-nspawn -q -D "$root" -b --private-network --keep-unit --register=no \
        --console=pipe >"$work/nspawn.log" 2>&1 &
    nspawn_pid=$!
    for _ in $(seq 1 60); do
        # The container's init: the child of systemd-nspawn that is PID 1 in its namespace.
        for p in $(pgrep -P "$nspawn_pid" || true); do
            [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ] && ct_init=$p
        done
        [ -n "$ct_init" ] && nsenter -t "$ct_init" -a systemctl is-system-running --wait >/dev/null 2>&1 &&
            break
        sleep 1
    done
    [ -n "$ct_init" ] || { cat "$work/nspawn.log"; die "the container did not boot"; }
    in_ct() { nsenter -t "$ct_init" -a "$@"; }
    check "booted: tlsguard.service is active" in_ct systemctl is-active -q tlsguard
    in_ct journalctl -u tlsguard --no-pager -o cat | sed 's/^/    /'
    check "the service started in the safe mode (built-in policy, 0 rules)" \
        grep -q 'policy (built-in) (0 rules)' <(in_ct journalctl -u tlsguard --no-pager -o cat)
    pid=$(in_ct systemctl show -p MainPID --value tlsguard)
    st=$(in_ct awk '/^(Uid|CapEff|NoNewPrivs|Seccomp):/ { printf "%s%s ", $1, $2 }' "/proc/$pid/status")
    check "it runs as tlsguard, no capabilities, no_new_privs, seccomp ($st)" \
        test "$st" = "Uid:$(in_ct id -u tlsguard) CapEff:0000000000000000 NoNewPrivs:1 Seccomp:2 "
    # The built-in socket inside Postfix's chroot: its directory made at boot by tlsguard.tmpfiles
    # (Postfix, and so the postfix group, came after the package), the socket group postfix.
    st=$(in_ct stat -c '%a %U %G' /var/spool/postfix/tlsguard 2>&1 || true)
    check "socket directory /var/spool/postfix/tlsguard 2750 tlsguard postfix ($st)" \
        test "$st" = "2750 tlsguard postfix"
    st=$(in_ct stat -c '%F %a %U %G' /var/spool/postfix/tlsguard/tlsguard.sock 2>&1 || true)
    check "it listens on the built-in socket, 0660 tlsguard:postfix ($st)" \
        test "$st" = "socket 660 tlsguard postfix"
    out=$(in_ct swaks --server 127.0.0.1 --to root@localhost --from a@plain.example 2>&1 || true)
    check "Postfix accepts a message with tlsguard attached" grep -q '250 2.0.0 Ok: queued' <<<"$out"
    sleep 2
    check "tlsguard recorded it (messages: a@plain.example accepted)" test \
        "$(in_ct sqlite3 /var/lib/tlsguard/tlsguard.db \
           "SELECT outcome FROM messages WHERE mail_from = 'a@plain.example'")" = accepted
    # ExecReload=/bin/kill: procps, a dependency (minbase has no /bin/kill).
    check "systemctl reload re-reads the configuration" in_ct systemctl reload tlsguard
    check "the daemon logged the reload" grep -q '^reload: configuration /etc/tlsguard/tlsguard.conf' \
        <(in_ct journalctl -u tlsguard --no-pager -o cat)
    check "systemctl stop: clean exit" in_ct systemctl stop tlsguard
    check "exit status 0" test "$(in_ct systemctl show -p ExecMainStatus --value tlsguard)" = 0
    in_ct journalctl -u tlsguard --no-pager -o cat | tail -n 4 | sed 's/^/    /'
    in_ct systemctl poweroff >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
    kill "$nspawn_pid" 2>/dev/null || true
    wait "$nspawn_pid" 2>/dev/null || true
    nspawn_pid="" ct_init=""
    mount -t proc proc "$root/proc"
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
}
[ "${BOOT:-}" != 1 ] || boot_checks
echo '# edited by the postmaster' >>"$root/etc/tlsguard/tlsguard.conf"

say "apt-get remove tlsguard"
in_root apt-get remove -y -q tlsguard >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; die "remove failed"; }
check "package state is rc (config-files)" \
    test "$(in_root dpkg-query -W -f='${db:Status-Abbrev}' tlsguard)" = "rc "
check "the edited /etc/tlsguard/tlsguard.conf is kept" \
    grep -q 'edited by the postmaster' "$root/etc/tlsguard/tlsguard.conf"
check "the database is kept" test -s "$root/var/lib/tlsguard/tlsguard.db"
check "the binary is gone" test ! -e "$root/usr/sbin/tlsguard"

say "apt-get purge tlsguard"
in_root apt-get purge -y -q tlsguard >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; die "purge failed"; }
check "package is gone from dpkg's database" \
    test -z "$(in_root dpkg-query -W -f='${db:Status-Abbrev}' tlsguard 2>/dev/null || true)"
check "/etc/tlsguard is removed" test ! -e "$root/etc/tlsguard"
check "/var/lib/tlsguard is removed" test ! -e "$root/var/lib/tlsguard"
check "the tlsguard user is kept (Debian keeps system users)" \
    test -n "$(in_root getent passwd tlsguard || true)"

echo "$((checks - failed)) passed, $failed failed"
[ "$failed" = 0 ]
