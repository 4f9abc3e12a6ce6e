#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The suture binary is built hardened: a position-independent executable (PIE), full
# RELRO (GNU_RELRO segment, BIND_NOW: the GOT is read-only before main runs), stack
# canaries (-fstack-protector-strong), fortified libc calls (-D_FORTIFY_SOURCE=2) and
# CET branch protection (-fcf-protection: endbr64 landing pads; the objects carry the
# IBT/SHSTK property, which the final link keeps only if the C runtime's objects do too).
source "$(dirname "$0")/../lib.sh"
[ -x "$SUTURE" ] || skip "$SUTURE is not built"
command -v readelf >/dev/null || skip "readelf (binutils) is needed"
command -v objdump >/dev/null || skip "objdump (binutils) is needed"

readelf -h "$SUTURE" | grep -Eq 'Type: +DYN' || fail "suture is not position-independent (ELF type is not DYN)"
readelf -d "$SUTURE" | grep -Eq 'FLAGS_1.*PIE' || fail "suture lacks the PIE flag"
readelf -d "$SUTURE" | grep -Eq '\(FLAGS\).*BIND_NOW|FLAGS_1.*NOW' || fail "suture is not linked with -z now (no BIND_NOW)"
readelf -lW "$SUTURE" | grep -q GNU_RELRO || fail "suture has no GNU_RELRO segment"
syms=$(readelf --dyn-syms -W "$SUTURE")
grep -q '__stack_chk_fail' <<<"$syms" || fail "suture has no stack protector (no __stack_chk_fail)"
grep -Eq '__(snprintf|memcpy|fprintf|printf|vsnprintf)_chk' <<<"$syms" ||
	fail "suture calls no fortified libc function (_FORTIFY_SOURCE not in effect)"
objdump -d --no-show-raw-insn "$SUTURE" | grep -A1 '<main>:' | grep -q endbr64 ||
	fail "main does not start with endbr64 (-fcf-protection not in effect)"
obj=$(find "$TOP/out/obj" -name 'main.o' | head -n1)
[ -n "$obj" ] || skip "no object files to check the CET property of"
readelf -n "$obj" | grep -q 'IBT, SHSTK' || fail "$obj lacks the x86 IBT/SHSTK property"
