/* SPDX-License-Identifier: Apache-2.0 */
/* The `proc` layer: reading a live process without stopping it.
 *
 * Threads, memory maps, the ELF objects a process maps (identified by build-id, never by
 * path), free address ranges near an object, and memory reads. Everything here is a
 * snapshot: a caller that needs a stable view stops the process first (ptrace layer) and
 * reads again.
 *
 * Invariant: nothing in this layer changes the process. */
#ifndef SUTURE_PROC_PROC_H
#define SUTURE_PROC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

struct sut_map {
	uint64_t start, end, offset;
	char perms[5]; /* "r-xp" */
	unsigned dev_major, dev_minor;
	uint64_t inode;
	char *path; /* as shown in /proc/PID/maps; "" for anonymous */
};

struct sut_maps {
	struct sut_map *v;
	size_t n;
};

/* One ELF object mapped into the process. */
struct sut_object {
	char *path;         /* from maps; informational only (paths lie) */
	char *open_path;    /* a path that opens this very file: /proc/PID/map_files/LO-HI */
	uint64_t bias;      /* load bias: runtime address = bias + ELF vaddr */
	uint64_t lo, hi;    /* address span of all its mappings */
	uint64_t text_lo, text_hi; /* span of its executable mappings */
	uint8_t build_id[64];
	size_t build_id_len; /* 0 when the object has no build-id */
};

struct sut_objects {
	struct sut_object *v;
	size_t n;
};

bool sut_proc_exists(pid_t pid);
/* Short command name (comm), "?" when unreadable. Result is static per call site: copy it. */
int sut_proc_comm(pid_t pid, char *buf, size_t cap);

/* The fields of /proc/PID/stat (tid 0) or /proc/PID/task/TID/stat that follow the command
 * name, read into buf (cap bytes): a pointer to the state letter, or NULL when the file
 * cannot be read or has no "(comm) " followed by a field (the name may hold spaces and
 * parentheses: the last ')' ends it). */
const char *sut_proc_stat_fields(pid_t pid, pid_t tid, char *buf, size_t cap);

/* sut_proc_stat_fields of /proc/PID/task/TID/stat through dirfd, a descriptor of
 * /proc/PID/task (-1: by path), which spares the path walk from /proc (the freeze reads a
 * thousand of them). Both are one openat, one read, one close. */
const char *sut_proc_task_stat_at(int dirfd, pid_t pid, pid_t tid, char *buf, size_t cap);

/* num_threads of /proc/PID/task/TID/stat (the kernel's count of the whole process's
 * threads, signal->nr_threads: a thread is counted from the moment it is listed in
 * /proc/PID/task until it is reaped), read through dirfd, a descriptor of /proc/PID/task
 * (-1: by path). Strict: -1 when the file cannot be read or the field is not a number. */
long sut_proc_num_threads(int dirfd, pid_t pid, pid_t tid);

/* Thread ids from /proc/PID/task. */
int sut_proc_threads(pid_t pid, pid_t **tids, size_t *n, struct sut_err *err);

int sut_proc_maps(pid_t pid, struct sut_maps *out, struct sut_err *err);
/* The text of a maps file, strictly: every line whole, lowercase hex as the kernel prints
 * it, nothing else (out is empty on error). */
int sut_proc_maps_parse(const char *text, size_t len, struct sut_maps *out, struct sut_err *err);
void sut_proc_maps_free(struct sut_maps *m);
/* The mapping containing addr, or NULL. */
const struct sut_map *sut_maps_find(const struct sut_maps *m, uint64_t addr);

/* Every ELF object mapped from a file, in address order, with build-id read from the
 * mapped file (through /proc/PID/map_files) or, failing that, from process memory. */
int sut_proc_objects(pid_t pid, const struct sut_maps *maps, struct sut_objects *out,
		     struct sut_err *err);
void sut_proc_objects_free(struct sut_objects *o);
/* The object with this build-id, or NULL. */
const struct sut_object *sut_objects_find_build_id(const struct sut_objects *o,
						   const uint8_t *id, size_t len);

/* A free, page-aligned range of `size` bytes such that every byte of it is within
 * +-(2 GiB - 16 MiB) of every byte of [lo, hi), so rel32 jumps and PC32 relocations reach
 * both ways. Prefers the closest free range. Returns 0 and sets *addr, or -1. */
int sut_maps_find_gap_near(const struct sut_maps *m, uint64_t lo, uint64_t hi, uint64_t size,
			   uint64_t *addr, struct sut_err *err);

/* Address of a `syscall` instruction (0f 05) in an executable mapping of the process
 * (the vdso first, then any r-xp file mapping), for remote system calls. */
int sut_proc_find_syscall_insn(pid_t pid, const struct sut_maps *m, uint64_t *addr,
			       struct sut_err *err);

/* Where remote system calls run, and what a borrowed thread needs to find its way home
 * if suture dies while it holds the thread (ptrace/remote_frame.c). insn: a `syscall`
 * instruction; ret_follows: it is followed by `ret` (0f 05 c3); sigreturn: the address of
 * an rt_sigreturn trampoline (`mov $15,%rax; syscall`), 0 when none was found or no `ret`
 * follows insn. stack_lo, stack_hi: the writable mapping that holds the stack pointer of
 * the thread the calls run in, set by the caller (sut_maps_find); 0 when
 * unknown, and then no frame is written. */
struct sut_syscall_site {
	uint64_t insn;
	bool ret_follows;
	uint64_t sigreturn;
	uint64_t stack_lo, stack_hi;
};

/* Fills insn, ret_follows and sigreturn, from existing code only (proc_syscall_site.c):
 * both sequences when the process has them, else the `syscall` of
 * sut_proc_find_syscall_insn. Results are kept per mapped file across calls (thread-safe)
 * and checked against the process's bytes on each use. */
int sut_proc_find_syscall_site(pid_t pid, const struct sut_maps *m, struct sut_syscall_site *s,
			       struct sut_err *err);

/* The system call a thread is in, from /proc/PID/task/TID/syscall (read without stopping
 * it; the kernel answers once the thread is off every CPU). */
enum sut_syscall_state {
	SUT_SYSCALL_UNKNOWN,  /* unreadable, or text that is not the kernel's */
	SUT_SYSCALL_RUNNING,  /* "running": on a CPU or runnable */
	SUT_SYSCALL_NONE,     /* "-1 SP PC": blocked, but not in a system call (a stop, a fault) */
	SUT_SYSCALL_IN_CALL,  /* in call nr with args, entered from pc with stack sp */
};
struct sut_proc_syscall {
	enum sut_syscall_state state;
	long nr;
	uint64_t args[6];
	uint64_t sp, pc;
};
/* Highest call number accepted, and the longest line the kernel prints (with margin). */
#define SUT_SYSCALL_NR_MAX 4095
#define SUT_SYSCALL_TEXT_MAX 255
/* Pure: the file's text (len bytes, not NUL-terminated) into *out. -1 (state UNKNOWN)
 * unless it is exactly one of the kernel's three forms, numbers in range. */
int sut_proc_syscall_parse(const char *text, size_t len, struct sut_proc_syscall *out);
/* Reads and parses the file of thread tid (bounded); -1 with err when it cannot be read or
 * does not parse (out->state is then UNKNOWN). */
int sut_proc_syscall_read(pid_t pid, pid_t tid, struct sut_proc_syscall *out,
			  struct sut_err *err);
/* How long a thread in call s sleeps at most, from its arguments (and the timespec or
 * timeval they point to, read from the process): milliseconds left (>= 0),
 * SUT_SLEEP_FOREVER for a call with no timeout, SUT_SLEEP_UNKNOWN when it cannot be told
 * (not in a call, a timeout that cannot be read or is not a valid time). */
#define SUT_SLEEP_FOREVER (-2LL)
#define SUT_SLEEP_UNKNOWN (-1LL)
long long sut_proc_syscall_sleep_ms(pid_t pid, const struct sut_proc_syscall *s);

/* Pure: a schedstat line "RUN WAIT PCOUNT" (NUL-terminated) into its three fields; 0, or
 * -1 when it is not exactly three decimal 64-bit numbers (proc_schedstat.c). */
int sut_proc_schedstat_parse(const char *text, unsigned long long *run,
			     unsigned long long *wait, unsigned long long *pcount);

/* Reads process memory (process_vm_readv, falling back to /proc/PID/mem). All or error. */
int sut_proc_read(pid_t pid, uint64_t addr, void *buf, size_t len, struct sut_err *err);

/* The mapping named like a memfd created with `name` ("/memfd:NAME (deleted)"), or NULL. */
const struct sut_map *sut_maps_find_memfd(const struct sut_maps *m, const char *name);

/* Every pid on the system (numeric entries of /proc), for --all. */
int sut_proc_list(pid_t **pids, size_t *n, struct sut_err *err);

#endif
