#!/bin/bash
# SPDX-License-Identifier: MIT
# The database's file system goes read-only under tlsguard. Root ignores file modes, and a file
# system with files open for writing cannot be
# remounted read-only (EBUSY); what does make it read-only at run time is what a disk error
# does: the database lives on a small ext4 image mounted with errors=remount-ro, and the test
# raises an error through ext4's trigger_fs_error. The kernel then refuses every write
# (EROFS) and allows rw again only after an unmount, as after an fsck: tlsguard must let go
# of the file (it closes the database after such errors and opens it again before each
# retry, never creating it), and the test mounts the image again.
#  (a) on_db_error = accept: a load of 30 is accepted and delivered; the log says the write
#      failed (disk I/O error) with the count of records queued, then that the database is
#      read-only; nothing is written; once the file system is back the log says the database
#      is writable again with the 150 queued records written (5 per message), and each message
#      is recorded exactly once.
#  (b) on_db_error = tempfail: once the writer has failed, MAIL gets 451 4.3.0 with the text
#      for all 20 messages of a load; after the file system is back, they are accepted when
#      sent again, and all 65 queued records (5 for the message accepted before the failure,
#      3 per deferred one) are written: every transaction recorded once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/faultlib.sh"
e2e_init
T0=$SECONDS
[ -d /sys/fs/ext4 ] || fail "no /sys/fs/ext4 (ext4 not available)"
IMG=$E2E/db.img
FS=$E2E/dbfs
mkdir -p "$FS"
truncate -s 16M "$IMG"
mkfs.ext4 -q -F -O ^has_journal "$IMG" || fail "mkfs.ext4 failed"
# A new loop device for every mount. A process elsewhere on this machine that creates a mount
# namespace (a service with PrivateTmp, unshare) copies our mount into it and keeps the
# shut-down file system alive after we unmount it; mounting the same device again would give
# back that read-only file system. A new device is a new file system; the old one, read-only
# for good, writes nothing.
LOOPS=()
# Unmounted (lazily: tlsguard, stopped in lib.sh's cleanup, may hold files) and the loop
# devices released (each goes when its last user does), then lib.sh's cleanup.
trap 'rc=$?; set +e; umount -l "$FS" 2>/dev/null; for l in "${LOOPS[@]}"; do losetup -d "$l"; done 2>/dev/null; (exit $rc); e2e_cleanup' EXIT
DB=$FS/tlsguard.db

fs_mount() {
    local loop
    loop=$(losetup --find --show "$IMG") || fail "no free loop device"
    LOOPS+=("$loop")
    mount -o errors=remount-ro "$loop" "$FS" || fail "cannot mount $loop ($IMG) on $FS"
    chmod 755 "$FS"
}

# fs_readonly: commits so far are made durable (the kernel drops dirty pages of a file system
# it has shut down: that loss is the file system's, not tlsguard's), then the error.
fs_readonly() {
    local dev
    sync -f "$FS"
    dev=$(findmnt -no SOURCE "$FS") || fail "$FS is not mounted"
    echo 1 >"/sys/fs/ext4/${dev##*/}/trigger_fs_error" || fail "cannot trigger an ext4 error on $dev"
    ! touch "$FS/probe" 2>/dev/null || fail "the file system is still writable after the error"
}

# fs_back: unmounts (waiting until tlsguard has let go of the files) and mounts the image again.
fs_back() {
    local i
    for ((i = 0; i < 100; i++)); do
        umount "$FS" 2>/dev/null && break
        sleep 0.2
    done
    [ "$i" -lt 100 ] || fail "the read-only file system stays busy: tlsguard keeps the database open"
    losetup -d "${LOOPS[-1]}" 2>/dev/null
    fs_mount
    touch "$FS/probe" || fail "the file system is not writable after mounting it again"
    rm -f "$FS/probe"
}

# ==================================================================== (a) on_db_error=accept
fs_mount
start_all
load pre --count 5 --prefix ro-pre --from pre%d@x.example
sql_is "SELECT count(*), sum(ended_at IS NOT NULL) FROM sessions" "5|5" "writable: first 5 sessions recorded and closed"
mark=$(log_lines)
fs_readonly
pass "the database's file system is read-only (ext4 error, errors=remount-ro)"
load ro --count 30 --concurrency 5 --prefix ro --from ro%d@x.example --deadline 100
expect_load ro 30
[ "$(load_count ro accepted)" = 30 ] ||
    fail "accept: $(load_count ro accepted) of 30 accepted while read-only: $(awk -F'\t' '$2 != "accepted"' "$E2E/ro.log" | head -n 3)"
pass "on_db_error=accept: all 30 accepted while the database is read-only"
wait_sink ro 30 60
pass "accept: and delivered"
line=$(wait_log_after "$mark" 15 "database write failed") || fail "accept: no failed write logged within 15 s"
queued=$(printf '%s\n' "$line" | sed -n -E 's/.*database write failed \(disk I\/O error\): ([0-9]+) records queued, retrying.*/\1/p')
[ "${queued:-0}" -gt 0 ] || fail "accept: the failure is not logged as a disk I/O error with a count: $line"
pass "accept: failure logged: ${line#*: }"
line=$(wait_log_after "$mark" 15 "database write failed (attempt to write a readonly database)") ||
    fail "accept: the database opened again is not reported read-only"
pass "accept: then: ${line#*: }"
[ "$(db_count messages)|$(db_count sessions)" = "5|5" ] ||
    fail "accept: rows written while read-only: messages|sessions = $(db_count messages)|$(db_count sessions)"
pass "accept: nothing written while read-only"
kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died with the database read-only"
mark=$(log_lines)
fs_back
pass "the file system is mounted read-write again"
wait_recovered "$mark" 30
[ "$WRITTEN|$MORE" = "150|0" ] ||
    fail "accept: recovery wrote '$WRITTEN' queued records with '$MORE' more queued, want 150 (30 x 5) and 0"
pass "accept: the 150 queued records written"
check_recorded ro accepted
pass "accept: each of the 30 messages recorded exactly once with its queue id, outcome and recipient"
sql_is "SELECT count(*), sum(ended_at IS NOT NULL), sum(messages) FROM sessions" "35|35|35" \
    "accept: every session written once, closed, with its message count"
sql_is "PRAGMA integrity_check" ok "accept: database intact"

# ================================================================== (b) on_db_error=tempfail
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
write_conf on_db_error=tempfail
start_tlsguard
load tf-before --count 1 --prefix ro-tf-before --from before%d@t.example
# Its records must be on disk before the file system goes read-only (a count of open sessions
# would be 0 before anything is written, too slow under valgrind).
sql_is "SELECT count(*) FROM messages m JOIN sessions s ON s.id = m.session_id
        WHERE m.mail_from = 'before1@t.example' AND m.outcome = 'accepted' AND s.ended_at IS NOT NULL" 1 \
    "tempfail: writable, the first message and its closed session written"
mark=$(log_lines)
fs_readonly
load tf-first --count 1 --prefix ro-tf-first --from tffirst%d@x.example
[ "$(load_count tf-first accepted)" = 1 ] || fail "tempfail: the message before the first failed write was not accepted"
pass "tempfail: the message sent before the writer has failed is accepted"
wait_log_after "$mark" 10 "database write failed" >/dev/null || fail "tempfail: no failed write logged within 10 s"
load tf --count 20 --concurrency 5 --prefix ro-tf --from tf%d@x.example --deadline 60
MARK=$mark expect_deferred_at_mail tf 20
sleep 1 # the sessions' close records
mark=$(log_lines)
fs_back
wait_recovered "$mark" 30
[ "$WRITTEN|$MORE" = "65|0" ] ||
    fail "tempfail: recovery wrote '$WRITTEN' queued records with '$MORE' more queued, want 65 (5 + 20 x 3) and 0"
pass "tempfail: the 65 queued records written"
load_field tf deferred 1 >"$E2E/tf.nums"
load tf-again --only "$E2E/tf.nums" --concurrency 5 --prefix ro-tf --from tf%d@x.example --deadline 60
[ "$(load_count tf-again accepted)" = 20 ] ||
    fail "tempfail: $(load_count tf-again accepted) of 20 accepted after the file system came back"
pass "tempfail: the 20 deferred messages, sent again, are accepted"
wait_sink ro-tf 20 60
[ -z "$(sink_markers ro-tf | awk '$2 != 1')" ] || fail "tempfail: a message delivered twice"
sql_is "SELECT outcome, count(*), count(DISTINCT mail_from) FROM messages WHERE mail_from LIKE 'tf%'
        GROUP BY outcome ORDER BY outcome" "accepted|21|21
refused|20|20" "tempfail: every transaction recorded once: 20 refused, then 20 accepted (+ the first)"
check_recorded tf-again accepted
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NULL" 0 "tempfail: every session closed"
sql_is "PRAGMA integrity_check" ok "tempfail: database intact"
info "took $((SECONDS - T0)) s"
