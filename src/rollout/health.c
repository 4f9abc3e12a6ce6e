/* SPDX-License-Identifier: Apache-2.0 */
/* The health of the processes a rollout patched so far (rollout.h, docs/rollout.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rollout/rollout.h"
#include "util/buf.h"

#define HEALTH_CMD_TIMEOUT_MS 60000

static void add(struct sut_ro_wave *w, pid_t pid, const char *check, bool ok, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));
static void add(struct sut_ro_wave *w, pid_t pid, const char *check, bool ok, const char *fmt,
		...)
{
	w->health = sut_xrealloc(w->health, (w->nhealth + 1) * sizeof *w->health);
	struct sut_ro_check *c = &w->health[w->nhealth++];
	memset(c, 0, sizeof *c);
	c->pid = pid;
	snprintf(c->check, sizeof c->check, "%s", check);
	c->ok = ok;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
}

static const struct sut_ro_proc *proc_of(const struct sut_rollout *ro, pid_t pid)
{
	for (size_t i = 0; i < ro->nprocs; i++)
		if (ro->procs[i].pid == pid)
			return &ro->procs[i];
	return NULL;
}

/* the crash signals pending for the process (SigPnd, ShdPnd of /proc/PID/status) */
static unsigned long long crash_pending(pid_t pid)
{
	static const int crash[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	unsigned long long mask = 0, m;
	while (fgets(line, sizeof line, f))
		if ((sscanf(line, "SigPnd: %llx", &m) == 1) || (sscanf(line, "ShdPnd: %llx", &m) == 1))
			mask |= m;
	fclose(f);
	unsigned long long out = 0;
	for (size_t i = 0; i < sizeof crash / sizeof crash[0]; i++)
		if (mask & (1ull << (crash[i] - 1)))
			out |= 1ull << (crash[i] - 1);
	return out;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* runs the operator's command; its status in *st; -1 when it cannot be started */
static int run_command(const struct sut_rollout *ro, size_t wave, int *st, bool *timed_out)
{
	char pids[4096] = "";
	size_t off = 0;
	for (size_t w = 0; w <= wave; w++)
		for (size_t k = 0; k < ro->waves[w].npids && off < sizeof pids - 16; k++)
			off += (size_t)snprintf(pids + off, sizeof pids - off, "%s%d", off ? "," : "",
						(int)ro->waves[w].pids[k]);
	char wv[24];
	snprintf(wv, sizeof wv, "%zu", wave + 1);
	*timed_out = false;
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL); /* the cli holds signals (cli/stop.h) */
		setenv("SUTURE_ROLLOUT_ID", ro->id, 1);
		setenv("SUTURE_ROLLOUT_WAVE", wv, 1);
		setenv("SUTURE_ROLLOUT_PIDS", pids, 1);
		int null = open("/dev/null", 0);
		if (null >= 0)
			dup2(null, 0);
		dup2(2, 1); /* the command's output is a message, not suture's document */
		execl("/bin/sh", "sh", "-c", ro->health_cmd, (char *)NULL);
		_exit(127);
	}
	for (long waited = 0;; waited += 20) {
		pid_t r = waitpid(c, st, WNOHANG);
		if (r == c)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited >= HEALTH_CMD_TIMEOUT_MS) {
			kill(c, SIGKILL);
			waitpid(c, st, 0);
			*timed_out = true;
			return 0;
		}
		sleep_ms(20);
	}
}

static void check_process(struct sut_ro_wave *w, const struct sut_rollout *ro, pid_t pid,
			  struct sut_patch *const *patches, size_t n,
			  const struct sut_rollout_hooks *h)
{
	const struct sut_ro_proc *p = proc_of(ro, pid);
	uint64_t start;
	char state;
	if (sut_ro_proc_stat(pid, &start, NULL, NULL, &state) < 0 || (p && start != p->start_time)) {
		add(w, pid, "alive", false, "process %d is gone", (int)pid);
		return;
	}
	if (state == 'Z' || state == 'X') {
		add(w, pid, "alive", false, "process %d has exited (zombie)", (int)pid);
		return;
	}
	add(w, pid, "alive", true, "%s", "");

	uint64_t now[SUT_ROLLOUT_MAX_LISTEN * 4];
	int k = sut_proc_listening_inodes(pid, now, sizeof now / sizeof now[0]);
	size_t lost = 0;
	uint64_t first = 0;
	for (size_t i = 0; p && i < p->nlisten; i++) {
		bool found = false;
		for (int j = 0; j < k && (size_t)j < sizeof now / sizeof now[0]; j++)
			found |= now[j] == p->listen[i];
		if (!found && !lost++)
			first = p->listen[i];
	}
	if (lost)
		add(w, pid, "sockets", false,
		    "process %d no longer listens on %zu of its %zu TCP sockets (inode %llu)",
		    (int)pid, lost, p->nlisten, (unsigned long long)first);
	else
		add(w, pid, "sockets", true, "%zu listening", p ? p->nlisten : 0);

	unsigned long long sig = crash_pending(pid);
	if (sig) {
		int s = __builtin_ctzll(sig) + 1;
		const char *nm = sigabbrev_np(s);
		add(w, pid, "signals", false, "process %d has SIG%s pending", (int)pid,
		    nm ? nm : "?");
	} else {
		add(w, pid, "signals", true, "%s", "");
	}

	if (ro->dry_run) {
		add(w, pid, "verify", true, "dry run: nothing applied to verify");
		return;
	}
	struct sut_vfy_result vr;
	struct sut_err err = {0};
	if (sut_verify_process(pid, h->known, &vr, &err) < 0) {
		add(w, pid, "verify", false, "process %d: %s", (int)pid, err.msg);
		return;
	}
	const char *bad = NULL;
	struct sut_process_view *view = NULL;
	struct sut_err e2 = {0};
	if (sut_process_view_read(pid, &view, &e2) == 0) {
		for (size_t i = 0; i < n && !bad; i++)
			if (sut_process_view_object(view, patches[i]->build_id,
						    patches[i]->build_id_len) &&
			    !sut_vfy_proved(&vr, patches[i]->id))
				bad = patches[i]->id;
		sut_process_view_free(view);
	}
	if (bad) {
		const char *why = vr.nissues ? vr.issues[0].msg : "no record of it";
		add(w, pid, "verify", false, "process %d: patch %s not proved: %s", (int)pid, bad,
		    why);
	} else {
		add(w, pid, "verify", true, "%zu patch%s proved", vr.npatches,
		    vr.npatches == 1 ? "" : "es");
	}
	sut_vfy_result_free(&vr);
}

bool sut_rollout_health(struct sut_rollout *ro, size_t wave, struct sut_patch *const *patches,
			size_t n, const struct sut_rollout_hooks *h)
{
	struct sut_ro_wave *w = &ro->waves[wave];
	free(w->health);
	w->health = NULL;
	w->nhealth = 0;
	for (size_t i = 0; i <= wave; i++)
		for (size_t k = 0; k < ro->waves[i].npids; k++)
			check_process(w, ro, ro->waves[i].pids[k], patches, n, h);
	if (ro->health_cmd) {
		int st = 0;
		bool to;
		if (run_command(ro, wave, &st, &to) < 0)
			add(w, 0, "command", false, "cannot run the health command: %s",
			    strerror(errno));
		else if (to)
			add(w, 0, "command", false, "the health command did not end within %d s",
			    HEALTH_CMD_TIMEOUT_MS / 1000);
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			add(w, 0, "command", true, "exit status 0");
		else if (WIFEXITED(st))
			add(w, 0, "command", false, "the health command exited with status %d",
			    WEXITSTATUS(st));
		else
			add(w, 0, "command", false, "the health command was killed by SIG%s",
			    sigabbrev_np(WTERMSIG(st)) ?: "?");
	}
	bool ok = true;
	for (size_t i = 0; i < w->nhealth; i++)
		ok &= w->health[i].ok;
	return ok;
}
