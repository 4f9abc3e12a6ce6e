#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# verify after lazy binding: libord.so is linked with -z lazy and the fix calls strverscmp
# through the library's own GOT slot, unbound when the patch is applied. The first patched
# call makes the dynamic linker bind the slot; the patch image still holds what the slot held
# at apply time. verify must still prove the patch (both values are legitimate for that slot),
# and still report real tampering: a changed code byte, and the reference to strverscmp
# redirected to another function.
source "$(dirname "$0")/../lib.sh"
require_suture
export SUTURE_PATCH_DIRS=$T/store
mkdir -p "$T/store"

build_scenario verify_lazy
build_patch lazy-fix "$S/fix.diff" libord.so --cve CVE-2026-00003
start_bg "$T/out" "$S/prog"
P=$BG_PID
wait_for_line "$T/out" '^i=1[0-9] cmp=-1$'

# peek PID ADDR LEN / poke PID ADDR HEX: the test reads and plays the attacker
peek() {
	python3 -c 'import sys
f = open("/proc/%s/mem" % sys.argv[1], "rb", buffering=0)
f.seek(int(sys.argv[2], 16)); print(f.read(int(sys.argv[3])).hex())' "$@"
}
poke() {
	python3 -c 'import sys
f = open("/proc/%s/mem" % sys.argv[1], "r+b", buffering=0)
f.seek(int(sys.argv[2], 16)); f.write(bytes.fromhex(sys.argv[3]))' "$@"
}
# slot_value: the 8-byte value of libord's strverscmp GOT slot, as hex address
bias=$(awk '/\/libord\.so$/ { split($1, a, "-"); print a[1]; exit }' "/proc/$P/maps")
[ -n "$bias" ] || fail "prog does not map libord.so"
slot_off=$(readelf -rW "$S/libord.so" | awk '/R_X86_64_JUMP_SLOT/ && /strverscmp/ { print $1; exit }')
[ -n "$slot_off" ] || fail "libord.so has no lazy (JUMP_SLOT) relocation for strverscmp"
slot=$(printf '%x' $((0x$bias + 0x$slot_off)))
slot_value() { python3 -c 'import sys; print("%x" % int.from_bytes(bytes.fromhex(sys.argv[1]), "little"))' "$(peek "$P" "$slot" 8)"; }
lib_end=$(awk '/\/libord\.so$/ { split($1, a, "-"); e = a[2] } END { print e }' "/proc/$P/maps")
unbound=$(slot_value)
((0x$unbound >= 0x$bias && 0x$unbound < 0x$lib_end)) ||
	fail "strverscmp's slot is bound before the apply (0x$unbound): the scenario is not lazy"

sut "apply" apply -p "$P" "$T/lazy-fix.suture"
n=$(nlines "$T/out")
wait_for_new_line "$T/out" "$n" '^i=1[0-9] cmp=1$'
bound=$(slot_value)
[ "$bound" != "$unbound" ] || fail "the slot was not bound by the patched calls"
((0x$bound < 0x$bias || 0x$bound >= 0x$lib_end)) || fail "the slot was bound inside libord (0x$bound)"

verify_json() {
	set +e
	"$SUTURE" verify -p "$P" --patch "$T/lazy-fix.suture" --json >"$T/v.json" 2>"$T/v.err"
	VERIFY_RC=$?
	set -e
	jq -e . "$T/v.json" >/dev/null || { cat "$T/v.err" >&2; fail "verify printed invalid JSON"; }
}
issues() { jq -r '.processes[0].issues[] | "\(.kind) \(.function) \(.message)"' "$T/v.json"; }

# 1. bound after the apply: still proved
verify_json
[ "$VERIFY_RC" = 0 ] || fail "verify after lazy binding exited $VERIFY_RC: $(issues)"
jq -e '.processes[0].patches[0].verified' "$T/v.json" >/dev/null || fail "lazy-fix not proved: $(cat "$T/v.json")"

# the references to strverscmp in the image: 8-byte slots and rel32 calls/jumps whose target
# is the unbound or the bound value (one of each kind, when there is one)
sut "status" status -p "$P" --json
read -r REGION REPL < <(jq -r '.processes[0].objects[0].patches[0] | "\(.region) \(.functions[0].replacement)"' "$T/last.out")
size=$(jq -r '.processes[0].objects[0].patches[0].region_size' "$T/last.out")
python3 - "$P" "$REGION" "$size" "$unbound" "$bound" "$bias" >"$T/refs" <<'PY'
import sys
pid, region, size = int(sys.argv[1]), int(sys.argv[2], 0), int(sys.argv[3], 0)
legit = {int(sys.argv[4], 16), int(sys.argv[5], 16)}
other = int(sys.argv[6], 16) + 0x1000  # inside libord's text, not strverscmp
f = open("/proc/%d/mem" % pid, "rb", buffering=0)
f.seek(region)
img = f.read(min(size, 1 << 20))
for off in range(len(img) - 8):
    if int.from_bytes(img[off:off + 8], "little") in legit:
        print("%x 8 %s" % (region + off, other.to_bytes(8, "little").hex()))
        break
for off in range(len(img) - 5):
    if img[off] in (0xe8, 0xe9):
        rel = int.from_bytes(img[off + 1:off + 5], "little", signed=True)
        if region + off + 5 + rel in legit:
            new = other - (region + off + 5)
            print("%x 4 %s" % (region + off + 1, new.to_bytes(4, "little", signed=True).hex()))
            break
PY
[ -s "$T/refs" ] || fail "no reference to strverscmp's slot values found in the patch image"
while read -r a l _; do note "the image refers to strverscmp with $l bytes at 0x$a"; done <"$T/refs"

# The process is stopped while its image is tampered with (the bytes would be run).
kill -STOP "$P"
# 2. a code byte changed: reported
orig=$(peek "$P" "$(printf '%x' "$REPL")" 1)
poke "$P" "$(printf '%x' "$REPL")" "$(printf '%02x' $(((0x$orig + 1) & 255)))"
verify_json
[ "$VERIFY_RC" = 1 ] || fail "verify missed a changed code byte (exit $VERIFY_RC)"
issues | grep -q '^image-mismatch ord_rank ' || fail "no image-mismatch naming ord_rank: $(issues)"
poke "$P" "$(printf '%x' "$REPL")" "$orig"

# 3. each reference to strverscmp redirected elsewhere: reported
while read -r ref_addr ref_len ref_new; do
	saved=$(peek "$P" "$ref_addr" "$ref_len")
	poke "$P" "$ref_addr" "$ref_new"
	verify_json
	[ "$VERIFY_RC" = 1 ] || fail "verify missed the redirected $ref_len-byte reference to strverscmp (exit $VERIFY_RC)"
	issues | grep -q '^image-mismatch ' || fail "no image-mismatch for the redirected reference: $(issues)"
	poke "$P" "$ref_addr" "$saved"
done <"$T/refs"

# 4. restored: proved again
verify_json
[ "$VERIFY_RC" = 0 ] || fail "restored image not proved: $(issues)"
kill -CONT "$P"
n=$(nlines "$T/out")
wait_for_new_line "$T/out" "$n" '^i=1[0-9] cmp=1$'
assert_alive "$P"
