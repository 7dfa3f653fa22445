#!/bin/bash
# SPDX-License-Identifier: MIT
#
# quickstart.sh - build tlsguard on a fresh Debian 12 machine and start it on its built-in
# defaults. Run as root from a clone of the repository:
#
#     bash contrib/quickstart.sh
#
# It installs the build dependencies, builds into build/, creates /var/lib/tlsguard and then
# replaces itself with `build/milter/tlsguard serve` in the foreground (stop it with Ctrl-C).
# With no configuration file tlsguard listens on
# unix:/var/spool/postfix/tlsguard/tlsguard.sock (creating the directory, group postfix), writes
# /var/lib/tlsguard/tlsguard.db and runs the built-in policy: it records every session and
# refuses nothing.
#
# Environment:
#   TLSGUARD_NO_START=1   do everything except starting the daemon (used to test this script)
set -euo pipefail

readonly packages=(cmake gcc make pkg-config libmilter-dev libssl-dev libunbound-dev
                   libsqlite3-dev libpsl-dev libidn2-dev sqlite3 dns-root-data)
readonly db_dir=/var/lib/tlsguard

say() { printf 'quickstart: %s\n' "$*"; }
die() { printf 'quickstart: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run this as root (it installs packages and creates $db_dir)"
command -v apt-get >/dev/null || die "apt-get not found; this script is for Debian 12"

# Work from the top of the repository whatever the caller's directory.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -f CMakeLists.txt && -d policy && -d milter ]] || die "$(pwd) is not a tlsguard source tree"

say "installing build dependencies: ${packages[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y "${packages[@]}"

say "building into $(pwd)/build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --parallel "$(nproc)"
[[ -x build/milter/tlsguard ]] || die "build finished but build/milter/tlsguard is missing"

install -d -m 0750 "$db_dir"

# Show what the built-in defaults are; this also proves the binary runs.
say "built-in configuration:"
build/milter/tlsguard check

cat <<MSG

tlsguard is ready. On its built-in defaults it
  listens on        unix:/var/spool/postfix/tlsguard/tlsguard.sock
                    (0660 in a directory 0750, group postfix, both created at start:
                    only root and the postfix group can connect)
  writes            $db_dir/tlsguard.db
  applies           the built-in policy: records every session, refuses nothing
  logs to           syslog, facility mail: journalctl -t tlsguard, or /var/log/mail.log
                    (to see the log in this terminal instead, start it with a config file
                    holding "log = stderr": build/milter/tlsguard serve -c FILE)

Attach Postfix by adding these two lines to /etc/postfix/main.cf
(if smtpd_milters already lists other milters, add tlsguard to that list):

  smtpd_milters = unix:/tlsguard/tlsguard.sock
  milter_default_action = tempfail

(that is the socket as Debian's chrooted smtpd sees it; if smtpd is not chrooted, the
"chroot" column of master.cf is n, write unix:/var/spool/postfix/tlsguard/tlsguard.sock)
then run "postfix reload". For Sendmail, add to /etc/mail/sendmail.mc (contrib/sendmail/):
  INPUT_MAIL_FILTER(\`tlsguard', \`S=local:/var/spool/postfix/tlsguard/tlsguard.sock, F=T, T=C:30s;S:10s;R:30s;E:5m')dnl
Query what was recorded with
  sqlite3 $db_dir/tlsguard.db 'SELECT * FROM sessions ORDER BY started_at DESC LIMIT 20'
  build/milter/tlsguard stats

MSG

if [[ ${TLSGUARD_NO_START:-} == 1 ]]; then
    say "TLSGUARD_NO_START=1: not starting; run: build/milter/tlsguard serve"
    exit 0
fi

say "starting build/milter/tlsguard serve in the foreground; stop it with Ctrl-C"
exec build/milter/tlsguard serve
