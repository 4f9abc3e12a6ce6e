#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages suture needs to build and test, only when missing.
# Invariant: idempotent and silent when everything is present, so `make` can call it every time.
set -euo pipefail
need=(gcc make pkg-config libelf-dev libdw-dev libcmocka-dev libssl-dev patch perl jq bc
  dpkg-dev
  libjansson-dev
  clang              # the sanitizer build of make check (libFuzzer coverage)
  libclang-rt-14-dev # libFuzzer and the ASan/UBSan runtimes of clang 14
  python3-jsonschema
  libglib2.0-dev
  libsystemd-dev
  chromium           # renders the HTML of suture report in its test
  libbpf-dev         # sutured's kernel hold loads its eBPF program with libbpf
  bpftool            # ... whose skeleton the build generates
)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages ${missing[*]}; run as root or install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
