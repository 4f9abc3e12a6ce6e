#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/debian-fetch.sh, which the OpenSSL tests use to get the pristine 3.0.20 source from
# Debian's package registry, with a private cache folder:
# - the source package openssl 3.0.20-1~deb12u2 is downloaded, every file matches its .dsc,
#   and its orig tarball is the upstream release (the sha256 openssl-cache.sh checks);
# - a second run is served from the cache without the network (a mirror that refuses
#   connections is named), and DEST gets a copy;
# - a folder left by an interrupted run (no completion mark, a half-written .tmp-*) is never
#   used: the next run downloads again;
# - the binary package libssl3 of that version is fetched as a .deb of that version;
# - an unknown version fails (status 1) listing the versions the registry has, an
#   unreachable registry fails with status 3 (what makes the OpenSSL tests skip);
# - the machine's apt configuration is left exactly as it was, and its lists gain no index
#   of the private configuration.
source "$(dirname "$0")/../lib.sh"
FETCH=$TOP/scripts/debian-fetch.sh
export SUTURE_DEBIAN_CACHE=$T/debian
SPEC=openssl=3.0.20-1~deb12u2
ORIG_SHA256=$(sed -n 's/^TARBALL_SHA256=//p' "$TOP/scripts/openssl-cache.sh")
[ ${#ORIG_SHA256} = 64 ] || fail "no TARBALL_SHA256 in scripts/openssl-cache.sh"
REFUSED="http://127.0.0.1:9/debian bookworm"	# port 9 (discard): nothing listens

# apt_state: a fingerprint of the machine's apt configuration, and the source indexes in its
# lists (it has no deb-src entry: a Sources file there would come from a leaked private
# configuration). Other test suites may install packages meanwhile, so the binary lists and
# the package cache are not compared.
apt_state() {
	{ find /etc/apt -xdev \( -type f -o -type l \) -printf '%p %s %T@\n'
	  find /var/lib/apt/lists -name '*Sources*' -printf '%p %s %T@\n'; } 2>/dev/null | sort | sha256sum
}
before=$(apt_state)

rc=0; dir=$("$FETCH" "$SPEC" 2>"$T/fetch1.err") || rc=$?
[ "$rc" = 3 ] && skip "Debian's package registry is unreachable: $(grep -m1 unreachable "$T/fetch1.err" | sed 's/.*unreachable: //')"
[ "$rc" = 0 ] || { cat "$T/fetch1.err" >&2; fail "debian-fetch.sh $SPEC exited with $rc"; }
[ "$dir" = "$T/debian/source/openssl_3.0.20-1~deb12u2" ] || fail "unexpected folder '$dir'"
grep -q 'downloading source package openssl 3.0.20-1~deb12u2' "$T/fetch1.err" ||
	fail "the first run did not say it downloads"
for f in openssl_3.0.20-1~deb12u2.dsc openssl_3.0.20.orig.tar.gz openssl_3.0.20-1~deb12u2.debian.tar.xz; do
	[ -s "$dir/$f" ] || fail "$f was not downloaded: $(ls "$dir")"
done
[ "$(sha256sum <"$dir/openssl_3.0.20.orig.tar.gz" | cut -d' ' -f1)" = "$ORIG_SHA256" ] ||
	fail "the orig tarball is not the OpenSSL 3.0.20 release"
# every file the .dsc lists, with the sha256 it gives
n=0
while read -r sum _ file; do
	[ "$(sha256sum <"$dir/$file" | cut -d' ' -f1)" = "$sum" ] || fail "$file does not match the .dsc"
	n=$((n + 1))
done < <(awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 } f && NF == 3' \
	"$dir/openssl_3.0.20-1~deb12u2.dsc")
[ "$n" -ge 2 ] || fail "the .dsc lists $n files"
note "source package: $(ls "$dir" | tr '\n' ' ')"

# The cache answers without the network, and copies into DEST.
got=$(SUTURE_DEBIAN_MIRRORS=$REFUSED "$FETCH" "$SPEC" "$T/dest" 2>"$T/fetch2.err") ||
	{ cat "$T/fetch2.err" >&2; fail "the cached source package was not served without the network"; }
[ "$got" = "$T/dest" ] || fail "with DEST, '$got' was printed"
cmp -s "$T/dest/openssl_3.0.20.orig.tar.gz" "$dir/openssl_3.0.20.orig.tar.gz" || fail "DEST has no copy"
[ ! -s "$T/fetch2.err" ] || { cat "$T/fetch2.err" >&2; fail "the cached run did more than print"; }

# An interrupted run's leftovers are never used.
rm "$dir/.complete"
head -c 1000 "$dir/openssl_3.0.20.orig.tar.gz" >"$dir/openssl_3.0.20.orig.tar.gz.part"
mkdir "$dir.tmp-killed"; echo partial >"$dir.tmp-killed/openssl_3.0.20.orig.tar.gz"
got=$("$FETCH" "$SPEC" 2>"$T/fetch3.err") || { cat "$T/fetch3.err" >&2; fail "refetch failed"; }
grep -q 'downloading source package' "$T/fetch3.err" || fail "an entry without its completion mark was used"
[ -e "$got/.complete" ] && [ ! -e "$got/openssl_3.0.20.orig.tar.gz.part" ] && [ ! -e "$dir.tmp-killed" ] ||
	fail "the leftovers of an interrupted run are still there: $(ls -a "$got" "$T/debian/source")"
[ "$(sha256sum <"$got/openssl_3.0.20.orig.tar.gz" | cut -d' ' -f1)" = "$ORIG_SHA256" ] ||
	fail "the refetched orig tarball is not the release"

# A binary package.
deb=$("$FETCH" --binary libssl3=3.0.20-1~deb12u2 2>"$T/fetch4.err")/libssl3_3.0.20-1~deb12u2_amd64.deb ||
	{ cat "$T/fetch4.err" >&2; fail "debian-fetch.sh --binary libssl3 failed"; }
[ -s "$deb" ] || fail "no $deb"
[ "$(dpkg-deb -f "$deb" Package Version | tr '\n' ' ')" = "Package: libssl3 Version: 3.0.20-1~deb12u2 " ] ||
	fail "the .deb is $(dpkg-deb -f "$deb" Package Version | tr '\n' ' ')"

# Errors: a version the registry does not have, a registry that cannot be reached.
rc=0; "$FETCH" openssl=3.0.99-1 >"$T/fetch5.out" 2>"$T/fetch5.err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/fetch5.err" >&2; fail "an unknown version gave status $rc, not 1"; }
grep -q 'openssl 3.0.99-1 is not in' "$T/fetch5.err" || fail "the error does not name the version"
grep -qx '  3.0.20-1~deb12u2' "$T/fetch5.err" || fail "the error does not list the versions there are"
[ ! -s "$T/fetch5.out" ] || fail "a failed fetch printed a folder"
rc=0; SUTURE_DEBIAN_MIRRORS=$REFUSED SUTURE_DEBIAN_CACHE=$T/debian-unreachable \
	"$FETCH" --binary libssl3=3.0.20-1~deb12u2 >/dev/null 2>"$T/fetch6.err" || rc=$?
[ "$rc" = 3 ] || { cat "$T/fetch6.err" >&2; fail "an unreachable registry gave status $rc, not 3"; }
grep -q "registry is unreachable" "$T/fetch6.err" || fail "the error does not say the registry is unreachable"
expect_fail "a malformed argument" "$FETCH" openssl
expect_fail "an architecture on a source package" "$FETCH" openssl:amd64=3.0.20-1~deb12u2

# The private configuration names the machine's mirrors, as deb and deb-src.
grep -q '^deb-src .* bookworm main$' "$T/debian/apt/sources.list" ||
	{ cat "$T/debian/apt/sources.list" >&2; fail "no deb-src line for bookworm"; }
[ "$(apt_state)" = "$before" ] || fail "the machine's apt configuration, lists or cache changed"
