#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Trust store and environment. A trusted key must be a file nobody but root could have
# written (owner root, not writable by group or others, nor any directory above it); one
# that is not, or that cannot be read, is ignored with a warning and the other keys still
# count. When suture runs with privileges another user handed it (sudo from that user),
# SUTURE_TRUSTED_KEYS, SUTURE_AUDIT_LOG, SUTURE_SIGNING_KEY, SUTURE_FAULT, SUTURE_RUN_DIR
# and the other SUTURE_* variables are ignored, with a note; options still count.
source "$(dirname "$0")/../lib.sh"
require_suture
[ "$(id -u)" = 0 ] || skip "needs root (key ownership is checked against root)"

scenario_prologue exe_func '^iter=[0-9]+ value=1[0-9]{3}$' exe-fix prog
GOOD=$SUTURE_TRUSTED_KEYS
unset SUTURE_TRUSTED_KEYS
mkdir -m 0755 "$T/k"

# refused_with KEYFILE REGEX: apply trusting only KEYFILE is refused, warning REGEX.
refused_with() {
	expect_fail "apply trusting only $1" "$SUTURE" apply -p "$PID" --trusted-key "$1" "$T/exe-fix.suture"
	stderr_mentions "warning: trusted key $1 .*ignored: .*$2" "why the key was ignored"
	stderr_mentions "refused: .*unknown key .*not among 0 trusted keys" "the refusal"
	assert_applied "$PID" ""
}

# 1. A key others may write, one owned by another user, one under a directory others
# may write: each ignored.
cp "$GOOD" "$T/k/open.pem"; chmod 0666 "$T/k/open.pem"
refused_with "$T/k/open.pem" "writable by others"
cp "$GOOD" "$T/k/group.pem"; chmod 0664 "$T/k/group.pem"
refused_with "$T/k/group.pem" "writable by its group"
cp "$GOOD" "$T/k/nobody.pem"; chown 65534 "$T/k/nobody.pem"
refused_with "$T/k/nobody.pem" "owned by uid 65534"
mkdir -m 0777 "$T/k/shared"
cp "$GOOD" "$T/k/shared/key.pem"
refused_with "$T/k/shared/key.pem" "directory $T/k/shared is writable by others"
# a symlink is judged by what it leads to
ln -s "$T/k/open.pem" "$T/k/link.pem"
refused_with "$T/k/link.pem" "writable by others"

# 2. A missing key and a garbage key before the good one: warnings, and the good key
# still verifies the patch.
printf 'not a key\n' >"$T/k/garbage.pem"
sut "apply with a bad key among good ones" apply -p "$PID" --trusted-key "$T/k/garbage.pem" \
	--trusted-key "$T/k/nosuch.pem" --trusted-key "$GOOD" "$T/exe-fix.suture"
grep -q "warning: trusted key $T/k/garbage.pem .*ignored" "$T/last.err" || fail "no warning for the garbage key"
grep -q "warning: trusted key $T/k/nosuch.pem .*ignored" "$T/last.err" || fail "no warning for the missing key"
assert_applied "$PID" exe-fix
sut "revert" revert -p "$PID" exe-fix

# 3. Under sudo from another user the environment is ignored, with a note.
export SUDO_UID=1000
SUTURE_TRUSTED_KEYS=$GOOD expect_fail "apply trusting a key through the environment under sudo" \
	"$SUTURE" apply -p "$PID" --audit-log "$T/opt.jsonl" "$T/exe-fix.suture"
stderr_mentions "note: running with privileges handed over by uid 1000; ignoring .*SUTURE_TRUSTED_KEYS" \
	"the ignored variable"
stderr_mentions "refused: .*not among 0 trusted keys" "the refusal"
assert_applied "$PID" ""
# the refusal is in the trail named by the option
jq -e -s '.[-1].action == "refuse" and (.[-1].ok | not) and .[-1].sudo_uid == 1000' "$T/opt.jsonl" \
	>/dev/null || { cat "$T/opt.jsonl" >&2; fail "the refusal is not in the --audit-log trail"; }

# options still count; SUTURE_AUDIT_LOG, SUTURE_FAULT, SUTURE_RUN_DIR do not
before=$(nlines "$SUTURE_AUDIT_LOG" 2>/dev/null || echo 0)
SUTURE_FAULT=frozen SUTURE_RUN_DIR=$T/no/such/dir sut "apply under sudo with options" \
	apply -p "$PID" --trusted-key "$GOOD" --audit-log "$T/opt.jsonl" "$T/exe-fix.suture"
grep -q "ignoring.*SUTURE_FAULT.*SUTURE_RUN_DIR\|ignoring.*SUTURE_RUN_DIR.*SUTURE_FAULT" "$T/last.err" ||
	{ cat "$T/last.err" >&2; fail "the note does not list SUTURE_FAULT and SUTURE_RUN_DIR"; }
assert_applied "$PID" exe-fix
after=$(nlines "$SUTURE_AUDIT_LOG" 2>/dev/null || echo 0)
[ "$before" = "$after" ] || fail "SUTURE_AUDIT_LOG was written under sudo"
jq -e -s '.[-1].action == "apply" and .[-1].ok and .[-1].sudo_uid == 1000 and .[-1].uid == 0' \
	"$T/opt.jsonl" >/dev/null || { cat "$T/opt.jsonl" >&2; fail "the apply is not in the --audit-log trail"; }
sut "revert under sudo" revert -p "$PID" --audit-log "$T/opt.jsonl" exe-fix
assert_applied "$PID" ""

# suture build does not sign with SUTURE_SIGNING_KEY under sudo
sut "build under sudo" build --src "$S" --diff "$S/fix.diff" --target prog -o "$T/sudo.suture" --id sudo-fix
sut "inspect" inspect --json "$T/sudo.suture"
jq -e '.signature.signed == false' "$T/last.out" >/dev/null || fail "build signed with the environment's key under sudo"

# 4. sudo by root itself (SUDO_UID=0) hands nothing over: the environment counts.
export SUDO_UID=0
SUTURE_TRUSTED_KEYS=$GOOD sut "apply with SUDO_UID=0" apply -p "$PID" "$T/exe-fix.suture"
grep -q "note: running with privileges" "$T/last.err" && fail "SUDO_UID=0 was taken for another user"
assert_applied "$PID" exe-fix
sut "revert" revert -p "$PID" exe-fix
assert_alive "$PID"
