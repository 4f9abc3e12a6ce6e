#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# suture report: the auditor's document from a real trail (apply, revert, refusal) and the
# live state. The rollback plan it prints must work when run; a tampered trail is stated at
# the top; text from processes is escaped in HTML; the HTML renders in headless Chromium.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario exe_func
build_patch exe-fix "$S/fix.diff" prog
mkdir -p "$T/store"
cp "$T/exe-fix.suture" "$T/store/"
export SUTURE_PATCH_DIRS=$T/store
HOSTILE='<i>&x'
cp "$S/prog" "$S/$HOSTILE"
start_bg "$T/out1" "$S/prog"
A=$BG_PID
start_bg "$T/out2" "$S/$HOSTILE"
B=$BG_PID
wait_for_line "$T/out1" '^iter=[0-9]+ value=1[0-9]{3}$'
wait_for_line "$T/out2" '^iter=[0-9]+ value=1[0-9]{3}$'

sut "apply to A" apply -p "$A" "$T/exe-fix.suture"
sut "apply to B" apply -p "$B" "$T/exe-fix.suture"
sut "revert B" revert -p "$B" exe-fix
"$SUTURE" keygen "$T/other.key" "$T/other.pub" 2>/dev/null
SUTURE_SIGNING_KEY=$T/other.key sut "build signed by another key" build --src "$S" \
	--diff "$S/fix.diff" --target prog -o "$T/other.suture" --id other-fix
expect_fail "apply of an untrusted patch" "$SUTURE" apply -p "$B" "$T/other.suture"

sut "report md" report -o "$T/r.md"
R=$T/r.md
grep -q 'hash chain intact: 4 lines' "$R" || { cat "$R" >&2; fail "the chain check is not stated"; }
keyid=$("$SUTURE" inspect --json "$T/exe-fix.suture" 2>/dev/null | jq -r '.signer // .sig_key_id // empty')
grep -Eq '^\| [0-9a-f]{16} \| .*test\.pub\.pem' "$R" || fail "the trusted key and its id are not listed"
grep -Eq '^\| exe-fix \| 1 \|.*\| [0-9a-f]{16} \| .*\| prog \| [0-9a-f]{40}' "$R" ||
	{ cat "$R" >&2; fail "the store patch (id, signer, functions, target, build) is not listed"; }
grep -Eq "^\| 1 \| [0-9T:-]+Z \| apply \| ok \| $A \| prog \| exe-fix \| [0-9a-f]{16} \| 1 \| [0-9]+ \|" "$R" ||
	{ cat "$R" >&2; fail "the apply to A (with its freeze time) is not listed"; }
grep -Eq "^\| 3 \| .* \| revert \| ok \| $B \|" "$R" || fail "the revert of B is not listed"
grep -Eq "^\| 4 \| .* \| refuse \| refused \| +\| +\| other-fix \| .*unknown key.*other\.suture" "$R" ||
	{ cat "$R" >&2; fail "the refusal is not listed with its reason"; }
grep -Eq "^\| $A \| prog \| exe-fix \| [0-9a-f]{16} \| audit trail and registry \| live \(confirmed in the process's registry, proved by verify\)" "$R" ||
	{ sed -n '/Patched now/,/Still exposed/p' "$R" >&2; fail "A is not shown patched and proved"; }
grep -Eq "^\| $B \| \\\\<i\\\\>&x \| .* \| exe-fix \|" "$R" || { sed -n '/Still exposed/,$p' "$R" >&2; fail "B is not shown exposed"; }
grep -Eq "^\| $A \| .* \| exe-fix \|" <(sed -n '/Still exposed/,/Rollback/p' "$R") && fail "A shown exposed"
# The report covers every process of the machine (other tests' too): only this test's
# processes are looked at, and only their commands are run.
mine() { grep -E "^suture revert -p ($A|$B|${C:-$A}) " || true; }
plan=$(sed -n '/^## Rollback plan/,$p' "$R" | mine)
[ "$plan" = "suture revert -p $A exe-fix" ] || { echo "$plan" >&2; fail "the rollback plan is not the one command"; }

# a patch applied with the trail off is still found: in the registry, proved by verify
start_bg "$T/out3" "$S/prog"
C=$BG_PID
wait_for_line "$T/out3" '^iter=[0-9]+ value=1[0-9]{3}$'
sut "apply to C without a trail" apply --audit-log off -p "$C" "$T/exe-fix.suture"
sut "report md" report -o "$T/r2.md"
grep -Eq "^\| $C \| prog \| exe-fix \| [0-9a-f]{16} \| registry only \(not in this trail\) \| live \(confirmed in the process's registry, proved by verify\)" "$T/r2.md" ||
	{ sed -n '/Patched now/,/Still exposed/p' "$T/r2.md" >&2; fail "C's patch, applied with the trail off, is not shown patched"; }
grep -q "^suture revert -p $C exe-fix" "$T/r2.md" || fail "C is not in the rollback plan"
# a record verify cannot prove (its patch file is no longer in the store) says so, and the
# process counts as patched no more than it is proved
mv "$T/store/exe-fix.suture" "$T/exe-fix.moved"
sut "report md without the store patch" report -o "$T/r3.md"
grep -Eq "^\| $A \| prog \| exe-fix \| .* \| live in the registry, NOT proved by verify: .*no trusted patch file" "$T/r3.md" ||
	{ sed -n '/Patched now/,/Still exposed/p' "$T/r3.md" >&2; fail "an unproved patch is not shown as such"; }
mv "$T/exe-fix.moved" "$T/store/exe-fix.suture"

# --since leaves the older events out
sut "report since the future" report --since 2999-01-01
grep -q 'No transaction in the trail' "$T/last.out" || fail "--since did not filter"
grep -q "suture revert -p $A exe-fix" "$T/last.out" || fail "--since changed what is live"

# HTML: escaped, self-contained
sut "report html" report --format html -o "$T/r.html"
grep -q '&lt;i&gt;&amp;x' "$T/r.html" || fail "the hostile process name is not escaped"
grep -q '<i>&x' "$T/r.html" && fail "the hostile process name reached the HTML raw"
grep -qi '<script\|src=\|href=' "$T/r.html" && fail "the HTML is not self-contained"

# the plan works as written
eval "$("$SUTURE" report | sed -n '/^## Rollback plan/,$p' | mine | sed "s|^suture|\"$SUTURE\"|")"
[ -z "$(applied_ids "$A")" ] || fail "the rollback plan left a patch in A"
[ -z "$(applied_ids "$C")" ] || fail "the rollback plan left a patch in C"
[ -z "$("$SUTURE" report | sed -n '/^## Rollback plan/,$p' | mine)" ] ||
	fail "after the plan ran, something is still live in this test's processes"

# a tampered trail is stated at the top, and the exit status says so
sed -i '2s/"ok":true/"ok":false/' "$SUTURE_AUDIT_LOG"
"$SUTURE" report -o "$T/bad.md" 2>/dev/null && fail "report of a broken chain exited 0"
sed -n 3p "$T/bad.md" | grep -q 'CHAIN BROKEN at line 3' || { head -5 "$T/bad.md" >&2; fail "the broken chain is not stated at the top"; }

# render in headless Chromium and look at the picture
if command -v chromium >/dev/null; then
	prof=$(mktemp -d)
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$prof" \
		--screenshot="$T/r.png" --window-size=1200,2000 "file://$T/r.html" >"$T/chr.log" 2>&1
	rm -rf "$prof"
	[ -s "$T/r.png" ] || { cat "$T/chr.log" >&2; fail "chromium rendered nothing"; }
	python3 - "$T/r.png" <<'PY' || fail "the rendered report looks blank"
import sys, zlib, struct
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n'
w, h = struct.unpack('>II', d[16:24]); bpp = {2: 3, 6: 4}[d[25]]
idat = b''; i = 8
while i < len(d):
    n, = struct.unpack('>I', d[i:i+4]); t = d[i+4:i+8]
    if t == b'IDAT': idat += d[i+8:i+8+n]
    i += 12 + n
raw = zlib.decompress(idat); stride = w * bpp + 1
cols = set(); prev = bytearray(w * bpp)
for y in range(h):
    f = raw[y*stride]; line = bytearray(raw[y*stride+1:(y+1)*stride])
    for x in range(len(line)):
        a = line[x-bpp] if x >= bpp else 0; b = prev[x]; c = prev[x-bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, w, 3): cols.add(bytes(line[x*bpp:x*bpp+3]))
# the header's blue, the green chain banner, table shading and text: many colours
blue = any(abs(c[0]-0x12) < 8 and abs(c[1]-0x3a) < 8 and abs(c[2]-0x6b) < 8 for c in cols)
print(len(cols), blue)
assert len(cols) > 50 and blue
PY
else
	note "SKIP (render): chromium is not installed (scripts/deps.sh installs it)"
fi
stop_bg "$A"; stop_bg "$B"
