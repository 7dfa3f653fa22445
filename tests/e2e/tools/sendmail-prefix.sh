#!/bin/bash
# SPDX-License-Identifier: MIT
#
# sendmail-prefix.sh - a private copy of Debian's Sendmail for the end-to-end tests, without
# installing it: sendmail-bin conflicts with postfix, which the other tests need. Downloads
# sendmail-bin, sendmail-cf and sendmail-base from the Debian archive (apt-get download) and
# unpacks them (dpkg -x) into DIR/root; nothing of the packages' maintainer scripts runs and no
# system file is touched. The libraries the binary needs come from ordinary packages
# (tests/run.sh installs them; see SENDMAIL_LIBS below).
#
#   sendmail-prefix.sh [DIR]     prints DIR/root when ready (default
#                                /var/cache/tlsguard-tests/sendmail, or $TLSGUARD_SENDMAIL_CACHE)
#
# An unpacked copy is reused as long as its binary runs; a new one is built beside it and moved
# into place, so an interrupted run leaves no half-unpacked tree. Exits non-zero with a message
# on stderr when the packages cannot be had.
set -euo pipefail

# The shared libraries sendmail-bin links to that a Debian 12 system with postfix may lack.
SENDMAIL_LIBS="libwrap0 liblockfile1 libdb5.3 libldap-2.5-0 libnsl2 libsasl2-2 libssl3 m4"

dir=${1:-${TLSGUARD_SENDMAIL_CACHE:-/var/cache/tlsguard-tests/sendmail}}
root=$dir/root
bin=$root/usr/libexec/sendmail/sendmail

# The binary is there, finds its libraries, and says it is Sendmail 8 (not run itself: it sleeps
# a minute on a host name without a dot).
usable() {
    local libs
    [ -x "$bin" ] && [ -f "$root/usr/share/sendmail/cf/m4/cf.m4" ] || return 1
    libs=$(ldd "$bin" 2>&1) || return 1
    case "$libs" in *"not found"*) return 1 ;; esac
    grep -qaE '(^|[^0-9.])8\.1[0-9]\.[0-9]+' "$bin"
}

# Tests running side by side may all find the copy missing: one builds it, the others wait.
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if usable; then
    echo "$root"
    exit 0
fi
missing=()
for p in $SENDMAIL_LIBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "sendmail-prefix: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
        { echo "sendmail-prefix: cannot install ${missing[*]}" >&2; exit 1; }
fi
work=$(mktemp -d "$dir/.new.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt drops privileges to _apt for downloads: the directory must be writable by it.
chmod 777 "$work"
download() {
    (cd "$work" && apt-get download -qq sendmail-bin sendmail-cf sendmail-base) >&2
}
# Package lists may be missing or stale (a fresh container): update once and try again.
download || { apt-get update -qq >&2 && download; } ||
    { echo "sendmail-prefix: apt-get download failed (is the Debian archive reachable?)" >&2; exit 1; }
for deb in "$work"/*.deb; do
    dpkg -x "$deb" "$work/root"
done
rm -rf "$root.old"
[ -d "$root" ] && mv "$root" "$root.old"
mv "$work/root" "$root"
rm -rf "$root.old"
usable || { echo "sendmail-prefix: the unpacked sendmail does not run: $bin" >&2; exit 1; }
echo "$root"
