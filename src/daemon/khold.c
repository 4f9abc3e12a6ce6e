/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel hold: a uprobe (eBPF, bpf/khold.bpf.c) on the first initialiser of every file
 * whose build-id is the target of an auto patch, attached for every process on the
 * machine. A process whose dynamic linker is about to run the target library's
 * initialisers (at exec, for a program linked with it, or in dlopen) is stopped there by
 * the program with SIGSTOP; sutured patches it and sends SIGCONT. Processes that never map
 * a target never reach a probe and cost nothing.
 *
 * Every stop is in the `held` map before the signal is sent, and the map is pinned in
 * bpffs (/sys/fs/bpf/suture/held[-ROOT]), so whoever continues held processes knows
 * exactly which it stopped and never continues one stopped by its user: sutured itself
 * (released once patched, or at its hold limit, or when it stops), a restarted sutured
 * (it adopts the entries it finds), and the guard, a child process sutured forks at start
 * that does nothing but wait for sutured to end and then continue every process still in
 * the map (a SIGKILLed sutured leaves no process stopped). The guard killed on its own is
 * noticed at the next turn of the loop (dm_khold_guard_check) and forked again; when it
 * cannot be (a failed fork, or too many deaths in a minute) the kernel hold ends, its
 * stops continued, and sutured falls back to exec events, saying why.
 *
 * Files to probe come from the usual library folders (the patch's target name in each),
 * the [daemon] hold-paths of the policy, and the mappings of processes the daemon looks
 * at; each file is opened once, its build-id read and checked against the patch, its
 * first initialiser found by the elf layer, and the probe attached through the open
 * descriptor (/proc/self/fd/N), so the file probed is the file checked. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "daemon/daemon_internal.h"
#include "elf/elf.h"
#include "rollout/rollout.h"
#include "util/buf.h"
#include "util/fault.h"

#include "daemon/bpf/khold_abi.h"
#include "khold.skel.h"

#define BPFFS "/sys/fs/bpf"
/* The guard continues any stop older than this, whatever sutured does (sutured itself
 * releases a held process after 10 s at most, hold.c) */
#define KHOLD_GUARD_NS (12 * 1000000000ull)
/* ... once sutured's loop has not turned (its heartbeat, config[2]) for this long */
#define KHOLD_STUCK_NS (5 * 1000000000ull)
#define PIN_DIR BPFFS "/suture"
/* A guard that dies while sutured lives is forked again, at most this many times within
 * KHOLD_GUARD_WINDOW_NS; one more death in that time ends the kernel hold (something keeps
 * killing it: the OOM killer, a policy), rather than fork in a loop. */
#define KHOLD_GUARD_RESTARTS 3
#define KHOLD_GUARD_WINDOW_NS (60 * 1000000000ull)

/* Library folders where a patch's target is looked for by its name. */
static const char *const lib_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
	"/lib", "/usr/lib", "/usr/local/lib", NULL,
};

/* A target file with a probe on its first initialiser. */
struct dm_probe {
	dev_t dev;
	ino_t ino;
	uint8_t bid[SUT_BUILD_ID_MAX];
	size_t bid_len;
	char *path; /* where it was found (for messages) */
	uint64_t init_vaddr, init_off;
	uint64_t cookie;
	struct bpf_link *link;
};

struct dm_kev {
	pid_t pid;
	uint64_t seq, start;
};

struct dm_khold {
	struct khold *skel;
	GArray *queue;         /* struct dm_kev: stops told, not looked at yet */
	struct ring_buffer *rb;
	GPtrArray *probes;     /* struct dm_probe * */
	GHashTable *refused;   /* "dev:ino" -> reason (char *), files that cannot be probed */
	GHashTable *checked;   /* "dev:ino" of files whose build-id is no target (until reload) */
	uint64_t next_cookie;
	/* this sutured's number, in the upper half of its probes' cookies: its guard continues
	 * only the stops of its probes (a restarted sutured's stops are the new one's) */
	uint32_t instance;
	int guard_fd;          /* write end of the guard's pipe */
	pid_t guard_pid;       /* 0: none (it died and was not restarted) */
	unsigned guard_restarts;   /* since sutured started */
	unsigned guard_recent;     /* deaths within the window that started at guard_window_ns */
	uint64_t guard_window_ns;
	char pin[256];
	char socket[256];      /* sutured's control socket */
	long ticks;            /* sysconf(_SC_CLK_TCK) */
};

/* libbpf's messages: the last warning is kept for the reason of a failure. */
static char libbpf_last[256];
static int libbpf_msg(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG)
		return 0;
	char line[256];
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = 0;
	if (line[0])
		snprintf(libbpf_last, sizeof libbpf_last, "%s", line);
	return 0;
}

static void set_state(struct sut_daemon *d, const char *state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_state(struct sut_daemon *d, const char *state, const char *fmt, ...)
{
	snprintf(d->khold_state, sizeof d->khold_state, "%s", state);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->khold_why, sizeof d->khold_why, fmt, ap);
	va_end(ap);
}

/* Is this (pid, start_boottime) the process that was stopped? starttime in
 * /proc/PID/stat is start_boottime in clock ticks. */
static bool same_process(const struct dm_khold *k, pid_t pid, uint64_t start_boottime,
			 char *state)
{
	uint64_t st;
	char s = 0;
	if (sut_ro_proc_stat(pid, &st, NULL, NULL, &s) < 0 || s == 'Z' || s == 'X')
		return false;
	if (state)
		*state = s;
	return st == start_boottime / (1000000000ull / (uint64_t)k->ticks);
}

/* Continues one stopped process of the map (if it is still that process) and drops its
 * entry: the signal first, so that a sutured killed in between leaves the entry for the
 * guard or the next sutured (a second SIGCONT is harmless). */
static void continue_entry(struct dm_khold *k, int map_fd, const struct khold_key *key,
			   const struct khold_rec *rec)
{
	if (same_process(k, (pid_t)key->pid, rec->start_boottime, NULL))
		kill((pid_t)key->pid, SIGCONT);
	bpf_map_delete_elem(map_fd, key);
}

static uint64_t boot_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Which entries of the held map a sweep continues. */
struct sweep {
	uint32_t instance;   /* made by probes of this sutured (0: of any) */
	uint64_t older_than; /* stopped before this CLOCK_BOOTTIME (0: whenever) */
	bool gone_only;      /* only those whose process is gone (nothing to signal) */
};

static bool sweep_picks(const struct dm_khold *k, const struct sweep *w,
			const struct khold_key *key, const struct khold_rec *rec)
{
	if (w->instance && rec->cookie >> 32 != w->instance)
		return false;
	if (w->older_than && rec->ts_ns >= w->older_than)
		return false;
	return !w->gone_only || !same_process(k, (pid_t)key->pid, rec->start_boottime, NULL);
}

/* Every entry of the map that w picks is continued (continue_entry: signalled if it is still
 * that process, then dropped); returns how many. The one walk of the map that deletes:
 * after each delete it starts again from the beginning. */
static unsigned continue_all(struct dm_khold *k, int map_fd, const struct sweep *w)
{
	unsigned n = 0;
	struct khold_key key, next;
	bool first = true;
	for (int guard = 0; guard < 2 * KHOLD_MAX_HELD; guard++) {
		if (bpf_map_get_next_key(map_fd, first ? NULL : &key, &next) != 0)
			break;
		struct khold_rec rec;
		if (bpf_map_lookup_elem(map_fd, &next, &rec) == 0 && sweep_picks(k, w, &next, &rec)) {
			continue_entry(k, map_fd, &next, &rec);
			n++;
			first = true;
		} else {
			key = next;
			first = false;
		}
	}
	return n;
}

/* Does a sutured answer on this control socket? */
static bool serving(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return true; /* cannot tell: keep the pin */
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true;
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/* The guard: waits for sutured to end (its pipe reads EOF), then continues every process
 * left in the held map, a few times over while in-flight probes finish. Holds nothing but
 * the pipe and the map: every other descriptor is closed (a listening socket kept open
 * here would make a restarted sutured believe another one serves). */
static void guard_main(struct dm_khold *k, int rfd, int map_fd, int cfg_fd)
{
	for (int fd = 3; fd < 4096; fd++)
		if (fd != rfd && fd != map_fd && fd != cfg_fd)
			close(fd);
	prctl(PR_SET_NAME, "sutured-guard", 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char c = 0;
	for (;;) {
		/* once a second: a stop older than 12 s is continued when sutured is stopped
		 * or stuck (it lives on, so the pipe says nothing) */
		struct pollfd pf = {.fd = rfd, .events = POLLIN};
		int pr = poll(&pf, 1, 1000);
		if (pr == 0) {
			/* only when sutured's loop has not turned for a while: a busy one
			 * (a burst being patched) keeps its processes until it gets to them */
			__u32 k2 = 2;
			__u64 beat = 0;
			uint64_t now = boot_ns();
			if (bpf_map_lookup_elem(cfg_fd, &k2, &beat) == 0 &&
			    now - beat > KHOLD_STUCK_NS)
				continue_all(k, map_fd,
					     &(struct sweep){.older_than = now - KHOLD_GUARD_NS});
			continue;
		}
		if (pr < 0 && errno == EINTR)
			continue;
		ssize_t r = read(rfd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	if (c == 'q') /* a clean stop: sutured continued every held process itself */
		_exit(0);
	static const unsigned delays_ms[] = {0, 20, 100, 500, 2000};
	for (size_t i = 0; i < sizeof delays_ms / sizeof delays_ms[0]; i++) {
		usleep(delays_ms[i] * 1000);
		continue_all(k, map_fd, &(struct sweep){.instance = k->instance});
	}
	/* the pin goes with an empty map, unless a new sutured serves this root (it opens
	 * its control socket before it takes the pinned map over) */
	struct khold_key key;
	if (bpf_map_get_next_key(map_fd, NULL, &key) != 0 && !serving(k->socket))
		unlink(k->pin);
	_exit(0);
}

static int start_guard(struct dm_khold *k)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	int map_fd = bpf_map__fd(k->skel->maps.held);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		guard_main(k, p[0], map_fd, bpf_map__fd(k->skel->maps.config));
	}
	close(p[0]);
	k->guard_fd = p[1];
	k->guard_pid = pid;
	return 0;
}

/* How a child ended, from its wait status (known: the status is its own). */
static void describe_exit(int st, bool known, char *out, size_t cap)
{
	if (!known) {
		snprintf(out, cap, "ended (reaped elsewhere)");
	} else if (WIFSIGNALED(st)) {
		const char *n = sigabbrev_np(WTERMSIG(st));
		snprintf(out, cap, "was killed by SIG%s", n ? n : "?");
	} else {
		snprintf(out, cap, "exited with status %d", WEXITSTATUS(st));
	}
}

/* Forks a new guard for one that ended; the reason it cannot into why (empty: done). The
 * new guard holds the same map and instance: it continues the stops of this sutured's
 * probes, those made before the old one died included. */
static void restart_guard(struct dm_khold *k, pid_t old, const char *how, char *why,
			  size_t cap)
{
	uint64_t now = boot_ns();
	if (!k->guard_window_ns || now - k->guard_window_ns > KHOLD_GUARD_WINDOW_NS) {
		k->guard_window_ns = now;
		k->guard_recent = 0;
	}
	struct sut_err fe;
	why[0] = 0;
	if (++k->guard_recent > KHOLD_GUARD_RESTARTS)
		snprintf(why, cap, "its guard process (pid %d) %s: %u deaths within a minute",
			 (int)old, how, k->guard_recent);
	else if (sut_fault("khold-guard", &fe) < 0)
		snprintf(why, cap, "its guard process (pid %d) %s and cannot be restarted: %.200s",
			 (int)old, how, fe.msg);
	else if (start_guard(k) < 0)
		snprintf(why, cap, "its guard process (pid %d) %s and cannot be restarted: %s",
			 (int)old, how, strerror(errno));
}

int dm_khold_guard_check(struct sut_daemon *d)
{
	struct dm_khold *k = d->kh;
	if (!k || k->guard_pid <= 0)
		return 0;
	int st = 0;
	pid_t r = waitpid(k->guard_pid, &st, WNOHANG);
	if (r == 0 || (r < 0 && errno != ECHILD))
		return 0; /* alive (or cannot tell now: looked at again next turn) */
	char how[64], why[sizeof d->khold_why];
	pid_t old = k->guard_pid;
	describe_exit(st, r == old, how, sizeof how);
	close(k->guard_fd); /* its reader is gone */
	k->guard_fd = -1;
	k->guard_pid = 0;
	restart_guard(k, old, how, why, sizeof why);
	if (why[0]) {
		set_state(d, "unavailable", "%s", why);
		return -1;
	}
	k->guard_restarts++;
	dm_log(d, 4, 0, NULL, "kernel hold: its guard process (pid %d) %s; restarted as guard "
	       "pid %d (%u of %d restarts within a minute)", (int)old, how, (int)k->guard_pid,
	       k->guard_recent, KHOLD_GUARD_RESTARTS);
	return 0;
}

static char *file_key(dev_t dev, ino_t ino)
{
	return sut_xasprintf("%llx:%llu", (unsigned long long)dev, (unsigned long long)ino);
}

static struct dm_probe *probe_of(struct dm_khold *k, dev_t dev, ino_t ino)
{
	for (guint i = 0; i < k->probes->len; i++) {
		struct dm_probe *p = g_ptr_array_index(k->probes, i);
		if (p->dev == dev && p->ino == ino)
			return p;
	}
	return NULL;
}

static bool targeted(const struct sut_daemon *d, const uint8_t *bid, size_t len)
{
	for (size_t i = 0; i < d->nauto; i++)
		if (d->auto_v[i]->build_id_len == len && !memcmp(d->auto_v[i]->build_id, bid, len))
			return true;
	return false;
}

/* Probes the file open at fd if its build-id is a target; quiet when it is none. */
static void probe_fd(struct sut_daemon *d, int fd, const char *where)
{
	struct dm_khold *k = d->kh;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (probe_of(k, st.st_dev, st.st_ino))
		return;
	char *key = file_key(st.st_dev, st.st_ino);
	if (g_hash_table_contains(k->refused, key)) {
		free(key);
		return;
	}
	if (g_hash_table_contains(k->checked, key)) {
		free(key);
		return;
	}
	/* the build-id is in the notes near the start of the file: a file that is no target
	 * (a library folder's newer build, say) is not read further */
	enum { HEAD = 64 * 1024 };
	uint8_t *head = sut_xmalloc(HEAD);
	ssize_t got = pread(fd, head, HEAD, 0);
	uint8_t hb[SUT_BUILD_ID_MAX];
	size_t hl = got > 0 ? sut_elf_build_id_from_image(head, (size_t)got, hb, sizeof hb) : 0;
	free(head);
	if (hl && !targeted(d, hb, hl)) {
		g_hash_table_add(k->checked, key);
		return;
	}
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	struct sut_elf *e = NULL;
	struct sut_err err;
	if (sut_elf_open(self, &e, &err) < 0) {
		g_hash_table_insert(k->refused, key, sut_xstrdup(err.msg));
		return;
	}
	const uint8_t *bid;
	size_t blen = sut_elf_build_id(e, &bid);
	if (!blen || !targeted(d, bid, blen)) {
		sut_elf_close(e); /* no target (a reload may make it one: forgotten then) */
		g_hash_table_add(k->checked, key);
		return;
	}
	uint64_t vaddr, off;
	if (sut_elf_first_init(e, &vaddr, &off, &err) < 0) {
		dm_log(d, 4, 0, NULL, "kernel hold: %s: %s (processes loading it are patched "
		       "after it runs)", where, err.msg);
		g_hash_table_insert(k->refused, key, sut_xstrdup(err.msg));
		sut_elf_close(e);
		return;
	}
	size_t nifunc = sut_elf_count_ifuncs(e);
	struct dm_probe *p = sut_xcalloc(1, sizeof *p);
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	memcpy(p->bid, bid, blen);
	p->bid_len = blen;
	sut_elf_close(e);
	p->path = sut_xstrdup(where);
	p->init_vaddr = vaddr;
	p->init_off = off;
	p->cookie = ((uint64_t)k->instance << 32) | (++k->next_cookie & 0xffffffffu);
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = p->cookie);
	p->link = bpf_program__attach_uprobe_opts(k->skel->progs.khold_init, -1, self,
						  (size_t)off, &uo);
	if (!p->link) {
		int e2 = errno;
		dm_log(d, 4, 0, NULL, "kernel hold: cannot probe %s: %s%s%s", where, strerror(e2),
		       libbpf_last[0] ? ": " : "", libbpf_last);
		g_hash_table_insert(k->refused, key, sut_xasprintf("uprobe: %s", strerror(e2)));
		free(p->path);
		free(p);
		return;
	}
	free(key);
	g_ptr_array_add(k->probes, p);
	d->c.khold_probes++;
	dm_log(d, 6, 0, NULL, "kernel hold: probe on %s (inode %llu), first initialiser 0x%llx%s",
	       where, (unsigned long long)st.st_ino, (unsigned long long)vaddr,
	       nifunc ? " (it has IFUNC resolvers: they run before the hold)" : "");
}

static void probe_path(struct sut_daemon *d, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	probe_fd(d, fd, path);
	close(fd);
}

void dm_khold_note_object(struct sut_daemon *d, pid_t pid, const char *open_path)
{
	if (!d->kh || !open_path)
		return;
	/* a file already probed is found without opening it */
	struct stat st;
	if (stat(open_path, &st) < 0)
		return;
	if (probe_of(d->kh, st.st_dev, st.st_ino))
		return;
	char *key = file_key(st.st_dev, st.st_ino);
	bool bad = g_hash_table_contains(d->kh->refused, key) ||
		   g_hash_table_contains(d->kh->checked, key);
	free(key);
	if (bad)
		return;
	int fd = open(open_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	char where[128];
	snprintf(where, sizeof where, "a file mapped by pid %d", (int)pid);
	char link[4096];
	ssize_t n = readlink(open_path, link, sizeof link - 1);
	if (n > 0 && n < 100) {
		link[n] = 0;
		snprintf(where, sizeof where, "%.127s", link);
		for (char *c = where; *c; c++) /* mapping paths are the process's: no controls */
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
	}
	probe_fd(d, fd, where);
	close(fd);
}

static void drop_probe(struct sut_daemon *d, guint i)
{
	struct dm_probe *p = g_ptr_array_index(d->kh->probes, i);
	bpf_link__destroy(p->link);
	dm_log(d, 6, 0, NULL, "kernel hold: probe on %s removed (no auto patch targets it)",
	       p->path);
	free(p->path);
	free(p);
	g_ptr_array_remove_index_fast(d->kh->probes, i);
}

void dm_khold_scan_paths(struct sut_daemon *d)
{
	if (!d->kh)
		return;
	for (size_t a = 0; a < d->nauto; a++) {
		const char *name = d->auto_v[a]->target_name;
		const char *base = name ? strrchr(name, '/') : NULL;
		base = base ? base + 1 : name;
		if (base && (!base[0] || !strcmp(base, ".") || !strcmp(base, "..")))
			base = NULL;
		for (size_t i = 0; base && lib_dirs[i]; i++) {
			char *path = sut_xasprintf("%s/%s", lib_dirs[i], base);
			probe_path(d, path);
			free(path);
		}
		for (size_t i = 0; d->conf.hold_paths && d->conf.hold_paths[i]; i++) {
			const char *hp = d->conf.hold_paths[i];
			struct stat st;
			if (stat(hp, &st) < 0)
				continue;
			if (S_ISDIR(st.st_mode) && base) {
				char *path = sut_xasprintf("%s/%s", hp, base);
				probe_path(d, path);
				free(path);
			} else if (S_ISREG(st.st_mode)) {
				probe_path(d, hp);
			}
		}
	}
}

void dm_khold_sync(struct sut_daemon *d)
{
	struct dm_khold *k = d->kh;
	if (!k)
		return;
	/* a reload may have made a refused or ignored file a target */
	g_hash_table_remove_all(k->refused);
	g_hash_table_remove_all(k->checked);
	dm_khold_scan_paths(d);
	for (guint i = 0; i < k->probes->len;) {
		struct dm_probe *p = g_ptr_array_index(k->probes, i);
		if (!targeted(d, p->bid, p->bid_len))
			drop_probe(d, i);
		else
			i++;
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct sut_daemon *d = ctx;
	if (size < sizeof(struct khold_event))
		return 0;
	struct khold_event ev;
	memcpy(&ev, data, sizeof ev);
	d->c.khold_events++;
	if (ev.flags & KHOLD_EV_NOT_HELD) {
		d->c.khold_not_held++;
		if (ev.flags & (KHOLD_EV_FULL | KHOLD_EV_NOSIG))
			dm_log(d, 4, (pid_t)ev.pid, NULL, "kernel hold: pid %u not held (%s)", ev.pid,
			       ev.flags & KHOLD_EV_FULL ? "too many processes held" :
							  "the stop signal failed");
		/* told as it starts the library: looked at now, as an exec event */
		dm_new_process(d, (pid_t)ev.pid, 0);
		return 0;
	}
	d->c.kheld++;
	/* queued: the loop patches a few per turn, so that it keeps answering (control
	 * socket, watchdog, heartbeat) through a burst of thousands */
	struct dm_kev q = {.pid = (pid_t)ev.pid, .seq = ev.seq, .start = ev.start_boottime};
	g_array_append_val(d->kh->queue, q);
	return 0;
}

void dm_khold_continue(struct sut_daemon *d, pid_t pid, uint64_t seq, uint64_t start_boottime)
{
	if (!d->kh)
		return;
	struct khold_key key = {.pid = (__u32)pid, .seq = seq};
	struct khold_rec rec = {.start_boottime = start_boottime};
	continue_entry(d->kh, bpf_map__fd(d->kh->skel->maps.held), &key, &rec);
}

bool dm_khold_same(struct sut_daemon *d, pid_t pid, uint64_t start_boottime)
{
	return d->kh && same_process(d->kh, pid, start_boottime, NULL);
}

bool dm_khold_state(struct sut_daemon *d, pid_t pid, uint64_t start_boottime, char *state)
{
	return d->kh && same_process(d->kh, pid, start_boottime, state);
}

/* Stops a previous sutured (or its guard) left: patched like new ones, then continued. */
static void adopt(struct sut_daemon *d)
{
	int fd = bpf_map__fd(d->kh->skel->maps.held);
	struct khold_key key, next;
	bool first = true;
	unsigned n = 0, gone = 0;
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0 && n + gone < KHOLD_MAX_HELD) {
		first = false;
		key = next;
		struct khold_rec rec;
		if (bpf_map_lookup_elem(fd, &key, &rec) != 0)
			continue;
		if (!same_process(d->kh, (pid_t)key.pid, rec.start_boottime, NULL)) {
			gone++;
			continue; /* deleted at the end: deleting now would break the walk */
		}
		dm_hold_add_kernel(d, (pid_t)key.pid, key.seq, rec.start_boottime);
		n++;
	}
	if (gone)
		continue_all(d->kh, fd, &(struct sweep){.gone_only = true});
	if (n || gone)
		dm_log(d, 5, 0, NULL, "kernel hold: %u process%s held by an earlier sutured taken "
		       "over, %u gone", n, n == 1 ? "" : "es", gone);
}

/* Removes the pin when the map there is empty; true if removed. */
static bool drop_empty_pin(const char *pin)
{
	int fd = bpf_obj_get(pin);
	if (fd < 0)
		return false;
	struct khold_key key;
	bool empty = bpf_map_get_next_key(fd, NULL, &key) != 0;
	close(fd);
	return empty && unlink(pin) == 0;
}

static bool bpffs_ready(struct sut_daemon *d)
{
	struct statfs sf;
	if (statfs(BPFFS, &sf) == 0 && sf.f_type == BPF_FS_MAGIC)
		return true;
	if (mount("bpf", BPFFS, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") == 0)
		return true;
	set_state(d, "unavailable", "bpffs is not mounted at %s and cannot be: %s", BPFFS,
		  strerror(errno));
	return false;
}

/* The pin of the held map: one per store root, so that tests' sutureds never continue
 * each other's processes. */
static void pin_path(const struct sut_daemon *d, char *out, size_t cap)
{
	const char *root = d->paths.root && d->paths.root[0] ? d->paths.root : NULL;
	if (!root) {
		snprintf(out, cap, "%s/held", PIN_DIR);
		return;
	}
	uint64_t h = 1469598103934665603ull;
	for (const char *c = root; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	snprintf(out, cap, "%s/held-%016llx", PIN_DIR, (unsigned long long)h);
}

int dm_khold_open(struct sut_daemon *d, bool disabled)
{
	if (disabled || !d->conf.kernel_hold) {
		set_state(d, "off", "%s", disabled ? "switched off (--no-kernel-hold)" :
						     "switched off ([daemon] kernel-hold=false)");
		return -1;
	}
	struct sut_err fe;
	if (sut_fault("khold-load", &fe) < 0) { /* tests: as on a kernel without BPF */
		set_state(d, "unavailable", "cannot load the BPF program: %s", fe.msg);
		return -1;
	}
	libbpf_set_print(libbpf_msg);
	if (!bpffs_ready(d))
		return -1;
	mkdir(PIN_DIR, 0700);
	struct dm_khold *k = sut_xcalloc(1, sizeof *k);
	k->guard_fd = -1;
	k->ticks = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	pin_path(d, k->pin, sizeof k->pin);
	snprintf(k->socket, sizeof k->socket, "%s", d->paths.socket);
	while (!k->instance)
		if (getrandom(&k->instance, sizeof k->instance, 0) != sizeof k->instance)
			k->instance = (uint32_t)getpid() ^ (uint32_t)time(NULL);
	libbpf_last[0] = 0;
	k->skel = khold__open();
	int rc = k->skel ? 0 : -errno;
	if (rc == 0)
		rc = bpf_map__set_pin_path(k->skel->maps.held, k->pin);
	if (rc == 0)
		rc = khold__load(k->skel);
	if (rc != 0 && k->skel && drop_empty_pin(k->pin)) {
		/* a pinned map of another layout (an older sutured) that holds nothing */
		khold__destroy(k->skel);
		k->skel = khold__open();
		rc = k->skel ? bpf_map__set_pin_path(k->skel->maps.held, k->pin) : -errno;
		if (rc == 0)
			rc = khold__load(k->skel);
	}
	if (rc != 0) {
		set_state(d, "unavailable", "cannot load the BPF program: %s%s%s", strerror(-rc),
			  libbpf_last[0] ? ": " : "", libbpf_last);
		if (k->skel)
			khold__destroy(k->skel);
		free(k);
		return -1;
	}
	__u32 k0 = 0, k1 = 1;
	__u64 cfg = KHOLD_CFG_ON | (d->conf.hold_terminal ? KHOLD_CFG_TERMINAL : 0);
	/* stop numbers start above any a previous sutured used (one per ns at most) */
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	__u64 seq = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	int cfd = bpf_map__fd(k->skel->maps.config);
	k->rb = ring_buffer__new(bpf_map__fd(k->skel->maps.events), on_event, d, NULL);
	__u32 k2 = 2;
	if (bpf_map_update_elem(cfd, &k0, &cfg, BPF_ANY) != 0 ||
	    bpf_map_update_elem(cfd, &k1, &seq, BPF_ANY) != 0 ||
	    bpf_map_update_elem(cfd, &k2, &seq, BPF_ANY) != 0 || !k->rb ||
	    start_guard(k) < 0) {
		set_state(d, "unavailable", "cannot set up the BPF maps: %s", strerror(errno));
		ring_buffer__free(k->rb);
		khold__destroy(k->skel);
		free(k);
		return -1;
	}
	k->probes = g_ptr_array_new();
	k->queue = g_array_new(FALSE, FALSE, sizeof(struct dm_kev));
	k->refused = g_hash_table_new_full(g_str_hash, g_str_equal, free, free);
	k->checked = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	d->kh = k;
	set_state(d, "active", "uprobes on the first initialiser of target files; held map %s",
		  k->pin);
	dm_log(d, 6, 0, NULL, "kernel hold: held map %s, guard pid %d", k->pin, (int)k->guard_pid);
	return 0;
}

int dm_khold_fd(struct sut_daemon *d)
{
	return d->kh ? ring_buffer__epoll_fd(d->kh->rb) : -1;
}

void dm_khold_read(struct sut_daemon *d)
{
	if (d->kh)
		ring_buffer__consume(d->kh->rb);
}

/* Is this stop known to the daemon (queued, or held and looked at)? */
static bool stop_known(struct sut_daemon *d, const struct khold_key *key)
{
	for (guint i = 0; i < d->kh->queue->len; i++) {
		const struct dm_kev *q = &g_array_index(d->kh->queue, struct dm_kev, i);
		if (q->seq == key->seq && q->pid == (pid_t)key->pid)
			return true;
	}
	for (guint i = 0; i < d->held->len; i++) {
		const struct dm_held *h = &g_array_index(d->held, struct dm_held, i);
		if (h->kseq == key->seq && h->pid == (pid_t)key->pid)
			return true;
	}
	return false;
}

/* Stops in the map whose event never arrived (the ring buffer was full) are taken up by
 * each pass, once older than a second. */
#define KHOLD_UNTOLD_NS 1000000000ull

void dm_khold_untold(struct sut_daemon *d)
{
	if (!d->kh)
		return;
	int fd = bpf_map__fd(d->kh->skel->maps.held);
	struct khold_key key, next;
	bool first = true;
	uint64_t old = boot_ns() - KHOLD_UNTOLD_NS;
	for (unsigned i = 0; i < KHOLD_MAX_HELD; i++) {
		if (bpf_map_get_next_key(fd, first ? NULL : &key, &next) != 0)
			break;
		first = false;
		key = next;
		struct khold_rec rec;
		if (bpf_map_lookup_elem(fd, &key, &rec) != 0 || rec.ts_ns > old ||
		    stop_known(d, &key))
			continue;
		struct dm_kev q = {.pid = (pid_t)key.pid, .seq = key.seq, .start = rec.start_boottime};
		g_array_append_val(d->kh->queue, q);
	}
}

/* Stops handled per turn of the loop. */
#define KHOLD_BATCH 8

bool dm_khold_work(struct sut_daemon *d)
{
	struct dm_khold *k = d->kh;
	if (!k)
		return false;
	guint n = k->queue->len < KHOLD_BATCH ? k->queue->len : KHOLD_BATCH;
	for (guint i = 0; i < n; i++) {
		struct dm_kev q = g_array_index(k->queue, struct dm_kev, i);
		dm_hold_add_kernel(d, q.pid, q.seq, q.start);
	}
	g_array_remove_range(k->queue, 0, n);
	return k->queue->len > 0;
}

void dm_khold_beat(struct sut_daemon *d)
{
	if (!d->kh)
		return;
	__u32 k2 = 2;
	__u64 now = boot_ns();
	bpf_map_update_elem(bpf_map__fd(d->kh->skel->maps.config), &k2, &now, BPF_ANY);
}

void dm_khold_start(struct sut_daemon *d)
{
	if (!d->kh)
		return;
	dm_khold_sync(d);
	adopt(d);
}

void dm_khold_set_terminal(struct sut_daemon *d)
{
	if (!d->kh)
		return;
	__u32 k0 = 0;
	__u64 cfg = KHOLD_CFG_ON | (d->conf.hold_terminal ? KHOLD_CFG_TERMINAL : 0);
	bpf_map_update_elem(bpf_map__fd(d->kh->skel->maps.config), &k0, &cfg, BPF_ANY);
}

json_t *dm_khold_json(struct sut_daemon *d)
{
	json_t *o = json_pack("{s:s, s:s}", "state", d->khold_state, "detail", d->khold_why);
	json_t *a = json_array();
	for (guint i = 0; d->kh && i < d->kh->probes->len; i++) {
		const struct dm_probe *p = g_ptr_array_index(d->kh->probes, i);
		char hex[2 * SUT_BUILD_ID_MAX + 1];
		sut_hex(p->bid, p->bid_len, hex);
		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I, s:I}", "path", p->path,
						   "build_id", hex, "inode", (json_int_t)p->ino,
						   "init_vaddr", (json_int_t)p->init_vaddr,
						   "init_offset", (json_int_t)p->init_off));
	}
	json_object_set_new(o, "probes", a);
	json_object_set_new(o, "terminal", json_boolean(d->conf.hold_terminal));
	if (d->kh) {
		json_object_set_new(o, "guard_pid", json_integer(d->kh->guard_pid));
		json_object_set_new(o, "guard_restarts", json_integer(d->kh->guard_restarts));
	}
	return o;
}

void dm_khold_close(struct sut_daemon *d)
{
	struct dm_khold *k = d->kh;
	if (!k)
		return;
	/* no new stops, then whatever is left in the map (held processes were released by
	 * dm_hold_close_all before) is continued */
	for (guint i = 0; i < k->probes->len; i++) {
		struct dm_probe *p = g_ptr_array_index(k->probes, i);
		bpf_link__destroy(p->link);
		free(p->path);
		free(p);
	}
	g_ptr_array_free(k->probes, TRUE);
	g_hash_table_destroy(k->refused);
	g_hash_table_destroy(k->checked);
	g_array_free(k->queue, TRUE);
	int map_fd = bpf_map__fd(k->skel->maps.held);
	continue_all(k, map_fd, &(struct sweep){.instance = k->instance});
	struct khold_key key;
	if (bpf_map_get_next_key(map_fd, NULL, &key) != 0)
		unlink(k->pin); /* empty: nothing for a later sutured to take over */
	ring_buffer__free(k->rb);
	khold__destroy(k->skel);
	/* the guard leaves at once; one that died since the last look is not written to (a
	 * pipe without a reader would end sutured with SIGPIPE) */
	int st;
	if (k->guard_pid > 0 && waitpid(k->guard_pid, &st, WNOHANG) != 0)
		k->guard_pid = 0;
	if (k->guard_fd >= 0) {
		if (k->guard_pid > 0) {
			ssize_t w = write(k->guard_fd, "q", 1);
			(void)w;
		}
		close(k->guard_fd);
	}
	if (k->guard_pid > 0)
		waitpid(k->guard_pid, NULL, 0);
	free(k);
	d->kh = NULL;
}
