#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A fix that adds a member to a struct the running process already holds instances of
# cannot be live-patched: suture build refuses it, naming the struct, and writes no patch.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario struct_layout
expect_fail "build of a fix changing struct account" \
	"$SUTURE" build --src "$S" --diff "$S/fix.diff" --target prog -o "$T/layout.suture"
stderr_mentions 'layout of struct account changed' "the struct whose layout changed"
[ ! -e "$T/layout.suture" ] || fail "a refused build still wrote a patch file"
