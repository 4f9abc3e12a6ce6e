#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scan, verify and OpenVEX on real OpenSSL, with the repository's feed: `openssl s_server`
# of the cached pristine 3.0.20 (upstream build: judged by the version libcrypto reports)
# and of the system's Debian package (judged by Debian's records for the openssl source
# package and its Debian version). The CVE-2026-45447 patch, built without --cve (the diff's
# header names the CVE), is applied to the pristine server: 45447 becomes fixed-live there,
# the other CVEs stay exposed; the Debian server stays exposed to all of them.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
python3 -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema is not installed (scripts/deps.sh)"
[ -x /usr/bin/openssl ] || skip "the system's openssl command is not installed"
openssl_setup
export SUTURE_PATCH_DIRS=$T/store SUTURE_FEED_DIRS=$T/no-feeds
mkdir -p "$T/store"

sut "build of CVE-2026-45447 without --cve" build --src "$OSSL_TREE" --diff "$(cve_patch 45447)" \
	--target libcrypto.so.3 --build-cmd "$OSSL_BUILD_CMD" --id cve-45447 \
	--expect-build-id "$LIBCRYPTO_BUILD_ID" -o "$T/store/cve-45447.suture"
grep -q 'CVE-2026-45447' "$T/last.err" || { cat "$T/last.err" >&2; fail "build did not name the CVE it took"; }

start_tls_server
UP=$SERVER_PID
serve_tls "$T/sys.out" env OPENSSL_CONF=/dev/null /usr/bin/openssl
DEB=$SERVE_PID

scan() {
	set +e
	"$SUTURE" scan --feed "$TOP/feeds" -p "$UP" -p "$DEB" "$@" >"$T/scan.out" 2>"$T/scan.err"
	SCAN_RC=$?
	set -e
}
verdict() {
	jq -r --argjson p "$1" --arg c "$2" '[.findings[] | select(.pid == $p and .cve == $c) | .verdict] | .[0] // "none"' "$T/scan.out"
}
# the 14 fixes of 3.0.21 and 3.0.22 (feeds/openssl-3.0.21-3.0.22.osv.json)
ALL="CVE-2026-45447 CVE-2026-34182 CVE-2026-45445 CVE-2026-7383 CVE-2026-9076 CVE-2026-34180
	CVE-2026-42766 CVE-2026-42770 CVE-2026-45446 CVE-2026-63072 CVE-2026-63076 CVE-2026-54874
	CVE-2026-63074 CVE-2026-75803"

scan --json
[ "$SCAN_RC" = 1 ] || fail "scan exited $SCAN_RC: $(tail -n 5 "$T/scan.err")"
jq -e --argjson p "$UP" '.processes[] | select(.pid == $p) | [.objects[] | select(.path | endswith("libcrypto.so.3")) | .openssl] == ["3.0.20"]' "$T/scan.out" >/dev/null ||
	fail "the pristine server's libcrypto does not report 3.0.20"
jq -e --argjson p "$DEB" '.processes[] | select(.pid == $p) | [.objects[] | select(.path | endswith("libcrypto.so.3"))][0] | .package == "libssl3:amd64" and .source == "openssl"' "$T/scan.out" >/dev/null ||
	fail "the system server's libcrypto is not known as Debian's libssl3"
for c in $ALL; do
	[ "$(verdict "$UP" "$c")" = exposed ] || fail "upstream 3.0.20: $c is $(verdict "$UP" "$c")"
done
debver=$(dpkg-query -W -f='${Version}' libssl3 2>/dev/null || true)
if dpkg --compare-versions "$debver" lt 3.0.20-1~deb12u2; then
	for c in $ALL; do
		[ "$(verdict "$DEB" "$c")" = exposed ] || fail "Debian $debver: $c is $(verdict "$DEB" "$c")"
	done
fi
# CVE-2026-42767 has only a Debian 12 entry (no OpenSSL 3.0 changelog names it)
[ "$(verdict "$UP" CVE-2026-42767)" = none ] || fail "the Debian-only CVE-2026-42767 touched the upstream build"
if dpkg --compare-versions "$debver" lt 3.0.22-1~deb12u1; then
	[ "$(verdict "$DEB" CVE-2026-42767)" = exposed ] || fail "Debian $debver: CVE-2026-42767 is $(verdict "$DEB" CVE-2026-42767)"
fi
jq -e --argjson p "$UP" '.findings[] | select(.pid == $p and .cve == "CVE-2026-45447") | .action_patch == "cve-45447"' "$T/scan.out" >/dev/null ||
	fail "the store patch is not named as the action"
[ "$(jq -r '.findings[0].cve' "$T/scan.out")" = CVE-2026-45447 ] || fail "the High CVE is not first"

# Debian's security-tracker JSON, imported: a CVE open in bookworm for the openssl source
# package touches the Debian server only (the upstream build is not Debian's)
cat >"$T/tracker.json" <<'JSON'
{"openssl": {"CVE-2026-99998": {"description": "open in bookworm", "scope": "remote",
   "releases": {"bookworm": {"status": "open", "urgency": "medium",
     "repositories": {"bookworm": "3.0.20-1~deb12u2"}}}}},
 "zlib": {"CVE-2026-99997": {"releases": {"bookworm": {"status": "open"}}}}}
JSON
scan --json --import-debian "$T/tracker.json"
[ "$(verdict "$DEB" CVE-2026-99998)" = exposed ] || fail "the tracker's open CVE does not touch the Debian server"
[ "$(verdict "$UP" CVE-2026-99998)" = none ] || fail "the tracker's CVE touched the upstream build"
jq -e '[.findings[] | select(.cve == "CVE-2026-99998")][0].severity == "moderate"' "$T/scan.out" >/dev/null ||
	fail "the tracker's urgency is not the severity"

sut "apply" apply -p "$UP" "$T/store/cve-45447.suture"
sut "verify" verify -p "$UP" --json
jq -e '.ok and .patches_verified == 1' "$T/last.out" >/dev/null || fail "verify: $(cat "$T/last.out")"

scan --json
[ "$(verdict "$UP" CVE-2026-45447)" = fixed-live ] || fail "45447 is $(verdict "$UP" CVE-2026-45447) after the patch"
[ "$(verdict "$UP" CVE-2026-34182)" = exposed ] || fail "34182 should stay exposed"
scan --openvex
python3 "$TOP/tests/openvex/validate.py" "$TOP/tests/openvex/openvex_json_schema_0.2.0.json" "$T/scan.out" ||
	fail "the OpenVEX document is not valid"
upbid=$(jq -r --argjson p "$UP" '.processes[] | select(.pid == $p)' <("$SUTURE" scan --feed "$TOP/feeds" -p "$UP" --json 2>/dev/null) | jq -r '[.objects[] | select(.path | endswith("libcrypto.so.3"))][0].build_id')
jq -e --arg b "$upbid" '.statements[] | select(.vulnerability.name == "CVE-2026-45447" and .products[0].hashes.sha1 == $b) |
	.status == "not_affected" and .justification == "inline_mitigations_already_exist"' "$T/scan.out" >/dev/null ||
	fail "the patched build is not not_affected for 45447"
jq -e --arg b "$upbid" '.statements[] | select(.vulnerability.name == "CVE-2026-34182" and .products[0].hashes.sha1 == $b) | .status == "affected"' "$T/scan.out" >/dev/null ||
	fail "the patched build must stay affected by 34182"
assert_alive "$UP"
assert_alive "$DEB"
