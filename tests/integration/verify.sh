#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# suture verify proves that a patched process runs exactly the signed code, and names the
# process, patch and function of every mismatch: a byte changed in the patch image (written
# through /proc/PID/mem by the test), a function entry whose jump was taken out, a process
# mapping the patched build without the patch, a record with no trusted patch file.
# It never writes into the processes.
source "$(dirname "$0")/../lib.sh"
require_suture
export SUTURE_PATCH_DIRS=$T/store # the machine's store holds nothing for these builds

build_scenario lib_func
build_patch vfy-fix "$S/fix.diff" libfoo.so --cve CVE-2026-00002
start_bg "$T/a.out" "$S/prog"
A=$BG_PID
start_bg "$T/b.out" "$S/prog"
B=$BG_PID
wait_for_line "$T/a.out" '^n=[1-9] price=[0-9]+$'
wait_for_line "$T/b.out" '^n=[1-9] price=[0-9]+$'
sut "apply to A" apply -p "$A" "$T/vfy-fix.suture"
settled_awk "$T/a.out" '[= ]' '$4 == $2 * 9'

# verify JSON: VERIFY_RC and $T/v.json
verify_json() {
	set +e
	"$SUTURE" verify "$@" --json >"$T/v.json" 2>"$T/v.err"
	VERIFY_RC=$?
	set -e
	jq -e . "$T/v.json" >/dev/null || { cat "$T/v.err" >&2; fail "verify printed invalid JSON"; }
}
issues_of() { jq -r --argjson p "$1" '.processes[] | select(.pid == $p) | .issues[] | "\(.kind) \(.patch) \(.function) \(.message)"' "$T/v.json"; }

# 1. the patched process is proved, with the image's hash
verify_json -p "$A" --patch "$T/vfy-fix.suture"
[ "$VERIFY_RC" = 0 ] || { cat "$T/v.err" >&2; fail "verify of a correctly patched process exited $VERIFY_RC"; }
jq -e --argjson p "$A" '.processes[] | select(.pid == $p) | .patches[0] |
	.id == "vfy-fix" and .verified and (.image_sha256 | test("^[0-9a-f]{64}$"))' "$T/v.json" >/dev/null ||
	fail "verify does not report vfy-fix proved in $A: $(cat "$T/v.json")"
sut "human verify" verify -p "$A" --patch "$T/vfy-fix.suture"
grep -Eq "ok +vfy-fix v1" "$T/last.out" || { cat "$T/last.out" >&2; fail "human output lacks the proved patch"; }

# 2. without the patch file nothing proves the record
verify_json -p "$A"
[ "$VERIFY_RC" = 1 ] || fail "verify without the patch file exited $VERIFY_RC"
issues_of "$A" | grep -q '^unknown-patch vfy-fix' || fail "no unknown-patch finding: $(issues_of "$A")"

# 3. B maps the same build without the patch: missing, naming B (store patch, and --all-style
#    cross check from A's verified record)
mkdir -p "$T/store" && cp "$T/vfy-fix.suture" "$T/store/"
verify_json -p "$A" -p "$B"
[ "$VERIFY_RC" = 1 ] || fail "verify with an unpatched process of the patched build exited $VERIFY_RC"
issues_of "$B" | grep -q '^missing-patch vfy-fix' || fail "B is not reported missing the patch: $(cat "$T/v.json")"
[ -z "$(issues_of "$A")" ] || fail "A should have no finding: $(issues_of "$A")"
grep -q "pid $B (prog): vfy-fix: .*without the patch" "$T/v.err" || { cat "$T/v.err" >&2; fail "stderr does not name B"; }
sut "apply to B" apply -p "$B" "$T/vfy-fix.suture"
verify_json -p "$A" -p "$B"
[ "$VERIFY_RC" = 0 ] || { cat "$T/v.err" >&2; fail "both patched: verify exited $VERIFY_RC"; }

# addresses from status: the function entry, its replacement, the image
sut "status" status -p "$A" --json
read -r FUNC REPL REGION < <(jq -r '.processes[0].objects[0].patches[0] |
	"\(.functions[0].address) \(.functions[0].replacement) \(.region)"' "$T/last.out")
[ -n "$REGION" ] || fail "status shows no region"
maps_before=$(sha256sum <"/proc/$B/maps")

# poke ADDR HEXBYTES into process PID's memory (the test plays the attacker)
poke() {
	python3 -c 'import sys
f = open("/proc/%s/mem" % sys.argv[1], "r+b", buffering=0)
f.seek(int(sys.argv[2], 16)); f.write(bytes.fromhex(sys.argv[3]))' "$@"
}
peek() {
	python3 -c 'import sys
f = open("/proc/%s/mem" % sys.argv[1], "rb", buffering=0)
f.seek(int(sys.argv[2], 16)); print(f.read(int(sys.argv[3])).hex())' "$@"
}

# 4. one byte of the replacement code changed in A's image: image mismatch naming foo_rate
orig=$(peek "$A" "$REPL" 1)
poke "$A" "$(printf '%x' $((REPL + 0)))" "$(printf '%02x' $(( (0x$orig + 1) & 255 )))"
verify_json -p "$A" -p "$B" --patch "$T/vfy-fix.suture"
[ "$VERIFY_RC" = 1 ] || fail "verify missed a modified patch image (exit $VERIFY_RC)"
issues_of "$A" | grep -q '^image-mismatch vfy-fix foo_rate ' || fail "no image-mismatch naming foo_rate: $(issues_of "$A")"
[ -z "$(issues_of "$B")" ] || fail "B is untouched but reported: $(issues_of "$B")"
grep -q "pid $A (prog): vfy-fix: foo_rate: patch code differs" "$T/v.err" || { cat "$T/v.err" >&2; fail "stderr does not name process and function"; }
poke "$A" "$(printf '%x' "$REPL")" "$orig"
verify_json -p "$A" --patch "$T/vfy-fix.suture"
[ "$VERIFY_RC" = 0 ] || fail "restored image not proved: $(issues_of "$A")"

# 5. the jump taken out of B's foo_rate (the entry's original bytes put back)
orig_entry=$(peek "$A" "$FUNC" 5) # A still has the jump: read the original from the library
lib_entry=$(python3 - "$S/libfoo.so" <<'PY'
import subprocess, sys
out = subprocess.run(["nm", "-D", sys.argv[1]], capture_output=True, text=True).stdout
addr = [int(l.split()[0], 16) for l in out.splitlines() if l.endswith(" foo_rate")][0]
data = open(sys.argv[1], "rb").read()
# shared library built by the scenario: text vaddr == file offset
print(data[addr:addr + 5].hex())
PY
)
[ "${orig_entry:0:2}" = e9 ] || fail "A's foo_rate entry holds no jump ($orig_entry)"
BFUNC=$(jq -r '.processes[0].objects[0].patches[0].functions[0].address' <("$SUTURE" status -p "$B" --json))
poke "$B" "$(printf '%x' "$BFUNC")" "$lib_entry"
verify_json -p "$A" -p "$B" --patch "$T/vfy-fix.suture"
[ "$VERIFY_RC" = 1 ] || fail "verify missed a missing jump (exit $VERIFY_RC)"
issues_of "$B" | grep -q '^jump-mismatch vfy-fix foo_rate .*not the jump' || fail "no jump-mismatch naming foo_rate: $(issues_of "$B")"
settled_awk "$T/b.out" '[= ]' '$4 == $2 * 7'

# read-only: verify changed nothing in the processes' mappings
[ "$(sha256sum <"/proc/$B/maps")" = "$maps_before" ] || fail "verify changed B's mappings"
assert_alive "$A"
assert_alive "$B"
