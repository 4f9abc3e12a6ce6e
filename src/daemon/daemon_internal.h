/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the daemon layer: the engine's state and the parts that share it. */
#ifndef SUTURE_DAEMON_DAEMON_INTERNAL_H
#define SUTURE_DAEMON_DAEMON_INTERNAL_H

#include <glib.h>
#include <jansson.h>
#include <stdarg.h>

#include "daemon/daemon.h"

/* What a look at a process found (reconcile.c, dm_ensure). */
/* DM_NONE: it maps no target; DM_WAIT: it maps a target whose text the dynamic linker has
 * not mapped yet (looked at again); DM_DONE: nothing left to apply; DM_FAILED: a
 * transaction failed, or an earlier failure's backoff is not over (the reason is in
 * problems); DM_GONE: it exited (or its maps cannot be read). */
enum dm_verdict { DM_NONE, DM_WAIT, DM_DONE, DM_APPLIED, DM_EXCLUDED, DM_FAILED, DM_GONE };

/* A process the daemon could not patch (or may not), with the reason. */
struct dm_problem {
	pid_t pid;
	char comm[32];
	char *patch;   /* may be NULL */
	char *reason;
	bool excluded;
	unsigned failures;
	uint64_t retry_ms; /* monotonic ms before which it is not tried again */
};

/* A process that exec'd recently and maps no target yet: looked at again. */
struct dm_pending {
	pid_t pid;
	uint64_t exec_ns; /* CLOCK_MONOTONIC of the exec (the connector's timestamp) */
	uint64_t next_ns;
	unsigned tries;
	unsigned stable; /* consecutive looks that found the same executable mappings */
};

/* A held process (hold.c) that maps a target and is not patched yet: answered once it is
 * patched, once it exits, or once it gave up waiting; looked at again meanwhile. */
struct dm_held {
	int fd;         /* the preload's connection; -1 for a process the kernel hold stopped */
	uint64_t kseq;  /* kernel hold: the stop's number in the held map (0: preload) */
	uint64_t kstart; /* kernel hold: the process's start_boottime */
	pid_t pid;
	uint64_t since_ns, next_ns;
	unsigned tries;
	enum dm_verdict last;
};

/* What the last look at a process found, to skip it next time if nothing changed. */
struct dm_seen {
	uint64_t sig, prev_sig; /* signature of its executable file mappings, now and before */
	uint64_t gen;
	unsigned nexec;         /* executable file mappings */
	bool candidate;         /* maps a target of an auto patch */
};

struct dm_counters {
	uint64_t exec_events, exec_checked, overruns, full_passes;
	uint64_t applied, reverted, failed, processes_patched_new;
	uint64_t exec_to_patched_last_us, exec_to_patched_max_us, exec_to_patched_sum_us;
	uint64_t held, held_patched, hold_max_us, hold_sum_us; /* hold.c */
	uint64_t hold_retries, held_unpatched; /* looks again; released with a target unpatched */
	uint64_t kheld, khold_events, khold_not_held, khold_probes; /* khold.c */
	uint64_t kheld_patched, khold_max_us, khold_sum_us;
};

struct dm_khold;

struct sut_daemon {
	struct sut_daemon_hooks h;
	struct sut_store_paths paths;
	struct sut_conf conf;
	struct sut_store store;
	bool store_ok;
	uint64_t gen;              /* +1 at every reload: invalidates the look-again cache */
	struct sut_patch **auto_v; /* the store's auto patches, in store order */
	size_t nauto;
	GPtrArray *managed;        /* ids the daemon enforces (char *), persisted */
	GHashTable *managed_bid;   /* id -> hex build-id of its target, when known, persisted */
	GHashTable *seen;          /* pid -> struct dm_seen: maps signature at gen */
	GHashTable *problems;      /* pid -> struct dm_problem */
	GHashTable *not_target;    /* "maj:min:inode" of executable files that are no target */
	GArray *pending;           /* struct dm_pending */
	GArray *held;              /* struct dm_held: held processes not answered yet */
	struct dm_counters c;
	bool connector;            /* the connector is in use */
	struct dm_khold *kh;       /* the kernel hold, NULL when off or unavailable */
	char khold_state[16];      /* "active", "off", "unavailable" */
	char khold_why[384];       /* what it does, or why it is not in use */
	uint64_t started;          /* CLOCK_REALTIME seconds */
	int nl_fd, ino_fd, sig_fd, ctl_fd, hold_fd, ep_fd;
	uint64_t reload_at_ns;     /* 0: none scheduled */
	uint64_t next_pass_ns;
	bool stop;
};

uint64_t dm_now_ns(void);
void dm_log(struct sut_daemon *d, int prio, pid_t pid, const char *patch, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* connector.c: the process-events connector. */
int dm_connector_open(int *fd, struct sut_err *err);
/* Reads what is queued; calls on_exec for each exec, on_exit for each process exit.
 * Returns 1 if events were lost (buffer overrun), else 0. */
int dm_connector_read(int fd, void (*on_exec)(void *ctx, pid_t pid, uint64_t ts_ns),
		      void (*on_exit)(void *ctx, pid_t pid), void *ctx);

/* state.c: the store as the daemon sees it, and the managed-ids file. */
int dm_reload(struct sut_daemon *d); /* re-reads store and policy; -1 keeps the old ones */
/* Frees the store, the policy and the auto list the daemon holds (at a reload, at the end). */
void dm_store_drop(struct sut_daemon *d);
void dm_managed_save(struct sut_daemon *d);
void dm_managed_load(struct sut_daemon *d);
bool dm_is_auto(const struct sut_daemon *d, const char *id);

/* reconcile.c: making processes as the store says. */
/* flags of dm_ensure */
#define DM_FRESH 1u /* look at its objects even if its maps did not change since the last look */
#define DM_NOW 2u   /* try now, even within the backoff of an earlier failure (held processes) */
enum dm_verdict dm_ensure(struct sut_daemon *d, pid_t pid, unsigned flags);
/* One look at every process: reverts ids no longer enforced, applies auto patches. */
void dm_full_pass(struct sut_daemon *d);
void dm_forget_pid(struct sut_daemon *d, pid_t pid);

/* hold.c: the hold socket of libsutured-hold.so. */
int dm_hold_open(struct sut_daemon *d, struct sut_err *err);
void dm_hold_accept(struct sut_daemon *d);
/* Looks again at the held processes that are due; the earliest next look (0: none). */
uint64_t dm_hold_retry(struct sut_daemon *d, uint64_t now);
void dm_hold_close_all(struct sut_daemon *d);
/* Every process the kernel hold stopped is continued now, patched or not (why: logged for
 * those not patched yet); the preload's waiting processes stay. */
void dm_hold_release_kernel(struct sut_daemon *d, const char *why);

/* loop.c: a process found starting (an exec event, or a kernel hold event for a process
 * that was not stopped): looked at now and again over its first 128 ms. */
void dm_new_process(struct sut_daemon *d, pid_t pid, uint64_t ts_ns);

/* hold.c: a process the kernel hold stopped (its map entry pid/seq). */
void dm_hold_add_kernel(struct sut_daemon *d, pid_t pid, uint64_t seq, uint64_t start_boottime);

/* khold.c: the kernel hold (uprobes on targets' first initialisers, eBPF). */
/* Loads the BPF program, pins the held map, forks the guard; -1 (with the reason in
 * d->khold_state/khold_why) when off or unavailable. Needs the policy loaded. */
int dm_khold_open(struct sut_daemon *d, bool disabled);
/* Probes the known target files, then takes over stops an earlier sutured left. */
void dm_khold_start(struct sut_daemon *d);
/* After a reload: probes for the auto patches' targets, none for others. */
void dm_khold_sync(struct sut_daemon *d);
/* Each pass: the library folders and hold-paths again (a library replaced on disk, a
 * new inode, gets its probe); files already probed or checked cost a stat. */
void dm_khold_scan_paths(struct sut_daemon *d);
void dm_khold_set_terminal(struct sut_daemon *d);
/* An object of a process whose build-id is a target: probed if its file is not yet. */
void dm_khold_note_object(struct sut_daemon *d, pid_t pid, const char *open_path);
int dm_khold_fd(struct sut_daemon *d); /* for epoll; -1 when off */
void dm_khold_read(struct sut_daemon *d); /* queues the stops told */
/* Patches (and continues) a few queued stops; true while more are queued. */
bool dm_khold_work(struct sut_daemon *d);
/* Each pass: stops in the map that no event told (a full ring buffer) are queued. */
void dm_khold_untold(struct sut_daemon *d);
/* The loop turned: the guard leaves stops to a daemon that keeps turning. */
void dm_khold_beat(struct sut_daemon *d);
/* Once per turn: a guard process that died while sutured lives is forked again (logged,
 * with both pids); -1 when it cannot be (d->khold_why says why): the caller ends the
 * kernel hold (dm_hold_release_kernel, dm_khold_close) and falls back to exec events. */
int dm_khold_guard_check(struct sut_daemon *d);
bool dm_khold_same(struct sut_daemon *d, pid_t pid, uint64_t start_boottime);
/* Same process, and its state letter from /proc/PID/stat into *state. */
bool dm_khold_state(struct sut_daemon *d, pid_t pid, uint64_t start_boottime, char *state);
void dm_khold_continue(struct sut_daemon *d, pid_t pid, uint64_t seq, uint64_t start_boottime);
json_t *dm_khold_json(struct sut_daemon *d);
void dm_khold_close(struct sut_daemon *d);

/* control.c: the control socket. */
int dm_control_open(struct sut_daemon *d, struct sut_err *err);
void dm_control_accept(struct sut_daemon *d);
char *dm_status_json(struct sut_daemon *d); /* malloc'd */

#endif
