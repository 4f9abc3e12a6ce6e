/* SPDX-License-Identifier: Apache-2.0 */
/* sutured: keeps every process patched as the store says (src/daemon/daemon.h). This is
 * the daemon's front end, the one place that writes to the terminal or the journal. It is
 * built as its own program from the same libraries as suture (not part of libcli.a), and
 * shares the command line's trust (cli/trust.h) and audit trail (cli/audit.h), so a patch
 * the daemon applies was checked and is recorded exactly as one the command line applies. */
#include <fcntl.h>
#include <getopt.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "cli/audit.h"
#include "cli/cli.h"
#include "daemon/daemon.h"

static const char usage[] =
	"usage: sutured [--foreground] [--root DIR] [-k|--trusted-key PEM]... [--no-connector]\n"
	"               [--no-kernel-hold]\n"
	"\n"
	"Keeps every process on this machine patched as the patch store says (see `suture\n"
	"store --help`): at start it applies every patch whose policy is auto to every\n"
	"process that maps the patch's target build, then keeps it so for processes started\n"
	"later (stopped by the kernel hold before the target library's constructors run, where\n"
	"eBPF uprobes are available; else exec events from the process-events connector),\n"
	"for libraries loaded later with dlopen (the same hold; else every process is looked\n"
	"at again each rescan-ms, default 1 s),\n"
	"and for changes of the store or of /etc/suture/suture.conf (acted on within 50 ms).\n"
	"A patch removed from the store or set to manual is reverted everywhere. The state is\n"
	"kept in the processes themselves: a restarted sutured applies nothing twice.\n"
	"\n"
	"`suture daemon status` lists the processes it could not patch, with the reason.\n"
	"\n"
	"Options:\n"
	"  -f, --foreground  stay in the foreground, messages on standard error (as\n"
	"                    <PRIORITY>text lines, which journald understands); the default\n"
	"                    under systemd (NOTIFY_SOCKET set) as well\n"
	"  -R, --root DIR    use the store, policy file and control socket under DIR\n"
	"                    (DIR/var/lib/suture, DIR/usr/lib/suture, DIR/etc/suture,\n"
	"                    DIR/run/suture) instead of the system's\n"
	"  -k, --trusted-key PEM  also trust this public key (repeatable); keys are otherwise\n"
	"                    read as `suture apply` reads them\n"
	"      --no-connector  do not use the process-events connector: new processes are\n"
	"                    then found by the periodic pass only\n"
	"      --no-kernel-hold  do not stop new processes at the target library's first\n"
	"                    initialiser (as [daemon] kernel-hold=false)\n"
	"  -h, --help        this text\n"
	"\n"
	"Signals: SIGTERM and SIGINT stop it (processes keep their patches), SIGHUP reloads\n"
	"the store and the policy.\n";

struct front {
	bool journal; /* structured fields to journald, else <N> lines on stderr */
	bool ready_sent;
	bool watchdog;
	struct cli_keys keys;
};

static void log_cb(void *ctx, int prio, pid_t pid, const char *patch, const char *msg)
{
	struct front *f = ctx;
	if (f->journal) {
		char pidf[32] = "", patchf[SUT_PATCH_ID_MAX + 16] = "";
		if (pid)
			snprintf(pidf, sizeof pidf, "SUTURE_TARGET_PID=%d", (int)pid);
		if (patch)
			snprintf(patchf, sizeof patchf, "SUTURE_PATCH=%s", patch);
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio,
				"SYSLOG_IDENTIFIER=sutured", "%s", pid ? pidf : "SUTURE_TARGET_PID=",
				"%s", patch ? patchf : "SUTURE_PATCH=", NULL);
		return;
	}
	fprintf(stderr, "<%d>sutured: %s\n", prio, msg);
}

static void audit_cb(void *ctx, const char *action, const struct sut_txn_result *r,
		     const char *patch_id, const char *error)
{
	(void)ctx;
	cli_audit(action, r, patch_id, error);
}

static void ready_cb(void *ctx, const char *status)
{
	struct front *f = ctx;
	if (!f->ready_sent) {
		sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", status, (int)getpid());
		f->ready_sent = true;
	} else {
		sd_notifyf(0, "STATUS=%s", status);
	}
}

static void alive_cb(void *ctx)
{
	struct front *f = ctx;
	if (f->watchdog)
		sd_notify(0, "WATCHDOG=1");
}

/* Classic detach for systems without a service manager. */
static int detach(void)
{
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p > 0)
		_exit(0);
	setsid();
	p = fork();
	if (p < 0)
		return -1;
	if (p > 0)
		_exit(0);
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	return chdir("/");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"foreground", no_argument, 0, 'f'}, {"root", required_argument, 0, 'R'},
		{"trusted-key", required_argument, 0, 'k'}, {"no-connector", no_argument, 0, 'N'},
		{"no-kernel-hold", no_argument, 0, 'K'},
		{"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
	struct front f = {0};
	struct sut_daemon_opts o = {0};
	bool foreground = getenv("NOTIFY_SOCKET") != NULL;
	int c;
	while ((c = getopt_long(argc, argv, "fR:k:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 'R': o.root = optarg; break;
		case 'k': cli_keys_add(&f.keys, optarg); break;
		case 'N': o.no_connector = true; break;
		case 'K': o.no_kernel_hold = true; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': puts("sutured 0.1.0"); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sutured: unexpected argument '%s'\n", argv[optind]);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	elf_version(EV_CURRENT);
	/* under systemd, stderr is a journal stream: structured fields go to journald */
	f.journal = getenv("JOURNAL_STREAM") != NULL;
	uint64_t wd_usec = 0;
	f.watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;
	if (!foreground) {
		if (detach() < 0) {
			perror("sutured: detach");
			return 1;
		}
		f.journal = true;
	}
	struct sut_daemon_hooks h = {.ctx = &f, .verify = cli_store_verify, .verify_ctx = &f.keys,
				     .log = log_cb, .audit = audit_cb, .ready = ready_cb,
				     .alive = alive_cb};
	struct sut_err err;
	int rc = sut_daemon_run(&o, &h, &err);
	if (rc < 0)
		log_cb(&f, LOG_ERR, 0, NULL, err.msg);
	sd_notify(0, "STOPPING=1");
	free(f.keys.v);
	return rc < 0 ? 1 : 0;
}
