#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A fleet of throw-away hosts on one machine, to try the collection (docs/fleet.md) and to
# test it (tests/integration/ansible_fleet.sh). Each host is its own PID, mount and
# network namespace: its own /proc (suture there sees only that host's processes), its
# own /run, /var/log and /var/lib/suture (tmpfs: locks, audit trail, rollout state), an
# address on a bridge, and sshd. The bridge lives in a controller network namespace, so
# the hosts are reached only from there (`nshosts.sh exec`), never from the machine's own
# network. Needs root, iproute2, util-linux and openssh-server (sshd is only ever started
# here, in the hosts).
#
#   nshosts.sh start DIR N [INIT]  N hosts; INIT (a bash command) runs in each host before
#                                  sshd, with NSHOST (1..N) set; DIR gets the keys, the
#                                  inventory (DIR/inventory/hosts, group "fleet") and
#                                  each host's logs
#   nshosts.sh exec DIR CMD...     run CMD in the controller namespace (ansible-playbook ...)
#   nshosts.sh host DIR I CMD...   run CMD inside host I
#   nshosts.sh stop DIR            end every host and the controller namespace
set -euo pipefail
NET=${NSHOSTS_NET:-10.213.77} # a /24 that exists only inside the controller namespace
SELF=$(readlink -f "$0")

die() { echo "nshosts: $*" >&2; exit 1; }
netns_of() { readlink "/proc/$1/ns/net" 2>/dev/null || true; }
# wait_unshared PID: until PID runs in a network namespace other than ours
wait_unshared() {
	local i
	for ((i = 0; i < 250; i++)); do
		[ -n "$(netns_of "$1")" ] && [ "$(netns_of "$1")" != "$(netns_of $$)" ] && return 0
		sleep 0.02
	done
	die "process $1 did not get its own network namespace"
}
ctl_pid() { cat "$1/controller.pid" 2>/dev/null || die "no fleet in $1 (nshosts.sh start first)"; }
# host_init DIR I: the PID (in our namespace) of host I's PID 1
host_init() {
	local u
	u=$(cat "$1/host$2/unshare.pid" 2>/dev/null) || die "no host $2 in $1"
	awk '{print $1}' "/proc/$u/task/$u/children" 2>/dev/null
}

# PID 1 of one host: private mounts, network from the controller, INIT, sshd.
host_main() {
	local dir=$1 i=$2 addr=$3 init=$4 k
	mount --make-rprivate /
	mount -t proc proc /proc
	for m in /run /var/log /var/lib/suture; do mount -t tmpfs -o mode=755 tmpfs "$m"; done
	mkdir -m 755 /run/sshd
	for ((k = 0; k < 250; k++)); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.02; done
	ip link set lo up
	ip addr add "$addr/24" dev eth0
	ip link set eth0 up
	if [ -n "$init" ]; then NSHOST=$i bash -c "$init" || echo "nshosts: host$i: INIT failed" >&2; fi
	/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
	wait
}

start() {
	local dir=$1 n=$2 init=${3:-} i u c
	[ "$(id -u)" = 0 ] || die "namespace hosts need root"
	[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd is missing (apt install openssh-server)"
	[[ $n =~ ^[1-9][0-9]?$ ]] && [ "$n" -le 80 ] || die "between 1 and 80 hosts, not '$n'"
	[ ! -e "$dir/controller.pid" ] || die "$dir already has a fleet (nshosts.sh stop $dir)"
	mkdir -p "$dir/ssh" "$dir/inventory"
	dir=$(cd "$dir" && pwd)
	# /var/lib/suture is where each host mounts its private tmpfs
	if [ ! -d /var/lib/suture ]; then mkdir -p /var/lib/suture && touch "$dir/made-var-lib-suture"; fi
	[ -e "$dir/ssh/id" ] || ssh-keygen -q -t ed25519 -N '' -C nshosts -f "$dir/ssh/id"
	[ -e "$dir/ssh/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C nshosts-host -f "$dir/ssh/host_key"
	install -m 600 "$dir/ssh/id.pub" "$dir/ssh/authorized_keys"
	: >"$dir/ssh/known_hosts"

	setsid unshare --net --kill-child -- sleep infinity </dev/null >/dev/null 2>&1 &
	c=$!
	echo "$c" >"$dir/controller.pid"
	wait_unshared "$c"
	nsenter -t "$c" -n -- ip link set lo up
	nsenter -t "$c" -n -- ip link add br0 type bridge
	nsenter -t "$c" -n -- ip addr add "$NET.1/24" dev br0
	nsenter -t "$c" -n -- ip link set br0 up

	{
		echo "[fleet]"
		for ((i = 1; i <= n; i++)); do echo "host$i ansible_host=$NET.$((10 + i))"; done
		cat <<EOF

[fleet:vars]
ansible_user=root
ansible_ssh_private_key_file=$dir/ssh/id
ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=$dir/ssh/known_hosts'
ansible_python_interpreter=/usr/bin/python3
EOF
	} >"$dir/inventory/hosts"

	for ((i = 1; i <= n; i++)); do
		mkdir -p "$dir/host$i"
		cat >"$dir/host$i/sshd_config" <<EOF
ListenAddress $NET.$((10 + i)):22
HostKey $dir/ssh/host_key
AuthorizedKeysFile $dir/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
Subsystem sftp internal-sftp
EOF
		setsid unshare --pid --fork --mount --net --kill-child -- \
			"$SELF" _host "$dir/host$i" "$i" "$NET.$((10 + i))" "$init" \
			</dev/null >"$dir/host$i/host.log" 2>&1 &
		u=$!
		echo "$u" >"$dir/host$i/unshare.pid"
		wait_unshared "$u"
		nsenter -t "$c" -n -- ip link add "vh$i" type veth peer name eth0 netns "$u"
		nsenter -t "$c" -n -- ip link set "vh$i" master br0 up
	done
	echo "$n" >"$dir/hosts"
	for ((i = 1; i <= n; i++)); do
		for ((u = 0; u < 500; u++)); do
			grep -q 'Server listening' "$dir/host$i/sshd.log" 2>/dev/null && break
			sleep 0.02
		done
		grep -q 'Server listening' "$dir/host$i/sshd.log" 2>/dev/null ||
			die "host$i: sshd did not start: $(cat "$dir/host$i/host.log" "$dir/host$i/sshd.log" 2>/dev/null | tail -n 5)"
	done
	echo "nshosts: $n hosts up, inventory $dir/inventory/hosts"
}

stop() {
	local dir=$1 p f
	for f in "$dir"/cp/*; do # ssh masters Ansible left in DIR/cp, if it was told to keep them there
		[ -S "$f" ] && [ -e "$dir/controller.pid" ] &&
			nsenter -t "$(ctl_pid "$dir")" -n -- ssh -o ControlPath="$f" -O exit x >/dev/null 2>&1 || true
	done
	for f in "$dir"/host*/unshare.pid "$dir/controller.pid"; do
		[ -e "$f" ] || continue
		p=$(cat "$f")
		# only a process that is still the unshare we started
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = unshare ] && kill -9 "$p" 2>/dev/null || true
		rm -f "$f"
	done
	if [ -e "$dir/made-var-lib-suture" ]; then rmdir /var/lib/suture 2>/dev/null || true; rm -f "$dir/made-var-lib-suture"; fi
}

case ${1:-} in
start) [ $# -ge 3 ] || die "usage: nshosts.sh start DIR N [INIT]"; start "$2" "$3" "${4:-}" ;;
stop) [ $# -eq 2 ] || die "usage: nshosts.sh stop DIR"; stop "$2" ;;
exec) [ $# -ge 3 ] || die "usage: nshosts.sh exec DIR CMD..."; d=$2; shift 2; exec nsenter -t "$(ctl_pid "$d")" -n -- "$@" ;;
host)
	[ $# -ge 4 ] || die "usage: nshosts.sh host DIR I CMD..."
	d=$2 i=$3; shift 3
	p=$(host_init "$d" "$i"); [ -n "$p" ] || die "host $i is not running"
	exec nsenter -t "$p" -m -p -n --wd="$PWD" -- "$@"
	;;
_host) host_main "$2" "$3" "$4" "$5" ;;
*) die "usage: nshosts.sh start DIR N [INIT] | exec DIR CMD... | host DIR I CMD... | stop DIR" ;;
esac
