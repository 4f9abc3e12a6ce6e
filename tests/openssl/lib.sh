# SPDX-License-Identifier: Apache-2.0
# Helpers for the OpenSSL integration tests (sourced after tests/lib.sh). They build (once
# per machine) and use the cached pristine OpenSSL 3.0.20 of scripts/openssl-cache.sh (its
# source comes from Debian's package registry), start the probe and `openssl s_server` from
# that build, run the TLS client loop, and build the CVE patches of tests/openssl/ with
# suture. Everything else the tests use is in the repository: the CVE diffs
# (tests/openssl/CVE-*.patch) and the trigger data (tests/openssl/data/), see
# tests/openssl/README.md. The tests on Debian's own OpenSSL (tests/openssl/debian.sh, which
# sources this file) share its compile, probe and TLS client helpers.

OSSL_DIR=$TOP/tests/openssl
OSSL_DATA=$OSSL_DIR/data
# The four cases, by the number the probe prints.
OSSL_CASES="45445 42770 45447 34182"

# openssl_cache: set OSSL_CACHE and OSSL_TREE to the cache of scripts/openssl-cache.sh
# (building it the first time). Skips when Debian's package registry, where the source comes
# from, cannot be reached.
openssl_cache() {
	command -v perl >/dev/null || skip "perl is needed to build OpenSSL"
	local rc=0
	OSSL_CACHE=$("$TOP/scripts/openssl-cache.sh" 2>"$T/openssl-cache.log") || rc=$?
	OSSL_TREE=$OSSL_CACHE/tree
	case $rc in
	0) ;;
	3) skip "Debian's package registry is unreachable, so the OpenSSL 3.0.20 source cannot be downloaded ($(grep -m1 unreachable "$T/openssl-cache.log" | sed 's/.*unreachable: //'))" ;;
	*) cat "$T/openssl-cache.log" >&2; fail "scripts/openssl-cache.sh failed (status $rc)" ;;
	esac
}

# ossl_compile PROG SRC [GCC_ARGS...]: compile tests/openssl/SRC.c into $T/PROG, linked with
# -lssl -lcrypto; GCC_ARGS say which OpenSSL (include and library folders; none: the
# machine's own) and any defines.
ossl_compile() {
	local prog=$1 src=$2; shift 2
	gcc -O2 -Wall -Wextra -Wno-unused-parameter -Werror "$@" -o "$T/$prog" "$OSSL_DIR/$src.c" \
		-lssl -lcrypto 2>"$T/$prog.cc.log" ||
		{ cat "$T/$prog.cc.log" >&2; fail "cannot compile tests/openssl/$src.c"; }
}

# openssl_setup: build or find the cache; compile the probe and the TLS client against it.
# Sets OSSL_CACHE, OSSL_TREE, and the build facts of $OSSL_CACHE/env (SOURCE_DATE_EPOCH,
# LIBCRYPTO_BUILD_ID, ...).
openssl_setup() {
	require_suture
	openssl_cache
	# shellcheck disable=SC1091
	source "$OSSL_CACHE/env"
	export SOURCE_DATE_EPOCH
	local prog
	for prog in probe tls_client; do
		ossl_compile "$prog" "$prog" -I"$OSSL_TREE/include" -I"$OSSL_DATA" \
			-L"$OSSL_TREE" -Wl,-rpath,"$OSSL_TREE"
	done
}

# ---- the probe ----

# start_probe: start the probe (every 200 ms, so the tests wait less); PROBE_PID, $T/probe.out.
start_probe() {
	start_bg "$T/probe.out" "$T/probe" "$OSSL_DATA" --interval-ms 200
	PROBE_PID=$BG_PID
	wait_for_line "$T/probe.out" '^round 1$' 30
}

# probe_rounds: number of complete rounds printed so far.
probe_rounds() { count_lines "$T/probe.out" '^round [0-9]+$'; }

# probe_verdicts ROUND: the "CASE verdict" lines of round ROUND, one per case.
probe_verdicts() {
	awk -v r="$1" '/^round / { n++; next } n == r - 1 && /^[0-9]+ / { print }' "$T/probe.out"
}

# How long expect_probe waits for the rounds it reads, in steps of 50 ms.
PROBE_WAIT_STEPS=200

# expect_probe "CASE=STATE ...": the probe's rounds that start after this call show each
# CASE in STATE (vulnerable or fixed); the round that may have run during the caller's
# suture command is skipped, and the next two must both agree.
expect_probe() {
	local want=$1 start r i line c s
	start=$(($(probe_rounds) + 2))
	for ((i = 0; i < PROBE_WAIT_STEPS; i++)); do
		[ "$(probe_rounds)" -ge $((start + 1)) ] && break
		sleep 0.05
	done
	[ "$(probe_rounds)" -ge $((start + 1)) ] || fail "the probe stopped printing rounds"
	for r in "$start" $((start + 1)); do
		for c in $want; do
			s=${c#*=}; c=${c%=*}
			line=$(probe_verdicts "$r" | grep "^$c " || true)
			[ "$line" = "$c $s" ] || {
				probe_verdicts "$r" >&2
				fail "probe round $r: expected '$c $s', got '${line:-nothing}'"
			}
		done
	done
	assert_alive "$PROBE_PID"
}

# all_cases STATE: "45445=STATE 42770=STATE ..." for expect_probe.
all_cases() { local c out=""; for c in $OSSL_CASES; do out+="$c=$1 "; done; echo "$out"; }

# ---- TLS server and client ----

# start_tls_server: a throw-away self-signed certificate and `openssl s_server -www` of the
# cached build on 127.0.0.1; SERVER_PID, SERVER_PORT.
start_tls_server() {
	local ossl=(env LD_LIBRARY_PATH="$OSSL_TREE" OPENSSL_CONF=/dev/null "$OSSL_TREE/apps/openssl")
	"${ossl[@]}" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=localhost -days 2 -keyout "$T/server.key" -out "$T/server.crt" \
		>"$T/req.log" 2>&1 || { cat "$T/req.log" >&2; fail "cannot make the test certificate"; }
	serve_tls "$T/server.out" "${ossl[@]}"
	SERVER_PID=$SERVE_PID SERVER_PORT=$SERVE_PORT
}

# serve_tls OUT OPENSSL-COMMAND...: `s_server -www` of that openssl command with the test
# certificate, on a free port of 127.0.0.1 (five ports are tried: a random one may be taken);
# SERVE_PID, SERVE_PORT once the port accepts.
serve_tls() {
	local out=$1 try i
	shift
	for try in 1 2 3 4 5; do
		SERVE_PORT=$((20000 + RANDOM % 40000))
		start_bg "$out" "$@" s_server -accept "127.0.0.1:$SERVE_PORT" \
			-cert "$T/server.crt" -key "$T/server.key" -www -quiet
		SERVE_PID=$BG_PID
		# s_server prints nothing with -quiet; it is ready once the port accepts.
		for ((i = 0; i < 200; i++)); do
			(exec 3<>"/dev/tcp/127.0.0.1/$SERVE_PORT") 2>/dev/null && return 0
			kill -0 "$SERVE_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill "$SERVE_PID" 2>/dev/null || true
	done
	cat "$out" >&2
	fail "openssl s_server ($*) did not start"
}

# start_tls_client: the handshake loop against the server; CLIENT_PID, $T/client.out. The
# client is the one openssl_setup compiled, else (the tests on Debian's build) one compiled
# here against the machine's own OpenSSL: the load generator is not a patch target.
start_tls_client() {
	[ -x "$T/tls_client" ] || ossl_compile tls_client tls_client
	start_bg "$T/client.out" "$T/tls_client" 127.0.0.1 "$SERVER_PORT"
	CLIENT_PID=$BG_PID
}

# stop_tls_client: stop the loop; it must have completed handshakes and failed none.
stop_tls_client() {
	kill -TERM "$CLIENT_PID"
	wait "$CLIENT_PID" || fail "the TLS client loop exited with status $?"
	local json; json=$(grep '^{' "$T/client.out" | tail -n1)
	note "TLS client: $json"
	[ -n "$json" ] || { cat "$T/client.out" >&2; fail "the TLS client printed no result"; }
	[ "$(echo "$json" | jq .failures)" = 0 ] ||
		{ cat "$T/client.out" >&2; fail "TLS handshakes or requests failed while patching: $json"; }
	[ "$(echo "$json" | jq .handshakes)" -gt 0 ] || fail "no TLS handshake completed: $json"
}

# ---- patches ----

# The command suture build runs in its copies of the cached tree. The copy is already
# built, so the original build does nothing and the patched build recompiles only what the
# diff touches and relinks the library.
OSSL_BUILD_CMD='make -s build_generated && make -s -j2 libcrypto.so.3 libssl.so.3'

# cve_patch NUM: the path of the CVE-2026-NUM diff (the upstream fix cut to that CVE).
cve_patch() { echo "$OSSL_DIR/CVE-2026-$1.patch"; }

# build_cve NUM [DIFF]: suture build of CVE-2026-NUM (from DIFF, default tests/openssl's diff)
# against the cached tree, checked against the deployed library's build-id; writes
# $T/cve-NUM.suture, and $T/cve-NUM.json (inspect).
build_cve() {
	local n=$1 diff=${2:-$(cve_patch "$1")} t0=$SECONDS
	sut "build of CVE-2026-$n" build --src "$OSSL_TREE" --diff "$diff" \
		--target libcrypto.so.3 --build-cmd "$OSSL_BUILD_CMD" --cve "CVE-2026-$n" \
		--id "cve-$n" --expect-build-id "$LIBCRYPTO_BUILD_ID" -o "$T/cve-$n.suture"
	note "CVE-2026-$n: patch built in $((SECONDS - t0))s"
	sut "inspect of cve-$n" inspect "$T/cve-$n.suture" --json
	cp "$T/last.out" "$T/cve-$n.json"
}

# replaced_functions NUM: the names of the functions patch cve-NUM replaces, sorted.
replaced_functions() {
	jq -r '.functions[].name' "$T/cve-$1.json" | sort | tr '\n' ' ' | sed 's/ $//'
}

# assert_functions NUM "NAME...": patch cve-NUM replaces exactly these functions (any order).
assert_functions() {
	local got want
	got=$(replaced_functions "$1")
	want=$(echo "$2" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] || {
		jq -c '.functions[] | {name, file, reason}' "$T/cve-$1.json" >&2
		fail "cve-$1 replaces '$got', expected exactly '$want'"
	}
}

# function_field NUM NAME FIELD: FIELD (file, reason, ...) of function NAME in patch cve-NUM.
function_field() {
	jq -r --arg n "$2" --arg f "$3" '.functions[] | select(.name == $n) | .[$f] // ""' \
		"$T/cve-$1.json"
}

# apply_patches DESCRIPTION PATCH-FILE...: apply into the probe and the server in one
# command; the freeze times suture prints are kept in $T/freeze.log.
apply_patches() {
	local what=$1; shift
	sut "$what" apply -p "$PROBE_PID" -p "$SERVER_PID" "$@"
	{ echo "== apply $*"; cat "$T/last.err" "$T/last.out"; } >>"$T/freeze.log"
}

# revert_patches DESCRIPTION ID...: revert from the probe and the server.
revert_patches() {
	local what=$1; shift
	sut "$what" revert -p "$PROBE_PID" -p "$SERVER_PID" "$@"
	{ echo "== revert $*"; cat "$T/last.err" "$T/last.out"; } >>"$T/freeze.log"
}

# run_cve_case NUM "EXPECTED FUNCTIONS" [DIFF]: the whole life of one CVE patch in running
# processes: the probe and s_server are patched, the probe's line for NUM flips to fixed
# (the other cases stay vulnerable), the patch is reverted and the line flips back; the TLS
# client completes every handshake throughout.
run_cve_case() {
	local n=$1 funcs=$2 c others=""
	openssl_setup
	build_cve "$n" "${3:-}"
	assert_functions "$n" "$funcs"
	for c in $OSSL_CASES; do [ "$c" = "$n" ] || others+="$c=vulnerable "; done

	start_probe
	expect_probe "$(all_cases vulnerable)"
	start_tls_server
	start_tls_client

	sut "dry run" apply --dry-run -p "$PROBE_PID" -p "$SERVER_PID" "$T/cve-$n.suture"
	assert_applied "$PROBE_PID" ""
	expect_probe "$(all_cases vulnerable)"

	apply_patches "apply of cve-$n" "$T/cve-$n.suture"
	# one transaction per process: every replaced function switched in the same freeze
	[ "$(grep -c "applied cve-$n ($(echo "$funcs" | wc -w) function" "$T/last.err")" = 2 ] ||
		{ cat "$T/last.err" >&2; fail "suture did not report one apply of all functions per process"; }
	expect_probe "$n=fixed $others"
	assert_applied "$PROBE_PID" "cve-$n"
	assert_applied "$SERVER_PID" "cve-$n"

	revert_patches "revert of cve-$n" "cve-$n"
	expect_probe "$(all_cases vulnerable)"
	assert_applied "$PROBE_PID" ""
	assert_applied "$SERVER_PID" ""

	stop_tls_client
	assert_alive "$SERVER_PID"
	note "suture's messages:"; sed 's/^/    /' "$T/freeze.log" >&2
}

# ---- soak (tests/long/soak_tls.sh) ----

# cpu_ticks PID: user + system clock ticks PID has used so far.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# wait_for_server_load: the TLS client is running and the server is doing work for it
# (its CPU time moves), so what follows happens under load.
wait_for_server_load() {
	local c0 i
	c0=$(cpu_ticks "$SERVER_PID")
	for ((i = 0; i < 200; i++)); do
		kill -0 "$CLIENT_PID" 2>/dev/null || { cat "$T/client.out" >&2; fail "the TLS client loop exited"; }
		[ "$(cpu_ticks "$SERVER_PID")" -gt $((c0 + 5)) ] && return 0
		sleep 0.05
	done
	fail "the TLS server does no work under the client loop"
}

# sample_server LABEL: "LABEL MAPS RSS_KB FDS" of the TLS server.
sample_server() { echo "$1 $(proc_sample "$SERVER_PID")"; }
