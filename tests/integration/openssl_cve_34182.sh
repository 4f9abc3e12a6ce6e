#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CVE-2026-34182 (CMS AuthEnvelopedData may accept forged messages), the whole upstream diff,
# patched into a running probe and `openssl s_server` of the cached OpenSSL 3.0.20.
#
# Two things make it hard:
# - a signature change: ossl_cms_EncryptedContent_init_bio gains a parameter and its callers
#   change; all of them are in one patch and switch in one freeze;
# - the diff adds a reason to CMS_str_reasons, a `static const ERR_STRING_DATA[]` of string
#   pointers that GCC places in .data.rel.ro.local (flags WA in the object, read-only after
#   relocation). It is constant data, not program state: the changed table is carried as new
#   and its user, ossl_err_load_CMS_strings, is replaced to reach the new copy, instead of the
#   build being refused as a changed writable variable.
# The callers in cms_env.c are static functions that GCC may inline into
# ossl_cms_EnvelopedData_init_bio, so the expected set is taken from the symbols the cached
# libcrypto really has.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
openssl_cache
tree=$OSSL_TREE
want="ossl_cms_EncryptedContent_init_bio ossl_cms_EncryptedData_init_bio"
want+=" ossl_cms_AuthEnvelopedData_init_bio ossl_err_load_CMS_strings"
for f in cms_EnvelopedData_Decryption_init_bio cms_EnvelopedData_Encryption_init_bio; do
	if readelf -sW "$tree/libcrypto.so.3" | awk '{print $8}' | grep -qx "$f"; then
		want+=" $f"
	else
		want+=" ossl_cms_EnvelopedData_init_bio"	# inlined there
	fi
done
want=$(echo "$want" | tr ' ' '\n' | sort -u | tr '\n' ' ')
run_cve_case 34182 "$want"
# The new table travels in the patch, with the new reason's text it points to.
jq -e '[.new_symbols[] | select(.name == "CMS_str_reasons" and .type == "object")] | length == 1' \
	"$T/cve-34182.json" >/dev/null || fail "CMS_str_reasons is not carried as a new object"
grep -qa "cipher aead in enveloped data" "$T/cve-34182.suture" ||
	fail "the new reason string is not in the patch"
