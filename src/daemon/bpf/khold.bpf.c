/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel hold (src/daemon/khold.c): a uprobe on the first initialiser of every file
 * whose build-id is the target of an auto patch, attached system-wide by sutured. A
 * process that reaches it (the dynamic linker running the library's initialisers, at
 * exec or in dlopen) is stopped with SIGSTOP before any of the library's constructors
 * runs; the stop is recorded in the `held` map (pinned, so that whoever continues held
 * processes after a sutured died knows exactly which) and told to sutured through the
 * `events` ring buffer. sutured patches the process, then sends SIGCONT.
 *
 * Not stopped (only told): a process with a controlling terminal, unless the
 * configuration says so (a job-control shell would report a stopped foreground job and
 * take the terminal back), and a process traced by a debugger (the debugger would see
 * the SIGSTOP). */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "daemon/bpf/khold_abi.h"

/* Only the fields read, relocated against the running kernel's BTF (CO-RE). */
struct signal_struct {
	void *tty;
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int ptrace;
	unsigned long long start_boottime;
	struct signal_struct *signal;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KHOLD_MAX_HELD);
	/* an empty map costs next to nothing (it outlives sutured, pinned) */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct khold_key);
	__type(value, struct khold_rec);
} held SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* [0]: flags KHOLD_CFG_*; [1]: the sequence counter of stops; [2]: sutured's heartbeat
 * (CLOCK_BOOTTIME of its loop's last turn, read by its guard) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} config SEC(".maps");

#define SIGSTOP 19

SEC("uprobe")
int khold_init(void *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();
	struct khold_event ev = {
		.pid = (__u32)(pt >> 32),
		.tid = (__u32)pt,
		.cookie = bpf_get_attach_cookie(ctx),
		.ts_ns = bpf_ktime_get_boot_ns(),
	};
	__u32 k0 = 0, k1 = 1;
	__u64 *cfg = bpf_map_lookup_elem(&config, &k0);
	__u64 *seq = bpf_map_lookup_elem(&config, &k1);
	if (!cfg || !seq)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	ev.start_boottime = BPF_CORE_READ(t, start_boottime);
	if (BPF_CORE_READ(t, ptrace))
		ev.flags |= KHOLD_EV_TRACED;
	if (BPF_CORE_READ(t, signal, tty))
		ev.flags |= KHOLD_EV_TERMINAL;
	if (!(*cfg & KHOLD_CFG_ON))
		ev.flags |= KHOLD_EV_OFF;
	else if ((ev.flags & KHOLD_EV_TERMINAL) && !(*cfg & KHOLD_CFG_TERMINAL))
		ev.flags |= KHOLD_EV_NOT_HELD;
	if (ev.flags & (KHOLD_EV_TRACED | KHOLD_EV_OFF))
		ev.flags |= KHOLD_EV_NOT_HELD;
	if (!(ev.flags & KHOLD_EV_NOT_HELD)) {
		ev.seq = __sync_fetch_and_add(seq, 1) + 1;
		struct khold_key key = {.pid = ev.pid, .seq = ev.seq};
		struct khold_rec rec = {.start_boottime = ev.start_boottime, .ts_ns = ev.ts_ns,
					.cookie = ev.cookie, .tid = ev.tid};
		/* recorded before the stop: a process stopped here is always in the map */
		if (bpf_map_update_elem(&held, &key, &rec, BPF_NOEXIST) != 0)
			ev.flags |= KHOLD_EV_NOT_HELD | KHOLD_EV_FULL;
		else if (bpf_send_signal(SIGSTOP) != 0) {
			bpf_map_delete_elem(&held, &key);
			ev.flags |= KHOLD_EV_NOT_HELD | KHOLD_EV_NOSIG;
		}
	}
	/* a full ring buffer loses the event, not the record: sutured's pass over the held
	 * map finds the stopped process */
	bpf_ringbuf_output(&events, &ev, sizeof ev, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
