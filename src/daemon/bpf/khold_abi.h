/* SPDX-License-Identifier: Apache-2.0 */
/* What the kernel hold's BPF program (khold.bpf.c) and sutured (khold.c) share: the keys
 * and values of its maps and the events of its ring buffer. Fixed-width fields only. */
#ifndef SUTURE_DAEMON_KHOLD_ABI_H
#define SUTURE_DAEMON_KHOLD_ABI_H

#define KHOLD_MAX_HELD 4096

/* config[0] */
#define KHOLD_CFG_ON 1ull       /* stop processes (else only tell) */
#define KHOLD_CFG_TERMINAL 2ull /* stop processes with a controlling terminal too */

/* khold_event.flags */
#define KHOLD_EV_NOT_HELD 1u /* told, not stopped (the reasons below) */
#define KHOLD_EV_TERMINAL 2u /* it has a controlling terminal */
#define KHOLD_EV_TRACED 4u   /* it is traced (a debugger) */
#define KHOLD_EV_OFF 8u      /* the hold is switched off */
#define KHOLD_EV_FULL 16u    /* the held map is full */
#define KHOLD_EV_NOSIG 32u   /* the signal could not be sent */

/* One stop in the held map: the key is the process and the stop's sequence number (two
 * stops of one process, e.g. two target libraries, are two entries). */
struct khold_key {
	__u32 pid;
	__u32 pad;
	__u64 seq;
};

struct khold_rec {
	__u64 start_boottime; /* the task's start_boottime: /proc/PID/stat's starttime */
	__u64 ts_ns;          /* CLOCK_BOOTTIME of the stop */
	__u64 cookie;         /* which probe (sutured's number for the file) */
	__u32 tid;
	__u32 pad;
};

struct khold_event {
	__u32 pid, tid;
	__u64 seq; /* 0 when not held */
	__u64 cookie;
	__u64 ts_ns;
	__u64 start_boottime;
	__u32 flags;
	__u32 pad;
};

#endif
