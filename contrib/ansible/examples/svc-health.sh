#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# svc-health.sh RE: the health command of svc-start.sh's service: every port in
# /run/svc/ports answers a first line matching the regular expression RE; exit 0 = healthy.
set -u
while read -r port; do
	exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "port $port refused" >&2; exit 1; }
	line=$(head -n 1 <&3)
	exec 3<&-
	[[ $line =~ $1 ]] || { echo "port $port answered '$line'" >&2; exit 1; }
done </run/svc/ports
