#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# New references to IFUNCs bind to the implementation the process uses, never to the
# resolver. The library fix calls strlen and strchrnul, glibc IFUNCs that libword.so does not
# import (no GOT slot of its own); the program fix calls strchrnul too and twice(), a static
# IFUNC of prog. Bound to the symbols' values, each call would run a resolver and print an
# address. A third fix calls strstr, an IFUNC whose resolved address nothing in the process
# holds: apply refuses it by name and changes nothing.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario bind_ifunc
for t in prog libword.so; do
	readelf --dyn-syms -W "$S/$t" | grep -Ewq 'strlen|strchrnul|strstr' &&
		fail "the scenario is wrong: $t already imports one of the IFUNCs"
done
start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^iter=[0-9]+ word=[a-z]+ m=[0-9]+ sum=[0-9]+$'
ORIG='NF == 8 && $3 == "word" && $6 == $2 % 7'
settled_awk "$T/out" '[ =]' "$ORIG"

# expected fields: word W len L o O (L = length of W, O = offset of its first 'o' or L)
LIB='$5 == "len" && $6 == length($4) && $7 == "o" &&
	$8 == (index($4, "o") ? index($4, "o") - 1 : length($4))'
build_patch word-ifunc "$S/fix-lib.diff" libword.so
sut "apply of the library fix" apply -p "$PID" "$T/word-ifunc.suture"
settled_awk "$T/out" '[ =]' "NF == 12 && $LIB && \$10 == \$2 % 7" 8

# m M t T c C: T = 2 M (prog's own IFUNC), C = length of names[I % 3] = I % 3 + 2
build_patch measure-ifunc "$S/fix-exe.diff" prog
sut "apply of the program fix" apply -p "$PID" "$T/measure-ifunc.suture"
settled_awk "$T/out" '[ =]' "NF == 16 && $LIB && \$10 == \$2 % 7 &&
	\$11 == \"t\" && \$12 == 2 * \$10 && \$13 == \"c\" && \$14 == \$2 % 3 + 2" 8
assert_applied "$PID" "word-ifunc measure-ifunc"

sut "revert of the program fix" revert -p "$PID" measure-ifunc
settled_awk "$T/out" '[ =]' "NF == 12 && $LIB" 4
sut "revert of the library fix" revert -p "$PID" word-ifunc
settled_awk "$T/out" '[ =]' "$ORIG" 4
assert_applied "$PID" ""

# strstr: refused at apply unless this libc calls it through an IRELATIVE slot of its own
LIBC=$(awk '$NF ~ /\/libc\.so\.6$/ { print $NF; exit }' "/proc/$PID/maps")
[ -n "$LIBC" ] || fail "prog maps no libc.so.6"
resolver=$(readelf --dyn-syms -W "$LIBC" | awk '$8 ~ /^strstr@@/ && $4 == "IFUNC" { print $2 }' |
	sed 's/^0*//')
[ -n "$resolver" ] || skip "strstr is not an IFUNC in $LIBC"
build_patch word-strstr "$S/fix-strstr.diff" libword.so
if readelf -rW "$LIBC" | awk '$3 == "R_X86_64_IRELATIVE" { print $4 }' | grep -qx "$resolver"; then
	sut "apply of the strstr fix" apply -p "$PID" "$T/word-strstr.suture"
	settled_awk "$T/out" '[ =]' 'NF == 10 && $5 == "has-em" && $6 == (index($4, "em") > 0)' 4
else
	expect_fail "apply of a fix calling an unresolved IFUNC" "$SUTURE" apply -p "$PID" "$T/word-strstr.suture"
	stderr_mentions 'strstr is an IFUNC of .*libc\.so\.6.*does not run resolvers' "strstr and why"
	settled_awk "$T/out" '[ =]' "$ORIG" 3
	assert_applied "$PID" ""
fi
assert_alive "$PID"
