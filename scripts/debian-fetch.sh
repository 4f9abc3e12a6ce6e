#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Downloads the files of one Debian source package, or one binary package (.deb), of an exact
# version (a binary package: the newest when none is named) from Debian's package registry,
# once per machine, and prints the folder that holds them on standard output (progress and
# errors go to standard error).
#
#   scripts/debian-fetch.sh [--source] NAME=VERSION [DEST]   # .dsc, .orig.tar.*, .debian.tar.*
#   scripts/debian-fetch.sh --binary NAME[:ARCH][=VERSION] [DEST] # NAME_VERSION_ARCH.deb
#
#   e.g. scripts/debian-fetch.sh openssl=3.0.20-1~deb12u2
#        scripts/debian-fetch.sh --binary libssl3=3.0.20-1~deb12u2
#        scripts/debian-fetch.sh --binary nginx   # the newest version the registry has
#
# With DEST, the files are also copied into DEST (created if missing) and DEST is printed.
# Nothing is unpacked: `dpkg-source -x FOLDER/NAME_VERSION.dsc` or `dpkg-deb -x FILE.deb DIR`.
#
# Exit status: 0 done; 1 error (the package or version does not exist, bad arguments, ...);
# 3 the registry cannot be reached (callers such as tests turn this into a skip).
#
# How:
# - apt does the download and the checking (the Release file's signature, then the sha256 of
#   every index and every file), with a PRIVATE configuration: the one suture's distro layer
#   uses (src/distro/apt.c, docs/debian.md), in the same folder and written the same way:
#   apt/apt.conf, given to apt as APT_CONFIG, reads nothing of /etc/apt and points the
#   sources list, lists folder and package cache into apt/. The machine's apt configuration,
#   lists and cache are never read for sources, changed or locked.
# - The private sources list names the mirrors the machine already uses for its release
#   (read at run time with `apt-get indextargets`: every suite named CODENAME or CODENAME-*,
#   e.g. bookworm, bookworm-updates, bookworm-security), as deb and deb-src entries.
#   SUTURE_DEBIAN_MIRRORS="URI SUITE..." replaces them (e.g. "http://deb.debian.org/debian
#   bookworm"), SUTURE_DEBIAN_CODENAME the release (default: this machine's).
#
# Cache (suture's: ${SUTURE_CACHE:-/var/cache/suture}/debian, or
# ${XDG_CACHE_HOME:-~/.cache}/suture/debian when that cannot be written; SUTURE_DEBIAN_CACHE
# moves it):
#   apt/                     the private apt state (apt.conf, sources.list, lists/, cache/),
#                            shared with `suture build --debian`; its index files are
#                            refreshed when older than a day, when someone else wrote other
#                            sources since, and when a version is not found in them and
#                            they are older than 10 minutes
#   source/NAME_VERSION/     the files of a source package
#   binary/NAME_VERSION_ARCH/ one .deb
# A folder that exists is complete: files are downloaded into a temporary sibling that is
# renamed at the end, so an interrupted run leaves only a .tmp-* folder, removed by the next
# run. Concurrent runs serialise on the lock `suture build --debian` takes (flock(1) of
# the cache's lock file).
set -euo pipefail

log() { echo "debian-fetch: $*" >&2; }
die() { log "error: $*"; exit 1; }
unreachable() { log "error: Debian's package registry is unreachable: $*"; exit 3; }
usage() { sed -n '3,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 1; }

kind=source
case ${1:-} in
--source) shift ;;
--binary) kind=binary; shift ;;
-h | --help | "") usage ;;
-*) die "unknown option $1 (see --help)" ;;
esac
[ $# -ge 1 ] && [ $# -le 2 ] || usage
spec=$1 dest=${2:-}
[[ $spec =~ ^([a-z0-9][a-z0-9+.-]+)(:([a-z0-9-]+))?(=([A-Za-z0-9.+~:-]+))?$ ]] ||
	die "'$spec' is not NAME=VERSION (e.g. openssl=3.0.20-1~deb12u2)"
name=${BASH_REMATCH[1]} arch=${BASH_REMATCH[3]} version=${BASH_REMATCH[5]}
[ "$kind" = binary ] || [ -z "$arch" ] || die "a source package has no architecture: $spec"
[ "$kind" = binary ] || [ -n "$version" ] || die "'$spec' is not NAME=VERSION (e.g. openssl=3.0.20-1~deb12u2)"
[ "$kind" = source ] || arch=${arch:-$(dpkg --print-architecture)}
command -v apt-get >/dev/null || die "apt-get is needed"

root=${SUTURE_DEBIAN_CACHE:-${SUTURE_CACHE:-/var/cache/suture}/debian}
if [ -z "${SUTURE_DEBIAN_CACHE:-}" ] && ! { mkdir -p "$root" && [ -w "$root" ]; } 2>/dev/null; then
	root=${XDG_CACHE_HOME:-$HOME/.cache}/suture/debian
fi
mkdir -p "$root"
# set_entry: the folder of NAME at VERSION. The version's epoch ("1:") is not part of
# Debian's file names.
set_entry() {
	fversion=${version#*:}
	if [ "$kind" = source ]; then entry=$root/source/${name}_$fversion
	else entry=$root/binary/${name}_${fversion}_$arch; fi
}

# finish: copy into DEST if asked, print the folder.
finish() {
	if [ -n "$dest" ]; then
		mkdir -p "$dest"
		cp -p "$entry"/* "$dest"/
		echo "$dest"
	else
		echo "$entry"
	fi
	exit 0
}
if [ -n "$version" ]; then set_entry; [ -e "$entry/.complete" ] && finish; fi

# ---- the private apt configuration ----
APT=$root/apt
codename=${SUTURE_DEBIAN_CODENAME:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}
[ -n "$codename" ] || die "cannot tell this machine's Debian release (set SUTURE_DEBIAN_CODENAME)"
apt_opts=(
	-o "Acquire::Retries=2"
	-o "Acquire::http::Timeout=30"
	-o "Acquire::https::Timeout=30"
	-o "APT::Get::List-Cleanup=true"
)
# run_apt ARGS..., run_cache ARGS...: apt-get and apt-cache with the private configuration.
run_apt() { APT_CONFIG=$APT/apt.conf apt-get -q "${apt_opts[@]}" "$@"; }
run_cache() { APT_CONFIG=$APT/apt.conf apt-cache "${apt_opts[@]}" "$@"; }

# write_conf: apt/apt.conf, byte for byte what src/distro/apt.c (dst_apt_init) writes, so
# that suture and this script run apt the same way on the same state (change both together).
write_conf() {
	mkdir -p "$APT/apt.conf.d" "$APT/preferences.d"
	cat >"$APT/apt.conf.new" <<-EOF
	// written by suture: a private apt configuration (nothing from /etc/apt)
	Dir::Etc::main "$APT/empty.conf";
	Dir::Etc::Parts "$APT/apt.conf.d";
	Dir::Etc::SourceList "$APT/sources.list";
	Dir::Etc::SourceParts "$APT/sources.list.d";
	Dir::Etc::Preferences "$APT/preferences";
	Dir::Etc::PreferencesParts "$APT/preferences.d";
	Dir::State::Lists "$APT/lists";
	Dir::Cache "$APT/cache";
	Dir::Cache::Archives "$APT/cache/archives";
	Dir::Cache::pkgcache "";
	Dir::Cache::srcpkgcache "";
	APT::Sandbox::User "root";
	Acquire::Languages "none";
	APT::Get::Assume-Yes "true";
	APT::Install-Recommends "false";
	DPkg::Lock::Timeout "600";
	EOF
	mv "$APT/apt.conf.new" "$APT/apt.conf"
	: >"$APT/empty.conf"
}
# source_versions: the versions of source package NAME in the private lists.
source_versions() {
	run_cache showsrc "$name" 2>/dev/null |
		awk -v n="$name" '$1 == "Package:" { p = $2 } $1 == "Version:" && p == n { print $2 }' | sort -u
}

# mirrors: "URI SUITE" lines for the machine's release, one per line.
mirrors() {
	if [ -n "${SUTURE_DEBIAN_MIRRORS:-}" ]; then
		# shellcheck disable=SC2086 # words: URI SUITE URI SUITE ...
		set -- $SUTURE_DEBIAN_MIRRORS
		[ $(($# % 2)) = 0 ] || die "SUTURE_DEBIAN_MIRRORS must be pairs of URI SUITE"
		while [ $# -gt 0 ]; do echo "${1%/} $2"; shift 2; done
		return
	fi
	# shellcheck disable=SC2016 # apt's own $(FIELD) placeholders
	apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' |
		awk -v c="$codename" '$2 == c || index($2, c "-") == 1 { sub(/\/$/, "", $1); print $1, $2 }' |
		sort -u
}

# write_sources: the private sources list (deb and deb-src for every mirror, main only).
write_sources() {
	local list uri suite keyring=/usr/share/keyrings/debian-archive-keyring.gpg opt=""
	[ -r "$keyring" ] && opt="[signed-by=$keyring] "
	list=$(mirrors)
	[ -n "$list" ] || die "this machine's apt sources name no suite '$codename' or '$codename-*' (set SUTURE_DEBIAN_MIRRORS)"
	mkdir -p "$APT/sources.list.d" "$APT/lists/partial" "$APT/cache/archives/partial"
	{
		echo "# written by scripts/debian-fetch.sh from this machine's sources; private to suture"
		while read -r uri suite; do
			echo "deb $opt$uri $suite main"
			echo "deb-src $opt$uri $suite main"
		done <<<"$list"
	} >"$APT/sources.list.new"
	mv "$APT/sources.list.new" "$APT/sources.list"
}

# update_lists: apt-get update into the private lists; status 3 when nothing could be fetched.
update_lists() {
	log "refreshing the private package lists ($(awk '/^deb-src/ { print $(NF - 1) }' "$APT/sources.list" | tr '\n' ' ' | sed 's/ $//'))"
	local out
	if ! out=$(run_apt update 2>&1); then
		echo "$out" | grep -E '^(E|W):' >&2 || true
		if echo "$out" | grep -qiE 'Failed to fetch|Could not (resolve|connect)|Temporary failure|timed out|Connection failed|Unable to connect'; then
			unreachable "apt-get update could not fetch the index files"
		fi
		die "apt-get update failed with the private configuration in $APT"
	fi
	if echo "$out" | grep -qiE 'Failed to fetch|Could not (resolve|connect)|Temporary failure|Some index files failed'; then
		echo "$out" | grep -E '^(E|W):' >&2 || true
		unreachable "apt-get update could not fetch every index file"
	fi
	# (apt's list cleanup removes what it does not know in lists/: written after it)
	touch "$APT/lists/.updated"
	cp "$APT/sources.list" "$APT/lists/.sources"
	updated=1
}

# has_version: the private lists know NAME at VERSION (source or binary).
has_version() {
	if [ "$kind" = source ]; then
		source_versions | grep -qxF -- "$version"
	else
		run_cache -o "APT::Architecture=$arch" show "$name:$arch=$version" >/dev/null 2>&1
	fi
}

# newest_version: apt's candidate of binary package NAME in the private lists, which pin
# nothing: the highest version (empty when none), for a NAME given without VERSION.
newest_version() {
	{ run_cache -o "APT::Architecture=$arch" policy "$name:$arch" 2>/dev/null || true; } |
		awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }'
}

# the lock of the cache, the one `suture build --debian` holds while it uses apt/
exec 8>"$root/lock"
flock 8
# Another run may have finished the entry while this one waited.
if [ -n "$version" ]; then [ -e "$entry/.complete" ] && finish; fi
# suture writes its own sources into apt/ when it builds: lists fetched for other sources
# than this script's are refreshed
foreign=0
[ ! -e "$APT/sources.list" ] || cmp -s "$APT/sources.list" "$APT/lists/.sources" || foreign=1
write_conf
write_sources
updated=0
if [ ! -e "$APT/lists/.updated" ] || [ -n "$(find "$APT/lists/.updated" -mmin +1440)" ] ||
	[ "$foreign" = 1 ] || ! cmp -s "$APT/sources.list" "$APT/lists/.sources"; then
	update_lists
fi
if [ -z "$version" ]; then
	version=$(newest_version)
	if [ -z "$version" ] && [ "$updated" = 0 ]; then update_lists; version=$(newest_version); fi
	[ -n "$version" ] || die "binary package $name is not in Debian's registry ($codename)"
	set_entry
	[ -e "$entry/.complete" ] && finish
fi
if ! has_version; then
	# The lists may be older than the version asked for: refresh them (unless they are from
	# this run or the last 10 minutes), then give up.
	[ "$updated" = 1 ] || [ -z "$(find "$APT/lists/.updated" -mmin +10)" ] || update_lists
	has_version || {
		log "versions of $name the registry has:"
		if [ "$kind" = source ]; then
			source_versions | sed 's/^/  /' >&2
		else
			run_cache -o "APT::Architecture=$arch" madison "$name" 2>/dev/null | sed 's/^/  /' >&2
		fi
		die "$kind package $name $version is not in Debian's registry ($codename)"
	}
fi

# ---- the download, into a temporary sibling renamed at the end ----
mkdir -p "$(dirname "$entry")"
rm -rf "$entry".tmp-*
tmp=$(mktemp -d "$entry.tmp-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt downloads as the unprivileged _apt user when it can write the folder.
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
log "downloading $kind package $name $version"
if [ "$kind" = source ]; then
	(cd "$tmp" && run_apt source --download-only --only-source "$name=$version") >"$tmp/.log" 2>&1 ||
		{ grep -E '^(E|W):' "$tmp/.log" >&2 || tail -n 20 "$tmp/.log" >&2
		  grep -qiE 'Failed to fetch|Could not (resolve|connect)|Temporary failure|timed out' "$tmp/.log" &&
			unreachable "downloading $name $version failed"
		  die "apt-get source --download-only $name=$version failed"; }
	# apt checked every file against the signed index; make sure the set is whole.
	dsc=$tmp/${name}_$fversion.dsc
	[ -s "$dsc" ] || die "apt-get source left no $(basename "$dsc")"
	awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 } f && NF == 3 { print $1 "  " $3 }' "$dsc" \
		>"$tmp/.sha256"
	[ -s "$tmp/.sha256" ] || die "$(basename "$dsc") lists no files"
	(cd "$tmp" && sha256sum --quiet -c .sha256) >&2 || die "the files of $name $version do not match its .dsc"
else
	(cd "$tmp" && run_apt -o "APT::Architecture=$arch" download "$name:$arch=$version") >"$tmp/.log" 2>&1 ||
		{ grep -E '^(E|W):' "$tmp/.log" >&2 || tail -n 20 "$tmp/.log" >&2
		  grep -qiE 'Failed to fetch|Could not (resolve|connect)|Temporary failure|timed out' "$tmp/.log" &&
			unreachable "downloading $name $version failed"
		  die "apt-get download $name:$arch=$version failed"; }
	ls "$tmp"/*.deb >/dev/null 2>&1 || die "apt-get download left no .deb"
	(cd "$tmp" && sha256sum ./*.deb | sed 's| \./| |') >"$tmp/.sha256"
fi
rm -f "$tmp/.log"
chown -R "$(id -u):$(id -g)" "$tmp"
chmod 755 "$tmp"
date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.complete"
rm -rf "$entry"	# never complete here (checked above, under the lock)
mv "$tmp" "$entry"
trap - EXIT
log "done: $entry"
finish
