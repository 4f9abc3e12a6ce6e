#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Genuine Debian binaries, patched live: Debian's nginx (unpacked from its package, never
# installed) serves HTTPS on loopback with the official libssl3 3.0.20-1~deb12u2 (unpacked
# into suture's cache, the machine's libssl3 untouched) through LD_LIBRARY_PATH, while a
# client makes new TLS handshakes continuously. The two 3.0.22 fixes open in that version,
# built with --debian, are applied with `apply --all` to the nginx master, its workers and
# a probe process using the same libraries, then reverted, ROUNDS times (default 10): every
# process shows both patches after each apply and none after each revert, the probe flips
# from vulnerable to fixed and back, and not one request fails.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/debian.sh"
debian_setup
ROUNDS=${ROUNDS:-10}

deb_build 63074
deb_build 75803
LIB=$(deb_official_dir)
for n in 63074 75803; do
	[ "$(jq -r .build_id "$T/cve-$n.build.json")" = "$(readelf -n "$LIB/libcrypto.so.3" | awk '/Build ID/ {print $3}')" ] ||
		fail "patch cve-$n is not for the official libcrypto in $LIB"
done
fetch_nginx
note "nginx: $(dpkg-deb -f "$T"/nginx-deb/nginx_*.deb Package Version | tr '\n' ' ')"

# nginx's workers are its children: end them too (by PID) when the test ends
deb_cleanup() {
	local w
	if [ -n "${NGINX_PID:-}" ]; then
		for w in $(nginx_workers); do kill -9 "$w" 2>/dev/null || true; done
	fi
	cleanup
}
trap deb_cleanup EXIT

start_nginx "$LIB"
start_probe_3022 "$LIB"
mapfile -t WORKERS < <(nginx_workers)
PROCS=("$NGINX_PID" "${WORKERS[@]}" "$PROBE_PID")
for p in "${PROCS[@]}"; do
	maps_file "$p" "$LIB/libcrypto.so.3" || fail "process $p does not map Debian's official libcrypto from $LIB"
done
note "nginx master $NGINX_PID, workers ${WORKERS[*]}, probe $PROBE_PID, port $SERVER_PORT"
expect_probe "63074=vulnerable 75803=vulnerable"
start_tls_client
sleep 1

for ((r = 1; r <= ROUNDS; r++)); do
	sut "apply --all, round $r" apply --all "$T/cve-63074.suture" "$T/cve-75803.suture"
	for p in "${PROCS[@]}"; do assert_applied "$p" "deb-63074 deb-75803"; done
	expect_probe "63074=fixed 75803=fixed"
	sut "revert --all, round $r" revert --all deb-63074 deb-75803
	for p in "${PROCS[@]}"; do assert_applied "$p" ""; done
	expect_probe "63074=vulnerable 75803=vulnerable"
done
# nginx still has the same workers (none crashed and was replaced)
[ "$(nginx_workers | sort | tr '\n' ' ')" = "$(printf '%s\n' "${WORKERS[@]}" | sort | tr '\n' ' ')" ] ||
	fail "nginx's workers changed: $(nginx_workers | tr '\n' ' ') (were ${WORKERS[*]})"
stop_tls_client
assert_alive "$NGINX_PID"
grep -Eq '\[(alert|emerg|crit)\]' "$T/ngx/logs/error.log" && { cat "$T/ngx/logs/error.log" >&2; fail "nginx logged errors"; }
note "$ROUNDS rounds of apply --all and revert --all on nginx and the probe"
