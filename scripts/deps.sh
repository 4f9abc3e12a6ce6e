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
  ansible-core       # the Ansible collection (contrib/ansible) and its fleet test
  openssh-server     # sshd of the fleet test's namespace hosts (started by the test only)
  strace             # bench/reads.sh counts what a transaction reads
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
# openssh-server is here only for the fleet test, which runs its own sshd inside namespaces:
# the machine did not run sshd before, so the service the package starts is stopped again.
for p in "${missing[@]}"; do
  if [ "$p" = openssh-server ] && [ -d /run/systemd/system ]; then
    systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
done
