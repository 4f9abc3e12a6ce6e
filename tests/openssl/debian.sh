# SPDX-License-Identifier: Apache-2.0
# Helpers for the tests on Debian's own OpenSSL (sourced after tests/lib.sh): patches built
# with `suture build --debian openssl=3.0.20-1~deb12u2` from the diffs in tests/openssl/,
# the official libssl3 of that version (unpacked by suture into its cache, never installed),
# Debian's nginx unpacked into the test's folder, and the probe built for the two 3.0.22
# CVEs that are open in Debian's 3.0.20. The probe's reading and the TLS client loop are
# those of tests/openssl/lib.sh.

# shellcheck source=tests/openssl/lib.sh
source "$TOP/tests/openssl/lib.sh"

DEB_OSSL_VERSION=3.0.20-1~deb12u2
DEB_SPEC=openssl=$DEB_OSSL_VERSION
DEB_DATA=$OSSL_DIR
# the probe's rounds come slower beside nginx's workers: expect_probe waits up to 20 s
PROBE_WAIT_STEPS=400

# debian_setup: Debian 12 with network access to Debian's registry, else skip.
debian_setup() {
	require_suture
	grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null ||
		skip "these tests rebuild Debian 12's openssl; this is not Debian 12"
	[ "$(id -u)" = 0 ] || skip "installing build dependencies and Debian's build path need root"
	command -v apt-get >/dev/null && command -v dpkg-source >/dev/null ||
		skip "apt-get and dpkg-source (dpkg-dev) are needed"
}

# deb_build NUM [TARGET]: suture build --debian of tests/openssl/CVE-2026-NUM.patch for
# TARGET (default libcrypto.so.3) into $T/cve-NUM.suture; its --json report in
# $T/cve-NUM.build.json, inspect --json in $T/cve-NUM.json.
deb_build() {
	local n=$1 target=${2:-libcrypto.so.3} t0=$SECONDS
	if ! "$SUTURE" build --debian "$DEB_SPEC" --diff "$DEB_DATA/CVE-2026-$n.patch" \
		--target "$target" --cve "CVE-2026-$n" --id "deb-$n" -o "$T/cve-$n.suture" --json \
		>"$T/cve-$n.build.json" 2>"$T/cve-$n.build.err"; then
		tail -n 30 "$T/cve-$n.build.err" >&2
		fail "suture build --debian of CVE-2026-$n failed"
	fi
	note "CVE-2026-$n: patch built in $((SECONDS - t0))s"
	sut "inspect of deb-$n" inspect "$T/cve-$n.suture" --json
	cp "$T/last.out" "$T/cve-$n.json"
}

# deb_official_dir: the folder holding Debian's official libcrypto.so.3 and libssl.so.3,
# from the last deb_build's report.
deb_official_dir() {
	local f; f=$(ls "$T"/cve-*.build.json | head -n1)
	dirname "$(jq -r .debian.official "$f")"
}

# fetch_nginx: Debian's nginx (the newest in the registry), downloaded by
# scripts/debian-fetch.sh with the private apt configuration (once, into its cache), copied
# into $T/nginx-deb and unpacked there (never installed: no service starts, nothing of the
# machine changes); sets NGINX.
fetch_nginx() {
	"$TOP/scripts/debian-fetch.sh" --binary nginx "$T/nginx-deb" >/dev/null 2>"$T/nginx-fetch.log" ||
		{ cat "$T/nginx-fetch.log" >&2; fail "cannot download Debian's nginx"; }
	dpkg-deb -x "$T"/nginx-deb/nginx_*.deb "$T/nginx-deb/root" || fail "cannot unpack nginx"
	NGINX=$T/nginx-deb/root/usr/sbin/nginx
	[ -x "$NGINX" ] || fail "the nginx package has no usr/sbin/nginx"
}

# start_nginx LIBDIR: Debian's nginx (master and 2 workers, in the foreground) serving
# HTTPS on 127.0.0.1 with the OpenSSL in LIBDIR; NGINX_PID (the master), SERVER_PORT.
start_nginx() {
	local lib=$1 try i
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
		-days 2 -keyout "$T/server.key" -out "$T/server.crt" >"$T/req.log" 2>&1 ||
		{ cat "$T/req.log" >&2; fail "cannot make the test certificate"; }
	mkdir -p "$T/ngx/logs" "$T/ngx/tmp"
	for try in 1 2 3 4 5; do
		SERVER_PORT=$((20000 + RANDOM % 40000))
		cat >"$T/nginx.conf" <<-EOF
		daemon off;
		master_process on;
		worker_processes 2;
		user root;
		pid $T/ngx/nginx.pid;
		error_log $T/ngx/logs/error.log;
		events { worker_connections 256; }
		http {
		    access_log off;
		    client_body_temp_path $T/ngx/tmp/body;
		    proxy_temp_path $T/ngx/tmp/proxy;
		    fastcgi_temp_path $T/ngx/tmp/fastcgi;
		    uwsgi_temp_path $T/ngx/tmp/uwsgi;
		    scgi_temp_path $T/ngx/tmp/scgi;
		    server {
		        listen 127.0.0.1:$SERVER_PORT ssl;
		        ssl_certificate $T/server.crt;
		        ssl_certificate_key $T/server.key;
		        ssl_session_cache off;
		        ssl_session_tickets off;
		        location / { return 200 "served by Debian's nginx\n"; }
		    }
		}
		EOF
		start_bg "$T/nginx.out" env LD_LIBRARY_PATH="$lib" "$NGINX" -p "$T/ngx" -e "$T/ngx/logs/error.log" -c "$T/nginx.conf"
		NGINX_PID=$BG_PID
		for ((i = 0; i < 100; i++)); do
			if [ "$(nginx_workers | wc -l)" -ge 2 ] && (exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT") 2>/dev/null; then
				return 0
			fi
			kill -0 "$NGINX_PID" 2>/dev/null || break
			sleep 0.05
		done
		stop_bg "$NGINX_PID"
	done
	cat "$T/nginx.out" "$T/ngx/logs/error.log" >&2 2>/dev/null
	fail "Debian's nginx did not start"
}

# nginx_workers: the PIDs of the nginx master's worker processes.
nginx_workers() { pgrep -P "$NGINX_PID" 2>/dev/null || true; }

# maps_file PID FILE: PID has FILE (a path) mapped.
maps_file() { grep -qF " $2" "/proc/$1/maps"; }

# start_probe_3022 LIBDIR: the probe of the two 3.0.22 CVEs (tests/openssl/probe.c built with
# -DPROBE_3022, against the machine's OpenSSL headers) run with the OpenSSL in LIBDIR;
# PROBE_PID, $T/probe.out.
start_probe_3022() {
	ossl_compile probe_3022 probe -DPROBE_3022
	start_bg "$T/probe.out" env LD_LIBRARY_PATH="$1" "$T/probe_3022" --interval-ms 200
	PROBE_PID=$BG_PID
	wait_for_line "$T/probe.out" '^round 1$' 30
}
