#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A patch is built for exactly the deployed OpenSSL: `suture build --expect-build-id` with
# the build-id of the running libcrypto.so.3 (read with readelf -n from the library the
# probe maps) succeeds, and the patch names that build-id; with another build-id the build
# stops and says the rebuilt original differs.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
openssl_setup
start_probe

# The library as the running process maps it, found from its memory map.
lib=$(awk '$6 ~ /libcrypto\.so\.3$/ { print $6; exit }' "/proc/$PROBE_PID/maps")
[ -n "$lib" ] || fail "the probe does not map libcrypto.so.3"
deployed=$(readelf -n "$lib" | awk '/Build ID:/ { print $3 }')
[ "$deployed" = "$LIBCRYPTO_BUILD_ID" ] || fail "the probe maps build $deployed, the cache says $LIBCRYPTO_BUILD_ID"

sut "build with the deployed build-id" build --src "$OSSL_TREE" --diff "$(cve_patch 45447)" \
	--target libcrypto.so.3 --build-cmd "$OSSL_BUILD_CMD" --expect-build-id "$deployed" \
	-o "$T/ok.suture"
sut "inspect" inspect "$T/ok.suture" --json
[ "$(jq -r .build_id "$T/last.out")" = "$deployed" ] || fail "the patch is for build $(jq -r .build_id "$T/last.out")"
sut "dry run against the probe" apply --dry-run -p "$PROBE_PID" "$T/ok.suture"

# Another build's id (libssl's) must stop the build, naming the mismatch.
expect_fail "build with a wrong build-id" "$SUTURE" build --src "$OSSL_TREE" \
	--diff "$(cve_patch 45447)" --target libcrypto.so.3 --build-cmd "$OSSL_BUILD_CMD" \
	--expect-build-id "$LIBSSL_BUILD_ID" -o "$T/wrong.suture"
stderr_mentions "build-id|build id" "the build-id mismatch"
stderr_mentions "$LIBSSL_BUILD_ID" "the expected build-id"
[ ! -e "$T/wrong.suture" ] || fail "a patch file was written despite the build-id mismatch"
assert_alive "$PROBE_PID"
