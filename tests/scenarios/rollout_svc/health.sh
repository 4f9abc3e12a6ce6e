#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The rollout tests' health command: every port listed in $1 answers "status=ok".
set -u
while read -r port; do
	exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
	line=$(head -n 1 <&3)
	exec 3<&-
	case $line in status=ok*) ;; *) echo "port $port answered '$line'" >&2; exit 1 ;; esac
done <"$1"
