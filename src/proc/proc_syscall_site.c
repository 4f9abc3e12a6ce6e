/* SPDX-License-Identifier: Apache-2.0 */
/* The code a remote system call borrows, found in the target, none written: a `syscall`
 * followed by `ret` (0f 05 c3), and `mov $15,%rax; syscall` (48 c7 c0 0f 00 00 00 0f 05,
 * the rt_sigreturn trampoline glibc and musl install as every handler's sa_restorer:
 * __restore_rt). With both, a borrowed thread carries its own way home
 * (ptrace/remote_frame.c): if suture dies, the call returns through `ret` into rt_sigreturn
 * over a frame holding the thread's own registers.
 *
 * Where: the dynamic loader and the C library first (every dynamic process maps the
 * loader from its first instruction; both hold both sequences), then the other executable
 * file mappings (a static program's own text), at most SCAN_BUDGET bytes in all. A
 * mapping's result is kept per file (device, inode, offset, size), so a daemon or a job
 * over many processes scans a shared library once; each use reads the bytes again from
 * the process, and a cached result the process contradicts is scanned again. */
#include "proc/proc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define CHUNK 65536
#define SCAN_BUDGET (32u << 20)
#define CACHE_MAX 32

static const uint8_t SYSCALL_RET[] = {0x0f, 0x05, 0xc3};
static const uint8_t SIGRETURN[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
#define OVERLAP (sizeof SIGRETURN - 1)

/* What one mapping holds: offsets from its start, -1 for none. */
struct found {
	int64_t ret, sigret;
};

struct cached {
	unsigned major, minor;
	uint64_t inode, offset, size;
	struct found f;
};

static struct cached cache[CACHE_MAX];
static size_t ncache, next_slot;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static bool same_file(const struct cached *c, const struct sut_map *x)
{
	return c->major == x->dev_major && c->minor == x->dev_minor && c->inode == x->inode &&
	       c->offset == x->offset && c->size == x->end - x->start;
}

static bool cache_get(const struct sut_map *x, struct found *f)
{
	bool hit = false;
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < ncache && !hit; i++)
		if (same_file(&cache[i], x)) {
			*f = cache[i].f;
			hit = true;
		}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void cache_put(const struct sut_map *x, const struct found *f)
{
	pthread_mutex_lock(&cache_lock);
	size_t i = 0;
	while (i < ncache && !same_file(&cache[i], x))
		i++;
	if (i == ncache) {
		if (ncache < CACHE_MAX)
			i = ncache++;
		else
			i = next_slot++ % CACHE_MAX;
	}
	cache[i] = (struct cached){x->dev_major, x->dev_minor, x->inode, x->offset,
				   x->end - x->start, *f};
	pthread_mutex_unlock(&cache_lock);
}

static int64_t find_in(const uint8_t *buf, size_t len, const uint8_t *pat, size_t plen)
{
	const uint8_t *p = memmem(buf, len, pat, plen);
	return p ? p - buf : -1;
}

/* Scans the mapping until both sequences are found (chunks overlap so that neither is
 * missed across a boundary). *budget is lowered by the bytes read. */
static struct found scan(pid_t pid, const struct sut_map *x, uint64_t *budget)
{
	struct found f = {-1, -1};
	uint8_t *buf = sut_xmalloc(CHUNK);
	uint64_t at = x->start;
	while (at + OVERLAP < x->end && (f.ret < 0 || f.sigret < 0) && *budget >= CHUNK) {
		size_t len = x->end - at < CHUNK ? (size_t)(x->end - at) : CHUNK;
		struct sut_err ignored;
		if (sut_proc_read(pid, at, buf, len, &ignored) < 0)
			break;
		*budget -= len;
		int64_t r = f.ret < 0 ? find_in(buf, len, SYSCALL_RET, sizeof SYSCALL_RET) : -1;
		int64_t s = f.sigret < 0 ? find_in(buf, len, SIGRETURN, sizeof SIGRETURN) : -1;
		if (r >= 0)
			f.ret = (int64_t)(at - x->start) + r;
		if (s >= 0)
			f.sigret = (int64_t)(at - x->start) + s;
		if (at + len >= x->end)
			break;
		at += len - OVERLAP;
	}
	free(buf);
	return f;
}

/* Whether the process holds pat at addr now. */
static bool holds(pid_t pid, uint64_t addr, const uint8_t *pat, size_t plen)
{
	uint8_t now[sizeof SIGRETURN];
	struct sut_err ignored;
	return sut_proc_read(pid, addr, now, plen, &ignored) == 0 && memcmp(now, pat, plen) == 0;
}

static bool is_code_file(const struct sut_map *x)
{
	return x->perms[0] == 'r' && x->perms[2] == 'x' && x->inode != 0 && x->path[0] == '/';
}

/* The loader and the C library first: pass 0; every other code file: pass 1. */
static int pass_of(const struct sut_map *x)
{
	const char *base = strrchr(x->path, '/');
	base = base ? base + 1 : x->path;
	return strncmp(base, "ld-", 3) == 0 || strncmp(base, "libc.so", 7) == 0 ||
			       strncmp(base, "libc.musl", 9) == 0
		       ? 0
		       : 1;
}

/* The mapping's sequences: from the cache when the process still holds them there,
 * scanned otherwise. */
static struct found look(pid_t pid, const struct sut_map *x, uint64_t *budget)
{
	struct found f;
	if (cache_get(x, &f) &&
	    (f.ret < 0 || holds(pid, x->start + (uint64_t)f.ret, SYSCALL_RET, sizeof SYSCALL_RET)) &&
	    (f.sigret < 0 || holds(pid, x->start + (uint64_t)f.sigret, SIGRETURN, sizeof SIGRETURN)))
		return f;
	f = scan(pid, x, budget);
	cache_put(x, &f);
	return f;
}

int sut_proc_find_syscall_site(pid_t pid, const struct sut_maps *m, struct sut_syscall_site *s,
			       struct sut_err *err)
{
	*s = (struct sut_syscall_site){0};
	uint64_t ret = 0, budget = SCAN_BUDGET;
	for (int pass = 0; pass < 2 && (!ret || !s->sigreturn); pass++)
		for (size_t i = 0; i < m->n && (!ret || !s->sigreturn); i++) {
			const struct sut_map *x = &m->v[i];
			if (!is_code_file(x) || pass_of(x) != pass)
				continue;
			struct found f = look(pid, x, &budget);
			if (!ret && f.ret >= 0)
				ret = x->start + (uint64_t)f.ret;
			if (!s->sigreturn && f.sigret >= 0)
				s->sigreturn = x->start + (uint64_t)f.sigret;
		}
	if (ret) {
		s->insn = ret;
		s->ret_follows = true;
		return 0;
	}
	s->sigreturn = 0; /* of no use without a `ret` after the call */
	return sut_proc_find_syscall_insn(pid, m, &s->insn, err);
}
