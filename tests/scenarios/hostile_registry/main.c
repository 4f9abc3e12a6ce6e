/* SPDX-License-Identifier: Apache-2.0 */
/* A process that is hostile to the root suture inspecting it.
 *
 *   prog MODE LIBPATH
 *
 * dlopens LIBPATH and prints "value=V victim=STATE" every 20 ms, V = hv_value(), STATE
 * "intact" while the bytes of its victim buffer are as it set them, "CHANGED" once
 * anyone else wrote them. MODE:
 *   plain    nothing more;
 *   bid      plants a suture-registry whose one record has a build-id length of 100000
 *            (a reader trusting it overruns a 64-byte field);
 *   journal  plants a well-formed registry with a forged journal: an interrupted apply
 *            whose "jump" is the victim buffer, so a suture that repairs it writes the
 *            "saved" bytes into the buffer;
 *   huge     plants a registry mapping of 64 MiB filled with record headers;
 *   ctl      names itself (comm) with terminal control sequences.
 * On SIGUSR1 it dlcloses the library and dlopens it again (printing "reloaded"). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/* the registry layout suture documents (docs/patch-format.md) */
struct reg_header {
	char magic[8];
	uint32_t version, size;
	uint64_t generation;
	uint32_t state, npatches, used, pending_index;
	uint64_t txn_started;
	uint32_t tool_pid, reserved;
};
struct reg_func {
	uint64_t addr, size, repl, repl_size;
	uint8_t saved[8], written[8];
	char name[96];
};
struct reg_patch {
	uint32_t rec_size, nfuncs;
	char id[128];
	uint32_t version, flags;
	uint8_t build_id[64];
	uint32_t build_id_len, reserved;
	uint64_t bias, region, region_size, applied_at;
	char cves[256];
	char target[128];
};
#define REG_SIZE (256 * 1024)

static volatile sig_atomic_t reload;
static uint8_t victim[16];
static uint8_t victim_init[16];

static void on_usr1(int sig)
{
	(void)sig;
	reload = 1;
}

static uint8_t *plant(size_t size)
{
	int fd = memfd_create("suture-registry", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror("memfd");
		exit(1);
	}
	uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return m;
}

static void header(uint8_t *m, uint32_t state, uint32_t npatches, uint32_t used)
{
	struct reg_header *h = (void *)m;
	memcpy(h->magic, "SUTUREG1", 8);
	h->version = 1;
	h->size = REG_SIZE;
	h->state = state;
	h->npatches = npatches;
	h->used = used;
	h->tool_pid = 1; /* "another suture": init, whose comm is not suture */
}

static void plant_bid(void)
{
	uint8_t *m = plant(REG_SIZE);
	struct reg_patch *p = (void *)(m + sizeof(struct reg_header));
	struct reg_func *f = (void *)(p + 1);
	p->rec_size = sizeof *p + sizeof *f;
	p->nfuncs = 1;
	strcpy(p->id, "fake-patch");
	p->version = 1;
	p->build_id_len = 100000;
	memset(p->build_id, 0x41, sizeof p->build_id);
	p->region = 0x10000;
	p->region_size = 4096;
	f->addr = 0x1000;
	f->size = 16;
	strcpy(f->name, "fake_func");
	header(m, 0, 1, p->rec_size);
}

/* A jmp rel32 from `from` to `to`. */
static void jmp(uint64_t from, uint64_t to, uint8_t out[8])
{
	int32_t rel = (int32_t)(to - (from + 5));
	memset(out, 0, 8);
	out[0] = 0xe9;
	memcpy(out + 1, &rel, 4);
}

static void plant_journal(void)
{
	uint8_t *m = plant(REG_SIZE);
	/* "patch memory" near the victim, so the forged jump is a valid rel32 */
	uint64_t near = ((uint64_t)(uintptr_t)victim & ~0xfffull) + 0x100000;
	uint8_t *region = mmap((void *)(uintptr_t)near, 4096, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED) {
		perror("mmap region");
		exit(1);
	}
	struct reg_patch *p = (void *)(m + sizeof(struct reg_header));
	struct reg_func *f = (void *)(p + 1);
	p->rec_size = sizeof *p + sizeof *f;
	p->nfuncs = 1;
	strcpy(p->id, "forged-journal");
	p->version = 1;
	p->build_id_len = 20;
	memset(p->build_id, 0x42, 20);
	p->region = (uint64_t)(uintptr_t)region;
	p->region_size = 4096;
	f->addr = (uint64_t)(uintptr_t)victim;
	f->size = sizeof victim;
	f->repl = p->region + 16;
	f->repl_size = 16;
	jmp(f->addr, f->repl, f->written);
	memset(f->saved, 0xcc, 5);
	strcpy(f->name, "victim");
	/* the victim holds the "jump", so a repair would put the "saved" bytes back */
	memcpy(victim, f->written, 8);
	memcpy(victim_init, victim, sizeof victim);
	header(m, 1 /* applying */, 0, 0);
}

static void plant_huge(void)
{
	size_t size = 64u << 20;
	uint8_t *m = plant(size);
	for (size_t off = sizeof(struct reg_header); off + 8 <= size; off += 8) {
		uint32_t v[2] = {8, 0xffffffff};
		memcpy(m + off, v, 8);
	}
	header(m, 0, 0xffffffff, 0xfffffff0);
	((struct reg_header *)m)->size = (uint32_t)size;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: prog plain|bid|journal|huge|ctl LIBPATH\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *mode = argv[1], *lib = argv[2];
	memset(victim, 0x90, sizeof victim);
	memcpy(victim_init, victim, sizeof victim);
	if (!strcmp(mode, "bid"))
		plant_bid();
	else if (!strcmp(mode, "journal"))
		plant_journal();
	else if (!strcmp(mode, "huge"))
		plant_huge();
	else if (!strcmp(mode, "ctl"))
		prctl(PR_SET_NAME, "\033[2J\033]0;x\a\n\x9b" "1m", 0, 0, 0);
	else if (strcmp(mode, "plain") != 0)
		return 2;
	signal(SIGUSR1, on_usr1);
	void *h = dlopen(lib, RTLD_NOW);
	int (*value)(void) = h ? (int (*)(void))dlsym(h, "hv_value") : NULL;
	if (!value) {
		fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
		return 1;
	}
	for (;;) {
		if (reload) {
			reload = 0;
			dlclose(h);
			h = dlopen(lib, RTLD_NOW);
			value = h ? (int (*)(void))dlsym(h, "hv_value") : NULL;
			if (!value)
				return 1;
			printf("reloaded\n");
		}
		printf("value=%d victim=%s\n", value(),
		       memcmp(victim, victim_init, sizeof victim) ? "CHANGED" : "intact");
		usleep(20 * 1000);
	}
}
