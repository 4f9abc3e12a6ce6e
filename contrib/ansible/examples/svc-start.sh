#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# svc-start.sh PROGRAM [COPIES]: start COPIES (default 2) processes of the small TCP service
# tests/scenarios/rollout_svc builds, on this host (an nshosts.sh INIT command). Each prints
# "port=N" when it listens on 127.0.0.1; their PIDs and ports go to /run/svc/pids and
# /run/svc/ports, which svc-health.sh reads.
set -eu
prog=$1 copies=${2:-2}
mkdir -p /run/svc
for ((n = 1; n <= copies; n++)); do
	"$prog" >"/run/svc/out.$n" 2>&1 &
	echo $! >>/run/svc/pids
done
for ((n = 1; n <= copies; n++)); do
	for ((i = 0; i < 250; i++)); do grep -q '^port=' "/run/svc/out.$n" && break; sleep 0.02; done
	sed -n 's/^port=\([0-9]*\).*/\1/p' "/run/svc/out.$n" >>/run/svc/ports
done
