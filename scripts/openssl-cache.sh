#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds pristine OpenSSL 3.0.20 once per machine into a cache folder outside the checkout
# and prints that folder's path on standard output (progress goes to standard error).
#
#   scripts/openssl-cache.sh [--verify-reproducible]
#
# The source is the upstream release tarball, taken from Debian's package registry: the orig
# tarball of Debian's source package openssl 3.0.20-1~deb12u2 is byte-identical to it
# (scripts/debian-fetch.sh downloads it once into /var/cache/suture/debian/). Its sha256 is
# checked against the value below before anything is built. SUTURE_OPENSSL_TARBALL=FILE uses
# a local copy instead (same check). Nothing is downloaded when the build is already cached.
# Exit status 3: the registry cannot be reached (the tests skip), 1: any other error.
#
# Layout of the cache folder:
#   pristine/   the extracted tarball, never built (for `suture build --src` from scratch)
#   tree/       the same source, configured and built in place: libcrypto.so.3, libssl.so.3,
#               apps/openssl. `suture build --src tree` copies it and only recompiles what a
#               diff touches, so a patch build takes seconds instead of minutes.
#   env         shell assignments describing the build (SOURCE_DATE_EPOCH, flags, build-ids)
#
# Invariants:
# - The folder name is keyed by the tarball's sha256 and the Configure flags, so a change of
#   either gives a new folder and an existing folder is never rebuilt.
# - A folder that exists is complete: the build happens in a temporary sibling that is
#   renamed at the end, and concurrent runs serialise on a lock file (flock), the second one
#   finding the finished folder. What a killed build left (CACHE.tmp-*) is never used and is
#   removed by the next build.
# - The build is reproducible: every compiler command line uses relative paths (in-tree
#   build), and SOURCE_DATE_EPOCH fixes the date util/mkbuildinf.pl writes into
#   crypto/buildinf.h, so a rebuild of the same tree anywhere gives the same build-ids.
#   --verify-reproducible rebuilds in a temporary folder and compares (takes minutes).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=3.0.20
# The Debian source package whose orig tarball is the pristine release, and that tarball.
DEBIAN_SOURCE=openssl=3.0.20-1~deb12u2
TARBALL_NAME=openssl_3.0.20.orig.tar.gz
TARBALL_SHA256=c80a01dfc70ece4dc21168932c37739042d404d46ccc81a5986dd75314ecda6f
TARBALL=${SUTURE_OPENSSL_TARBALL:-}
# The date of the build, fixed so that every build of this tree is byte-identical
# (2025-01-01T00:00:00Z; any fixed value works, it only has to be the same for the deployed
# build and for the rebuild suture makes).
export SOURCE_DATE_EPOCH=1735689600
CONFIGURE_FLAGS="linux-x86_64 shared no-tests"
JOBS=${SUTURE_OPENSSL_JOBS:-2}

log() { echo "openssl-cache: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v perl >/dev/null || die "perl is needed by OpenSSL's Configure"

# fetch_tarball: set TARBALL (downloading it if needed) and check its sha256.
fetch_tarball() {
	if [ -z "$TARBALL" ]; then
		local dir rc=0
		dir=$("$TOP/scripts/debian-fetch.sh" "$DEBIAN_SOURCE") || rc=$?
		[ "$rc" = 0 ] || { log "cannot download Debian's source package $DEBIAN_SOURCE"; exit "$rc"; }
		TARBALL=$dir/$TARBALL_NAME
	fi
	[ -r "$TARBALL" ] || die "cannot read $TARBALL"
	local sha; sha=$(sha256sum "$TARBALL" | cut -d' ' -f1)
	[ "$sha" = "$TARBALL_SHA256" ] ||
		die "$TARBALL has sha256 $sha, not the $TARBALL_SHA256 of the OpenSSL $VERSION release"
}

tar_sha=$TARBALL_SHA256
key=$(printf '%s %s SOURCE_DATE_EPOCH=%s' "$tar_sha" "$CONFIGURE_FLAGS" "$SOURCE_DATE_EPOCH" |
	sha256sum | cut -c1-12)
# /var/cache/suture when it can be written (root, or made writable once), else the user's
# cache folder, so the tests also run unprivileged.
cache_root=/var/cache/suture
if ! { mkdir -p "$cache_root" && [ -w "$cache_root" ]; } 2>/dev/null; then
	cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/suture
fi
CACHE=${SUTURE_OPENSSL_CACHE:-$cache_root/openssl-$VERSION-$key}

build_id() { readelf -n "$1" | awk '/Build ID:/ {print $3}'; }

# build_tree DIR: extract, configure and build OpenSSL in DIR (which must not exist).
# Output of each step goes to DIR.log; on failure its tail is shown.
build_tree() {
	local dir=$1 logf=$1.log start=$SECONDS
	mkdir -p "$dir"
	step() {
		local what=$1; shift
		log "  $what ($((SECONDS - start))s)"
		if ! (cd "$dir" && "$@") >>"$logf" 2>&1; then
			tail -n 30 "$logf" >&2
			die "$what failed in $dir (full log: $logf)"
		fi
	}
	step "extracting $(basename "$TARBALL")" tar -xzf "$TARBALL" --strip-components=1
	# shellcheck disable=SC2086 # the flags are words
	step "configuring: ./Configure $CONFIGURE_FLAGS" ./Configure $CONFIGURE_FLAGS
	step "generating headers: make build_generated" make build_generated
	step "compiling: make -j$JOBS libcrypto.so.3 libssl.so.3 apps/openssl (about 5 minutes)" \
		make -j"$JOBS" libcrypto.so.3 libssl.so.3 apps/openssl
	log "  built in $((SECONDS - start))s"
}

verify_reproducible() {
	local tmp; tmp=$(mktemp -d "${CACHE%/*}/.verify-XXXXXX")
	log "rebuilding in $tmp/tree to compare build-ids"
	build_tree "$tmp/tree"
	local lib a b ok=1
	for lib in libcrypto.so.3 libssl.so.3; do
		a=$(build_id "$CACHE/tree/$lib"); b=$(build_id "$tmp/tree/$lib")
		if [ "$a" = "$b" ]; then log "  $lib: same build-id $a"
		else log "  $lib: build-id differs: cache $a, rebuild $b"; ok=0; fi
	done
	rm -rf "$tmp"
	[ $ok = 1 ] || die "the OpenSSL build is not reproducible here"
}

mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
if ! flock -n 9; then
	log "another run is building $CACHE; waiting for it"
	flock 9
fi

if [ ! -e "$CACHE/env" ]; then
	fetch_tarball
	log "building OpenSSL $VERSION into $CACHE (once per machine)"
	# What a killed build left (never used: only a complete folder is renamed into place).
	rm -rf "$CACHE".tmp-*
	tmp=$(mktemp -d "$CACHE.tmp-XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/pristine"
	tar -xzf "$TARBALL" -C "$tmp/pristine" --strip-components=1
	build_tree "$tmp/tree"
	mv "$tmp/tree.log" "$tmp/build.log"
	# Configure wrote the absolute path of the temporary folder into configdata.pm (perl
	# library paths for the generator scripts): point it at the final folder. Its mtime is
	# kept, since generated headers depend on it and must not be regenerated later.
	sed -i.orig "s|$tmp/tree|$CACHE/tree|g" "$tmp/tree/configdata.pm"
	touch -r "$tmp/tree/configdata.pm.orig" "$tmp/tree/configdata.pm"
	rm "$tmp/tree/configdata.pm.orig"
	if grep -rlI --exclude='*.o' "$tmp" "$tmp/tree" >&2; then
		die "the files above still name the temporary build folder $tmp"
	fi
	cat >"$tmp/env" <<-EOF
	# OpenSSL $VERSION built by scripts/openssl-cache.sh
	OPENSSL_VERSION=$VERSION
	OPENSSL_TARBALL_SHA256=$tar_sha
	OPENSSL_CONFIGURE_FLAGS="$CONFIGURE_FLAGS"
	SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH
	OPENSSL_CC="$(gcc --version | head -n1)"
	LIBCRYPTO_BUILD_ID=$(build_id "$tmp/tree/libcrypto.so.3")
	LIBSSL_BUILD_ID=$(build_id "$tmp/tree/libssl.so.3")
	EOF
	rm -rf "$CACHE"
	mv "$tmp" "$CACHE"
	trap - EXIT
	log "done: $CACHE"
fi

if [ "${1:-}" = --verify-reproducible ]; then fetch_tarball; verify_reproducible; fi
echo "$CACHE"
