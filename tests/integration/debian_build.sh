#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# suture build --debian on Debian's own openssl 3.0.20-1~deb12u2: the first run on a machine
# downloads the source and the official libssl3 with a private apt configuration, installs
# the build dependencies and rebuilds the shared libraries in Debian's build path (a few
# minutes, once; later runs reuse the cache). The rebuild must be the official build; the
# patch must name the official build-id and the package; the official file is stripped, so
# the local function the fix changes is known only from the rebuild; the machine's own
# libssl3 and apt configuration stay as they were. A 3.0.21 fix that Debian already carries
# as a backport is reported as already fixed, with no patch written.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/debian.sh"
debian_setup

machine_lib=/usr/lib/x86_64-linux-gnu/libcrypto.so.3
machine_before=$(readelf -n "$machine_lib" | awk '/Build ID/ {print $3}')
machine_ver=$(dpkg-query -W -f '${Version}' libssl3)
apt_state() { { cat /etc/apt/sources.list /etc/apt/sources.list.d/* /etc/apt/apt.conf.d/* 2>/dev/null || true; } | sha256sum; }
apt_before=$(apt_state)

deb_build 63074
r=$T/cve-63074.build.json
off=$(jq -r .debian.official "$r")
[ -f "$off" ] || fail "the report names no official file: $(cat "$r")"
off_id=$(readelf -n "$off" | awk '/Build ID/ {print $3}')
note "official $off, build-id $off_id; proof: $(jq -r .debian.proof "$r"); first build: $(jq -c .debian.first_build_seconds "$r")"
[ "$(jq -r .debian.official_build_id "$r")" = "$off_id" ] || fail "reported official build-id differs from the file's"
[ "$(jq -r .build_id "$r")" = "$off_id" ] || fail "the patch names build-id $(jq -r .build_id "$r"), not the official $off_id"
case $(jq -r .debian.proof "$r") in
build-id) [ "$(jq -r .debian.rebuilt_build_id "$r")" = "$off_id" ] || fail "proof 'build-id' with another build-id" ;;
sections) ;;
*) fail "unknown proof: $(cat "$r")" ;;
esac
# the downloaded package is Debian's: dpkg-deb says so, and its file is what apt verified
deb=$(ls "$(jq -r .debian.cache "$r")"/debs/libssl3_3.0.20-1~deb12u2_amd64.deb)
[ "$(dpkg-deb -f "$deb" Version)" = "$DEB_OSSL_VERSION" ] || fail "wrong package version in $deb"
cmp <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/x86_64-linux-gnu/libcrypto.so.3) "$off" ||
	fail "the official file is not the one in Debian's package"

# the patch: metadata, and the function it replaces is one Debian's stripped file has no name for
jq -e --arg v "$DEB_OSSL_VERSION" '.package == {"source": "openssl", "version": $v, "binary": "libssl3"}' \
	"$T/cve-63074.json" >/dev/null || fail "inspect does not show the package: $(jq -c .package "$T/cve-63074.json")"
jq -e '[.functions[].name] == ["ossl_cmp_msg_check_update"]' "$T/cve-63074.json" >/dev/null ||
	fail "unexpected functions: $(jq -c '[.functions[].name]' "$T/cve-63074.json")"
readelf -S "$off" | grep -q '\.symtab' && fail "the official file has a .symtab: it should be Debian's stripped one"
readelf --dyn-syms -W "$off" | grep -qw ossl_cmp_msg_check_update &&
	fail "ossl_cmp_msg_check_update is exported: this test wants a function only the rebuild names"
addr=$(jq -r '.functions[0].target_addr' "$T/cve-63074.json")
tree=$(jq -r .debian.cache "$r")/tree
sym=$(readelf -sW "$tree/build_shared/libcrypto.so.3" | awk '$8 == "ossl_cmp_msg_check_update" {print $2}')
[ "$((addr))" = "$((16#$sym))" ] || fail "target address $addr is not the rebuild's symbol 0x$sym"
sut "inspect" inspect "$T/cve-63074.suture"
grep -q "^package      openssl $DEB_OSSL_VERSION (source), binary package libssl3" "$T/last.out" ||
	{ cat "$T/last.out" >&2; fail "inspect's text output does not name the package"; }

# a second build reuses the cache: nothing is downloaded or rebuilt
"$SUTURE" build --debian "$DEB_SPEC" --diff "$DEB_DATA/CVE-2026-63074.patch" --target libcrypto.so.3 \
	-o "$T/again.suture" >"$T/again.out" 2>"$T/again.err" || { cat "$T/again.err" >&2; fail "second build failed"; }
grep -q 'using the cached pristine build' "$T/again.err" || { cat "$T/again.err" >&2; fail "the cache was not reused"; }
grep -Eq 'downloading|compiling' "$T/again.err" && { cat "$T/again.err" >&2; fail "the second build downloaded or compiled again"; }

# 3.0.21's PKCS7_verify fix (Debian backported it) and the AES-OCB one (a fix that only adds
# lines: it would also apply forward a second time, at an offset)
for n in 45447 45445; do
	rm -f "$T/fixed-$n.suture"
	"$SUTURE" build --debian "$DEB_SPEC" --diff "$DEB_DATA/CVE-2026-$n.patch" --target libcrypto.so.3 \
		-o "$T/fixed-$n.suture" --json >"$T/fixed-$n.json" 2>"$T/fixed-$n.err" ||
		{ cat "$T/fixed-$n.err" >&2; fail "CVE-2026-$n: an already fixed diff must not be an error"; }
	grep -q "already fixed in openssl $DEB_OSSL_VERSION" "$T/fixed-$n.err" ||
		{ cat "$T/fixed-$n.err" >&2; fail "CVE-2026-$n not reported as already fixed"; }
	[ "$(jq -r .status "$T/fixed-$n.json")" = already-fixed ] || fail "CVE-2026-$n: json status $(cat "$T/fixed-$n.json")"
	[ ! -e "$T/fixed-$n.suture" ] || fail "CVE-2026-$n: a patch was written for an already fixed version"
done
# a diff for other code is an error that says so
sed 's/num_extra_before = sk_X509_num/num_extra_before = sk_X509_count/; s/^ \(    if (!X509_add_certs\)/ \1_X/' \
	"$DEB_DATA/CVE-2026-63074.patch" >"$T/wrong.patch"
expect_fail "a diff for other code" "$SUTURE" build --debian "$DEB_SPEC" --diff "$T/wrong.patch" \
	--target libcrypto.so.3 -o "$T/wrong.suture"
stderr_mentions "neither applies exactly to openssl $DEB_OSSL_VERSION" "why the diff was refused"

# without =VERSION: the version installed here, and where the archive no longer has it, a
# message naming the versions it has
if "$SUTURE" build --debian openssl --diff "$DEB_DATA/CVE-2026-63074.patch" --target libcrypto.so.3 \
	-o "$T/installed.suture" >"$T/inst.out" 2>"$T/inst.err"; then
	note "the installed $machine_ver is in the archive: built for it"
else
	grep -q "using the one installed here, openssl $machine_ver" "$T/inst.err" || { cat "$T/inst.err" >&2; fail "the installed version was not used"; }
	grep -q "openssl $machine_ver is not in the archive, which has openssl .*$DEB_OSSL_VERSION" "$T/inst.err" ||
		{ cat "$T/inst.err" >&2; fail "the failure does not say the version is gone from the archive"; }
fi

# the machine is as it was
[ "$(readelf -n "$machine_lib" | awk '/Build ID/ {print $3}')" = "$machine_before" ] || fail "the machine's libcrypto changed"
[ "$(dpkg-query -W -f '${Version}' libssl3)" = "$machine_ver" ] || fail "the machine's libssl3 package changed"
[ "$(apt_state)" = "$apt_before" ] || fail "the machine's apt configuration changed"
