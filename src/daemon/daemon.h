/* SPDX-License-Identifier: Apache-2.0 */
/* The `daemon` layer: sutured's engine. It keeps every process on the machine patched as
 * the store says (store.h), through the same apply transactions as the command line
 * (apply.h), and answers `suture daemon status|reload` on a control socket.
 *
 * What it guarantees, and how:
 *   - at start and after every change of the store or the policy file (inotify on the
 *     store folders and /etc/suture; a change is acted on within 50 ms), every process
 *     that maps the target build-id of an `auto` patch gets it, unless a rule excludes
 *     it; a patch that stops being `auto` (removed, or set to manual) is reverted
 *     everywhere (in the processes that map its target build: a patch of the same id
 *     for another build is not the daemon's). The ids the daemon enforces and their
 *     target build-ids are kept in ROOT/var/lib/suture/sutured.managed, so a patch
 *     removed while the daemon was down is reverted when it starts again;
 *   - new processes and libraries loaded later (the kernel hold, khold.c): a uprobe on
 *     the first initialiser of every file whose build-id is an auto patch's target stops
 *     a process (SIGSTOP from eBPF) when its dynamic linker is about to run that
 *     library's initialisers, at exec or in dlopen; the daemon patches it and continues
 *     it (always: patched, not patchable within 10 s, or the daemon stopping; its guard
 *     process continues what a killed daemon held, the next daemon takes over what both
 *     left, from a map pinned in bpffs). Processes with a controlling terminal (unless
 *     hold-terminal) and traced ones are told, not stopped, and looked at at once;
 *   - new processes without the kernel hold (no eBPF, or switched off): the kernel's
 *     process-events connector (netlink, CN_PROC) reports
 *     each exec; the new process is checked at once and again at 0.5, 1, 2 ... 128 ms
 *     after its exec (the dynamic linker maps its libraries in that time) and patched as
 *     soon as it maps a target. This is after the exec, not before the library's code
 *     runs: a process that calls the vulnerable function within the first milliseconds
 *     can run the old code once (docs/daemon.md gives the measured window);
 *   - held new processes: a program that preloads libsutured-hold.so (LD_PRELOAD or
 *     /etc/ld.so.preload) connects to ROOT/run/suture/hold.sock from its constructor, once
 *     its libraries are mapped and relocated and before main, and waits (at most its
 *     timeout, 500 ms by default) until the daemon has looked at it and patched it; one
 *     that maps a target is answered only once patched (a failed transaction is tried
 *     again while it waits), once it exits, or once it gave up waiting, and a release
 *     without the patch is logged with the reason;
 *   - libraries loaded later (dlopen) and anything the connector missed (its buffer
 *     overran, or the connector is unavailable): every process is looked at again every
 *     rescan-ms (default 1000 ms); a process whose executable mappings did not change
 *     since the last look costs one read of its maps;
 *   - the state is in the processes: before applying, the daemon reads the process's
 *     registry and skips what is there, so a restarted or SIGKILLed daemon applies
 *     nothing twice, and a transaction it was killed in is repaired by the apply layer;
 *   - a process it cannot patch (excluded, a transaction that failed: seccomp, traced,
 *     consistency timeout...) is listed with the reason and retried with a backoff of
 *     1 s doubling to 5 min (excluded ones are not retried until the policy changes).
 *
 * The layer never prints: messages, audit records and service-manager notifications go
 * through the hooks its caller (sutured's main) provides. */
#ifndef SUTURE_DAEMON_DAEMON_H
#define SUTURE_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "apply/apply.h"
#include "store/store.h"
#include "util/err.h"

/* Priorities as syslog(3)'s (LOG_ERR 3 ... LOG_DEBUG 7), which journald understands. */
struct sut_daemon_hooks {
	void *ctx;
	sut_store_verify_fn verify; /* called with verify_ctx */
	void *verify_ctx;
	/* a message; pid 0 and patch NULL when it concerns neither */
	void (*log)(void *ctx, int prio, pid_t pid, const char *patch, const char *msg);
	/* one finished transaction, as the command line records it */
	void (*audit)(void *ctx, const char *action, const struct sut_txn_result *r,
		      const char *patch_id, const char *error);
	/* the daemon is serving (first time) or changed its status line */
	void (*ready)(void *ctx, const char *status);
	/* called at least every 250 ms while the event loop turns (for a watchdog) */
	void (*alive)(void *ctx);
};

struct sut_daemon_opts {
	const char *root;     /* store root ("" or NULL: the system's) */
	bool no_connector;    /* do not use the process-events connector (tests, fallback) */
	bool no_kernel_hold;  /* do not stop new processes at the target's initialiser (eBPF) */
};

/* Runs until SIGTERM or SIGINT (SIGHUP reloads). Blocks those signals in the calling
 * thread. Returns 0 after a clean stop, -1 if it could not start (err says why). */
int sut_daemon_run(const struct sut_daemon_opts *o, const struct sut_daemon_hooks *h,
		   struct sut_err *err);

/* The control protocol: the client sends one line ("status" or "reload"), the daemon
 * answers with one JSON document and closes. Only root may connect (SO_PEERCRED). */
#define SUT_DAEMON_REQ_MAX 64

#endif
