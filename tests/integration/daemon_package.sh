#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# suture package: the .deb holds the signed patch at /usr/lib/suture/patches/ID.suture,
# a file trigger on that folder and maintainer scripts that ask sutured to reload.
# Installed with dpkg into the test's own root (dpkg --root, scripts run chrootless with
# DPKG_ROOT), with sutured running on that root: the patch is applied to the running
# worker; removing the package reverts it. The machine's dpkg database is not touched.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../daemon_lib.sh"
require_sutured
command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed"

daemon_scenario
DEB=$T/suture-patch-dw-fix_1_all.deb
sut "package" package -o "$DEB" "$T/dw-fix.suture"
[ -s "$DEB" ] || fail "suture package wrote no $DEB"
[ ! -s "$T/last.out" ] || fail "suture package printed on standard output: $(cat "$T/last.out")"

dpkg-deb -c "$DEB" >"$T/contents" || fail "dpkg-deb -c cannot read the package"
grep -Eq '^-rw-r--r-- root/root +[0-9]+ .* \./usr/lib/suture/patches/dw-fix\.suture$' "$T/contents" ||
	{ cat "$T/contents" >&2; fail "the package does not install the patch (root-owned, 0644)"; }
[ "$(grep -c '^-' "$T/contents")" -eq 1 ] || { cat "$T/contents" >&2; fail "the package installs more than the patch"; }
dpkg-deb -f "$DEB" Package Version Architecture >"$T/fields"
grep -qx 'Package: suture-patch-dw-fix' "$T/fields" || fail "package name: $(cat "$T/fields")"
grep -qx 'Version: 1' "$T/fields" || fail "package version: $(cat "$T/fields")"
grep -qx 'Architecture: all' "$T/fields" || fail "architecture: $(cat "$T/fields")"
dpkg-deb -f "$DEB" Description >"$T/description"
grep -Eq "[0-9a-f]{40}" "$T/description" || fail "the description does not name the build-id"
mkdir -p "$T/ctl"
dpkg-deb -e "$DEB" "$T/ctl"
grep -qx 'interest-noawait /usr/lib/suture/patches' "$T/ctl/triggers" || fail "no file trigger: $(cat "$T/ctl/triggers")"
for s in postinst postrm; do
	[ -x "$T/ctl/$s" ] || fail "no executable $s"
	grep -q 'suture daemon reload' "$T/ctl/$s" || fail "$s does not ask sutured to reload"
done
cmp -s <(dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/lib/suture/patches/dw-fix.suture) "$T/dw-fix.suture" ||
	fail "the packaged patch differs from the signed file"

# an unsigned patch is not packaged
SUTURE_SIGNING_KEY= build_patch dw-unsigned "$S/fix.diff" libfix.so
expect_fail "packaging an unsigned patch" "$SUTURE" package -o "$T/u.deb" "$T/dw-unsigned.suture"
stderr_mentions 'unsigned' "the missing signature"
[ ! -e "$T/u.deb" ] || fail "an unsigned patch was packaged"

# install into the test's root while sutured serves it
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
start_bg "$T/w.out" "$S/worker" loop
W=$BG_PID
wait_for_line "$T/w.out" "^pid=$W value=1"
start_sutured
dpkg_r() { PATH=$TOP/out:$PATH dpkg --root="$R" --log="$T/dpkg.log" --force-script-chrootless "$@"; }
n=$(nlines "$T/sutured.log")
dpkg_r -i "$DEB" >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out" >&2; fail "dpkg -i of the package failed"; }
ms=$(wait_value "$T/w.out" "$W" 2 2)
note "installed -> patched in $ms ms"
assert_applied "$W" dw-fix
wait_for_new_line "$T/sutured.log" "$n" 'reload asked on the control socket' 5
dstatus
jq -e '.patches[] | select(.id == "dw-fix") | .origin == "package" and .policy == "auto"' \
	"$T/dstatus.json" >/dev/null || fail "status does not show the package's patch: $(cat "$T/dstatus.json")"

dpkg_r -r suture-patch-dw-fix >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out" >&2; fail "dpkg -r failed"; }
[ ! -e "$R/usr/lib/suture/patches/dw-fix.suture" ] || fail "dpkg -r left the patch in the store"
ms=$(wait_value "$T/w.out" "$W" 1 2)
note "removed -> reverted in $ms ms"
assert_applied "$W" ""
assert_alive "$W"
stop_sutured
