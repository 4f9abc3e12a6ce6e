#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Lock files live in a directory only root can write (/run/suture, 0700), opened without
# following symlinks, with no fallback to a shared directory: an unprivileged user can
# neither hold the lock of a process (blocking its patching) nor make root create or
# truncate a file through a planted symlink. Lock files do not pile up.
source "$(dirname "$0")/../lib.sh"
require_suture
[ "$(id -u)" = 0 ] || skip "needs root (the state directory is root's)"
command -v setpriv >/dev/null || skip "setpriv is needed to act as an unprivileged user"

scenario_prologue exe_func '^iter=[0-9]+ value=1[0-9]{3}$' exe-fix prog

# 1. The default directory: root's, 0700, and empty after the transactions.
sut "apply" apply -p "$PID" "$T/exe-fix.suture"
sut "revert" revert -p "$PID" exe-fix
[ -d /run/suture ] && [ ! -L /run/suture ] || fail "/run/suture was not created"
[ "$(stat -c '%u %a' /run/suture)" = "0 700" ] ||
	fail "/run/suture is $(stat -c '%U %a' /run/suture), want root 700"
[ ! -e "/run/suture/$PID.lock" ] || fail "the lock file of pid $PID was left behind"
[ ! -e "/run/lock/suture.$PID.lock" ] && [ ! -e "/tmp/suture.$PID.lock" ] ||
	fail "a lock file was created in a shared directory"

# 2. An unprivileged user cannot plant anything there (the old /run/lock or /tmp place
# let them hold a lock file open, or plant a symlink to a file root would then truncate).
if setpriv --reuid=65534 --regid=65534 --clear-groups -- \
	sh -c "ln -s /etc/passwd /run/suture/$PID.lock || : > /run/suture/$PID.lock" 2>/dev/null; then
	fail "an unprivileged user could create a file in /run/suture"
fi

# 3. Pre-created wrongly: refused, never repaired, and the process is left untouched.
run=$T/run
mkdir -m 0755 "$run"
SUTURE_RUN_DIR=$run expect_fail "a 0755 state directory" "$SUTURE" apply -p "$PID" "$T/exe-fix.suture"
stderr_mentions "refusing state directory .*mode 0755" "the directory's mode"
[ "$(stat -c %a "$run")" = 755 ] || fail "suture changed the mode of the refused directory"
assert_applied "$PID" ""

chmod 0700 "$run"
chown 65534:65534 "$run"
SUTURE_RUN_DIR=$run expect_fail "a state directory owned by nobody" "$SUTURE" apply -p "$PID" "$T/exe-fix.suture"
stderr_mentions "refusing state directory .*owned by uid 65534" "the directory's owner"
assert_applied "$PID" ""

mkdir -m 0700 "$T/elsewhere"
ln -s "$T/elsewhere" "$T/link"
SUTURE_RUN_DIR=$T/link expect_fail "a symlinked state directory" "$SUTURE" apply -p "$PID" "$T/exe-fix.suture"
stderr_mentions "refusing state directory .*symlink" "the symlink"
[ -z "$(ls -A "$T/elsewhere")" ] || fail "suture wrote through the symlinked directory"
assert_applied "$PID" ""

# 4. A symlink planted as the lock file itself is not followed: nothing is created or
# truncated at its target.
good=$T/good
mkdir -m 0700 "$good"
echo precious >"$T/victim"
ln -s "$T/victim" "$good/$PID.lock"
SUTURE_RUN_DIR=$good expect_fail "a symlink as lock file" "$SUTURE" apply -p "$PID" "$T/exe-fix.suture"
stderr_mentions "lock file" "the lock file"
[ "$(cat "$T/victim")" = precious ] || fail "the symlink's target was truncated or written"
assert_applied "$PID" ""

# 5. A missing directory is created 0700; a lock held elsewhere is waited for, and named.
fresh=$T/fresh
SUTURE_RUN_DIR=$fresh sut "apply with a fresh state directory" apply -p "$PID" "$T/exe-fix.suture"
[ "$(stat -c %a "$fresh")" = 700 ] || fail "the state directory was created $(stat -c %a "$fresh")"
[ -z "$(ls -A "$fresh")" ] || fail "lock files piled up: $(ls "$fresh")"
: >"$fresh/$PID.lock"
chmod 600 "$fresh/$PID.lock"
# one process holds it (exec: no child keeps the descriptor after stop_bg)
bash -c 'exec 9<>"$1"; flock 9; exec sleep 30' holder "$fresh/$PID.lock" &
holder=$!
STARTED_PIDS+=("$holder")
for ((i = 0; i < 100; i++)); do
	flock -n "$fresh/$PID.lock" true 2>/dev/null || break
	sleep 0.05
done
SUTURE_RUN_DIR=$fresh expect_fail "revert while the lock is held" "$SUTURE" revert -p "$PID" --timeout 300 exe-fix
stderr_mentions "another suture .*is working on this process" "the lock holder"
stop_bg "$holder"
SUTURE_RUN_DIR=$fresh sut "revert once the lock is free" revert -p "$PID" exe-fix
[ -z "$(ls -A "$fresh")" ] || fail "lock files piled up: $(ls "$fresh")"
assert_applied "$PID" ""
assert_alive "$PID"
