#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# PENDING: fails until suture build treats `static const` tables with relocations as
# read-only data.
#   suture build --src TREE --diff ../shared/openssl/CVE-2026-34182.patch --target libcrypto.so.3
#   -> "cannot live-patch: initial value of writable variable 'CMS_str_reasons' (cms_err.c) changed"
# CMS_str_reasons is `static const ERR_STRING_DATA[]`; its entries hold string pointers, so
# with -fPIC GCC puts it in .data.rel.ro.local.CMS_str_reasons (flags WA: written only by
# the dynamic linker, read-only after RELRO). Like .rodata it should be carried as new when
# changed (the fix adds the reason "cipher aead in enveloped data"), with its one user,
# ossl_err_load_CMS_strings, replaced or left alone; it is not the program's state.
#
# CVE-2026-34182 (CMS AuthEnvelopedData may accept forged messages): a signature change.
# ossl_cms_EncryptedContent_init_bio gains a parameter and its callers change; all of them
# are replaced in one patch and switch in one freeze. The callers in cms_env.c are static
# functions that GCC may inline into ossl_cms_EnvelopedData_init_bio, so the expected set is
# taken from the symbols the cached libcrypto really has.
source "$(dirname "$0")/../../lib.sh"
source "$TOP/tests/openssl/lib.sh"
openssl_setup
want="ossl_cms_EncryptedContent_init_bio ossl_cms_EncryptedData_init_bio ossl_cms_AuthEnvelopedData_init_bio"
for f in cms_EnvelopedData_Decryption_init_bio cms_EnvelopedData_Encryption_init_bio; do
	if readelf -sW "$OSSL_TREE/libcrypto.so.3" | awk '{print $8}' | grep -qx "$f"; then
		want+=" $f"
	else
		want+=" ossl_cms_EnvelopedData_init_bio"	# inlined there
	fi
done
want=$(echo "$want" | tr ' ' '\n' | sort -u | tr '\n' ' ')
# ossl_err_load_CMS_strings may also be replaced (it references the changed table).
build_cve 34182
got=$(replaced_functions 34182 | tr ' ' '\n' | grep -vx ossl_err_load_CMS_strings | tr '\n' ' ')
[ "$(echo $got)" = "$(echo $want)" ] || fail "cve-34182 replaces '$got', expected '$want'"
run_cve_case 34182 "$(replaced_functions 34182)"
