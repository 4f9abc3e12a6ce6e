#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cost of decoding (validating) an in-process registry against its size, up to a full
# 256 KiB one: what `status`, `exposure` and every transaction pay per process before
# anything else, and what a registry planted by a hostile process can cost at most.
# Prints one JSON document.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
libs=()
for l in apply patch proc elf util; do
	libs+=("$TOP/out/libsut_$l.a")
	[ -f "$TOP/out/libsut_$l.a" ] || { echo "bench: error: out/libsut_$l.a is not built (run make)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/suture-bench-reg-XXXXXX)
trap 'rm -rf "$work"' EXIT
${CC:-cc} -O2 -std=gnu11 -I"$TOP/src" -o "$work/registry_decode" "$TOP/bench/registry_decode.c" \
	-Wl,--start-group "${libs[@]}" -Wl,--end-group -lelf -ldw -lcrypto -lpthread
"$work/registry_decode"
