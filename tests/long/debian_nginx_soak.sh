#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian nginx test (tests/integration/debian_nginx.sh) with many rounds: the two
# 3.0.22 fixes applied with `apply --all` to Debian's nginx master, workers and the probe
# and reverted DEB_SOAK_ROUNDS times (default 200) under continuous new TLS handshakes,
# with zero failed requests.
ROUNDS=${DEB_SOAK_ROUNDS:-200} exec bash "$(dirname "$0")/../integration/debian_nginx.sh"
