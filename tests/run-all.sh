#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs unit test binaries (given as arguments) then every tests/integration/*.sh (and, with
# LONG=1, tests/long/*.sh), and ends with one line "N passed, N failed, N skipped". Exit
# status is non-zero if anything failed. ONLY=GLOB selects tests by name.
set -uo pipefail
cd "$(dirname "$0")/.."
pass=0 failn=0 skipn=0 failed=()
# Patches are signed and apply verifies them (invariant 4): each test makes its own
# throw-away key pair with lib.sh's setup_signing (through require_suture), the one place
# the tests' signing is set up; the runner makes none.
for bin in "$@"; do
	name=$(basename "$bin")
	if out=$("$bin" 2>&1); then
		pass=$((pass + 1)); echo "ok   unit/$name"
	else
		failn=$((failn + 1)); failed+=("unit/$name"); echo "FAIL unit/$name"; echo "$out" | tail -n 30
	fi
done
# LONG=1 (make check sets it when CI is set) adds the soak tests of tests/long/.
long=()
[ -z "${LONG:-}" ] || long=(tests/long/${ONLY:-*}.sh)
# The OpenSSL tests share one pristine build, made (source downloaded from Debian's registry,
# then built) by the first of them on a new machine: it is made here first, so that those
# minutes are not counted in one test's time limit. Its errors are left to the tests, which
# report them (or skip, when the registry is unreachable).
for t in tests/integration/${ONLY:-*}.sh "${long[@]}"; do
	case $(basename "$t") in openssl_*.sh | soak_tls.sh) ;; *) continue ;; esac
	start=$(date +%s)
	scripts/openssl-cache.sh >/dev/null 2>&1 && echo "prep OpenSSL build ($(($(date +%s) - start))s)"
	break
done
for t in tests/integration/${ONLY:-*}.sh "${long[@]}"; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	start=$(date +%s%N)
	limit=600
	# the first Debian rebuild on a machine (download, build dependencies, build) may take
	# up to 10 minutes on its own
	case $t in tests/long/*) limit=${LONG_TIMEOUT:-2400} ;; tests/integration/debian_build.sh) limit=1200 ;; esac
	out=$(timeout "$limit" bash "$t" 2>&1); rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 )); dur="$((ms / 1000)).$(( (ms % 1000) / 100 ))"
	case $rc in
	0) pass=$((pass + 1)); echo "ok   $name (${dur}s)" ;;
	77) skipn=$((skipn + 1)); echo "skip $name: $(echo "$out" | grep '^SKIP:' | tail -n1)" ;;
	*) failn=$((failn + 1)); failed+=("$name"); echo "FAIL $name (rc $rc, ${dur}s)"; echo "$out" | tail -n 40 | sed 's/^/    /' ;;
	esac
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "$pass passed, $failn failed, $skipn skipped"
[ "$failn" -eq 0 ]
