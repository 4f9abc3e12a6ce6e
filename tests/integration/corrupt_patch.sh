#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input fails cleanly and touches nothing: damaged patch files (empty, truncated,
# bytes flipped in the ELF and section headers, not ELF at all) are refused by inspect and
# apply; a PID that does not exist is refused with a message naming it; a target that
# exits or is killed while suture works on it ends in success or a clean error, never a
# crash or a hang of suture.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue corrupt_patch '^iter=2 value=1002$' good prog
sut "inspect of the intact patch" inspect "$T/good.suture" --json
jq -e '.id == "good"' "$T/last.out" >/dev/null || fail "inspect --json of the intact patch: $(cat "$T/last.out")"
maps_before=$(cat "/proc/$PID/maps")

# overwrite FILE OFFSET COUNT: set COUNT bytes at OFFSET to 0xff.
overwrite() { head -c "$3" /dev/zero | tr '\0' '\377' | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# le64 FILE OFFSET: the little-endian 64-bit number at OFFSET.
le64() { od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }

size=$(stat -c %s "$T/good.suture")
shoff=$(le64 "$T/good.suture" 40)
[ "$shoff" -gt 0 ] && [ "$shoff" -lt "$size" ] || fail "the patch is not an ELF file with section headers"
bad() { cp "$T/good.suture" "$T/bad-$1.suture"; echo "$T/bad-$1.suture"; }

: >"$T/bad-empty.suture"
head -c $((size / 2)) "$T/good.suture" >"$T/bad-half.suture"
head -c 64 "$T/good.suture" >"$T/bad-header-only.suture"
# When the section headers end the file (as they usually do), its last byte is theirs.
shnum=$(od -An -t u2 -j 60 -N 2 "$T/good.suture" | tr -d ' ')
[ $((shoff + shnum * 64)) -ne "$size" ] || head -c $((size - 1)) "$T/good.suture" >"$T/bad-last-byte.suture"
overwrite "$(bad magic)" 1 3                         # "ELF" of the identification
overwrite "$(bad shoff)" 40 8                        # e_shoff: section headers past the end
overwrite "$(bad shnum)" 60 2                        # e_shnum: 65535 sections
overwrite "$(bad shstrndx)" 62 2                     # e_shstrndx: no such section
[ "$shnum" -ge 3 ] || fail "the patch has only $shnum sections"
overwrite "$(bad sections)" $((shoff + 64)) 128      # two section headers: offsets, sizes
echo "this is not a patch" >"$T/bad-text.suture"

# refused WHAT CMD...: CMD must fail by itself, saying why: not succeed, not crash (a
# signal), not hang (timeout's 124).
refused() {
	local what=$1 rc=0; shift
	timeout 30 "$@" >"$T/last.out" 2>"$T/last.err" || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: expected failure, got success"
	[ "$rc" -lt 124 ] || { cat "$T/last.err" >&2; fail "$what: ended with status $rc (a crash or a hang)"; }
	[ -s "$T/last.err" ] || fail "$what: failed without saying why"
}
for f in "$T"/bad-*.suture; do
	what=$(basename "$f" .suture)
	refused "inspect of $what" "$SUTURE" inspect "$f"
	refused "inspect --json of $what" "$SUTURE" inspect "$f" --json
	refused "apply of $what" "$SUTURE" apply -p "$PID" "$f"
done

# With signing (the test's key, see setup_signing): a patch whose replacement code was
# changed after signing, an unsigned patch and one signed by an untrusted key are refused.
if [ -n "${SUTURE_SIGNING_KEY:-}" ]; then
	# The first carried code section (.text*) of the patch, from its section headers.
	text_off=0 text_size=0
	while read -r name _ _ off size _; do
		case $name in .text*) [ $((16#$size)) -gt 0 ] || continue
			text_off=$((16#$off)) text_size=$((16#$size)); break ;; esac
	done < <(readelf -SW "$T/good.suture" | sed -n 's/^ *\[ *[0-9]*\] *//p')
	[ "$text_size" -gt 0 ] || fail "no code section in the patch: $(readelf -SW "$T/good.suture")"
	cp "$T/good.suture" "$T/flipped-code.suture"
	byte=$(od -An -t u1 -j $((text_off + text_size / 2)) -N 1 "$T/good.suture" | tr -d ' ')
	printf "\\$(printf %03o $((byte ^ 0x01)))" |
		dd of="$T/flipped-code.suture" bs=1 seek=$((text_off + text_size / 2)) conv=notrunc status=none
	cmp -s "$T/good.suture" "$T/flipped-code.suture" && fail "the byte flip changed nothing"
	refused "apply of a patch whose code changed after signing" \
		"$SUTURE" apply -p "$PID" "$T/flipped-code.suture"
	stderr_mentions 'signature' "the bad signature"

	# build signs only when it has a key: build without one.
	env -u SUTURE_SIGNING_KEY "$SUTURE" build --src "$S" --diff "$S/fix.diff" --target prog \
		-o "$T/unsigned.suture" --id unsigned 2>"$T/last.err" ||
		{ cat "$T/last.err" >&2; fail "build of an unsigned patch failed"; }
	refused "apply of an unsigned patch" "$SUTURE" apply -p "$PID" "$T/unsigned.suture"
	stderr_mentions 'sign' "the missing signature"

	"$SUTURE" keygen "$T/keys/other.key.pem" "$T/keys/other.pub.pem" 2>/dev/null ||
		fail "keygen of a second key failed"
	SUTURE_SIGNING_KEY=$T/keys/other.key.pem "$SUTURE" build --src "$S" --diff "$S/fix.diff" \
		--target prog -o "$T/untrusted.suture" --id untrusted 2>"$T/last.err" ||
		{ cat "$T/last.err" >&2; fail "build signed with a second key failed"; }
	refused "apply of a patch signed by an untrusted key" "$SUTURE" apply -p "$PID" "$T/untrusted.suture"
	stderr_mentions 'key|trust' "the untrusted key"
fi

assert_alive "$PID"
assert_applied "$PID" ""
[ "$(cat "/proc/$PID/maps")" = "$maps_before" ] || fail "a refused patch changed the mappings"
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'

# A PID that does not exist.
nopid=$(($(cat /proc/sys/kernel/pid_max) - 1))
while [ -e "/proc/$nopid" ]; do nopid=$((nopid - 1)); done
expect_fail "apply to PID $nopid, which does not exist" "$SUTURE" apply -p "$nopid" "$T/good.suture"
stderr_mentions "$nopid" "the missing PID"
expect_fail "status of PID $nopid" "$SUTURE" status -p "$nopid"
stderr_mentions "$nopid" "the missing PID"

# Targets that die during the apply: on their own (exit after MS), or killed at a moment
# that moves through the transaction. Either outcome is fine if it is clean.
outcomes=""
for ms in 20 40 60 80 100 150; do
	start_bg "$T/short.out" "$S/prog" "$ms"
	sleep 0.015
	rc=0; timeout 30 "$SUTURE" apply -p "$BG_PID" "$T/good.suture" >/dev/null 2>"$T/last.err" || rc=$?
	[ "$rc" -lt 124 ] || fail "apply to a process exiting after $ms ms: status $rc (a crash or a hang)"
	[ "$rc" -eq 0 ] || [ -s "$T/last.err" ] || fail "apply to an exiting process failed without saying why"
	outcomes+=" $rc"
	wait "$BG_PID" 2>/dev/null || true
done
for delay in 0 0.002 0.005 0.01 0.02 0.05; do
	start_bg "$T/victim.out" "$S/prog"
	VICTIM=$BG_PID
	wait_for_line "$T/victim.out" '^iter=0 '
	timeout 30 "$SUTURE" apply -p "$VICTIM" "$T/good.suture" >/dev/null 2>"$T/last.err" &
	APPLY=$!
	sleep "$delay"
	kill -9 "$VICTIM"
	rc=0; wait "$APPLY" 2>/dev/null || rc=$?
	[ "$rc" -lt 124 ] || fail "apply to a process killed after ${delay}s: status $rc (a crash or a hang)"
	[ "$rc" -eq 0 ] || [ -s "$T/last.err" ] || fail "apply to a killed process failed without saying why"
	outcomes+=" $rc"
	wait "$VICTIM" 2>/dev/null || true
done
note "exit statuses of apply to dying targets:$outcomes"

# None of that disturbed the first process.
assert_alive "$PID"
assert_applied "$PID" ""
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
