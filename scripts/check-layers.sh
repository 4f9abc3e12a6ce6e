#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks the layer rule of DESIGN.md on the source tree:
#   1. a file under src/L/ includes headers of L itself or of layers listed before L in the
#      Makefile's LAYERS, never of a later layer;
#   2. a header named *_internal.h is included only from its own layer.
# Prints one line per violation ("src/a/x.c: includes b/y.h (layer b comes after a)") and
# exits 1 if there is any. The layer order is read from the Makefile, so it is written once.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a layers <<<"$(make -s --no-print-directory print-layers)"
declare -A rank
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done
bad=0
for dir in src/*/; do
	l=$(basename "$dir")
	if [ -z "${rank[$l]+x}" ]; then
		echo "$dir: not a layer in the Makefile's LAYERS"; bad=1; continue
	fi
	for f in "$dir"*.[ch]; do
		[ -e "$f" ] || continue
		while IFS= read -r inc; do
			other=${inc%%/*}
			[ "$other" = "$l" ] && continue
			if [ -z "${rank[$other]+x}" ]; then
				echo "$f: includes $inc (no layer $other)"; bad=1
			elif [ "${rank[$other]}" -gt "${rank[$l]}" ]; then
				echo "$f: includes $inc (layer $other comes after $l)"; bad=1
			elif [[ $inc == *_internal.h ]]; then
				echo "$f: includes $inc (internal to layer $other)"; bad=1
			fi
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z0-9_]*\/[^"]*\)".*/\1/p' "$f")
	done
done
exit $bad
