#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The patch store (in a private root): add verifies and copies, list shows the policy and
# refuses files that are unsigned, signed by an untrusted key, corrupt or misnamed, policy
# edits keep the policy file's comments, remove takes a patch out (a package's patch is
# refused with the reason).
source "$(dirname "$0")/../lib.sh"
require_suture

R=$T/root
build_scenario lib_func
build_patch libfoo-fix "$S/fix.diff" libfoo.so
# an unsigned patch and one signed by a key nobody trusts
SUTURE_SIGNING_KEY= build_patch libfoo-unsigned "$S/fix.diff" libfoo.so
"$SUTURE" keygen "$T/other.key" "$T/other.pub" 2>/dev/null
SUTURE_SIGNING_KEY=$T/other.key build_patch libfoo-stranger "$S/fix.diff" libfoo.so

sut "store add" store add --root "$R" "$T/libfoo-fix.suture"
[ -f "$R/var/lib/suture/patches/libfoo-fix.suture" ] || fail "store add did not copy the patch"
cmp -s "$T/libfoo-fix.suture" "$R/var/lib/suture/patches/libfoo-fix.suture" ||
	fail "the stored file differs from the verified one"
expect_fail "adding it twice" "$SUTURE" store add --root "$R" "$T/libfoo-fix.suture"
stderr_mentions 'already in the store' "the duplicate"
sut "store add --replace" store add --root "$R" --replace "$T/libfoo-fix.suture"

# add refuses what is not signed by a trusted key, and copies nothing
expect_fail "adding an unsigned patch" "$SUTURE" store add --root "$R" "$T/libfoo-unsigned.suture"
stderr_mentions 'unsigned' "the missing signature"
expect_fail "adding an untrusted patch" "$SUTURE" store add --root "$R" "$T/libfoo-stranger.suture"
stderr_mentions 'refused' "the untrusted key"
[ ! -e "$R/var/lib/suture/patches/libfoo-unsigned.suture" ] || fail "an unsigned patch entered the store"

sut "store list" store list --root "$R" --json
jq -e '.patches | length == 1 and .[0].id == "libfoo-fix" and .[0].policy == "auto" and
	.[0].origin == "operator" and .[0].accepted' "$T/last.out" >/dev/null ||
	fail "store list: $(cat "$T/last.out")"

# files dropped into the store folders behind suture's back are refused, with the reason
cp "$T/libfoo-unsigned.suture" "$R/var/lib/suture/patches/libfoo-unsigned.suture"
mkdir -p "$R/usr/lib/suture/patches"
cp "$T/libfoo-stranger.suture" "$R/usr/lib/suture/patches/libfoo-stranger.suture"
echo garbage >"$R/usr/lib/suture/patches/junk.suture"
cp "$T/libfoo-fix.suture" "$R/usr/lib/suture/patches/misnamed.suture"
expect_fail "store list with refused files" "$SUTURE" store list --root "$R" --json
J=$T/last.out
jq -e '[.patches[] | select(.accepted)] | length == 1' "$J" >/dev/null || fail "refused files accepted: $(cat "$J")"
for f in libfoo-unsigned libfoo-stranger junk misnamed; do
	jq -e --arg f "$f.suture" '[.patches[] | select((.path | endswith("/" + $f)) and (.accepted | not))] | length == 1' \
		"$J" >/dev/null || fail "$f.suture is not listed as refused: $(cat "$J")"
done
jq -r '.patches[] | select(.accepted | not) | .refused' "$J" >"$T/reasons"
grep -q 'unsigned' "$T/reasons" || fail "no reason names the missing signature"
grep -q 'not an ELF' "$T/reasons" || fail "no reason names the corrupt file"
grep -q 'must be named libfoo-fix.suture' "$T/reasons" || fail "no reason names the misnamed file"
rm -f "$R"/var/lib/suture/patches/libfoo-unsigned.suture "$R"/usr/lib/suture/patches/*

# the policy file: comments survive an edit; a patch set to manual lists as manual
mkdir -p "$R/etc/suture"
printf '# site policy\n[exclude]\n# never the debugger\nexecutables=/usr/bin/gdb\n' >"$R/etc/suture/suture.conf"
sut "store policy" store policy --root "$R" libfoo-fix manual
grep -q '^# never the debugger' "$R/etc/suture/suture.conf" || fail "the policy edit dropped a comment"
grep -q '^executables=/usr/bin/gdb' "$R/etc/suture/suture.conf" || fail "the policy edit dropped a rule"
sut "store list" store list --root "$R" --json
jq -e '.patches[0].policy == "manual"' "$T/last.out" >/dev/null || fail "policy not manual: $(cat "$T/last.out")"
printf '[patch libfoo-fix]\npolicy=sometimes\n' >"$T/bad.conf"
cp "$T/bad.conf" "$R/etc/suture/suture.conf"
expect_fail "a bad policy value" "$SUTURE" store list --root "$R"
stderr_mentions 'auto or manual' "the bad policy value"
rm "$R/etc/suture/suture.conf"

# remove: the operator's patch goes; a package's patch is refused with the reason
cp "$T/libfoo-fix.suture" "$T/pkg.suture"
sut "store remove" store remove --root "$R" libfoo-fix
[ ! -e "$R/var/lib/suture/patches/libfoo-fix.suture" ] || fail "store remove left the file"
cp "$T/libfoo-fix.suture" "$R/usr/lib/suture/patches/libfoo-fix.suture"
expect_fail "removing a package's patch" "$SUTURE" store remove --root "$R" libfoo-fix
stderr_mentions 'package' "the package that installed it"
expect_fail "removing a path" "$SUTURE" store remove --root "$R" ../../etc
