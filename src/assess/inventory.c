/* SPDX-License-Identifier: Apache-2.0 */
/* The inventory: every process x every ELF object it maps.
 *
 * Per process (cheap, from /proc): maps and objects (build-id from the mapped first page),
 * user, namespaces, sockets, and for each object whether the file now at its path, seen
 * from the process's own root (/proc/PID/root, so containers and other mount namespaces
 * are right), is still the mapped one (device + inode). Per distinct file (once, however
 * many processes map it): the OpenSSL version string of libcrypto/libssl, read through
 * /proc/PID/map_files (the mapped file itself, even deleted); the owning package, asked
 * of dpkg once for all files that are, at the host's path, the very file mapped. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "assess/assess_internal.h"
#include "elf/elf.h"
#include "util/buf.h"

#define HBITS 16

struct builder {
	struct sut_inventory *inv;
	size_t cap;
	long hash[1 << HBITS]; /* file index + 1 by build-id or dev/ino, open addressing */
	char **open_path;      /* per file: a path that opens it now */
	char **dpkg_path;      /* per file: host path that is this very file, or NULL */
	size_t pcap;
};

static unsigned hkey(const uint8_t *id, size_t len, uint64_t dev, uint64_t ino)
{
	uint64_t h = 1469598103934665603ULL ^ dev ^ (ino << 1);
	for (size_t i = 0; i < len; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	return (unsigned)(h ^ (h >> 29)) & ((1u << HBITS) - 1);
}

static bool file_is(const struct sut_inv_file *f, const uint8_t *id, size_t len, bool on_disk,
		    uint64_t dev, uint64_t ino)
{
	if (f->on_disk != on_disk)
		return false;
	if (on_disk)
		return f->dev == dev && f->ino == ino;
	return f->build_id_len == len && !memcmp(f->build_id, id, len);
}

static size_t add_file(struct builder *b, const uint8_t *id, size_t len, bool on_disk,
		       uint64_t dev, uint64_t ino, const char *path, const char *open_path)
{
	struct sut_inventory *inv = b->inv;
	if (inv->nfiles == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		inv->files = sut_xrealloc(inv->files, b->cap * sizeof *inv->files);
		b->open_path = sut_xrealloc(b->open_path, b->cap * sizeof(char *));
		b->dpkg_path = sut_xrealloc(b->dpkg_path, b->cap * sizeof(char *));
	}
	size_t i = inv->nfiles++;
	struct sut_inv_file *f = &inv->files[i];
	memset(f, 0, sizeof *f);
	memcpy(f->build_id, id, len);
	f->build_id_len = len;
	f->on_disk = on_disk;
	f->dev = dev;
	f->ino = ino;
	f->path = sut_xstrdup(path);
	b->open_path[i] = sut_xstrdup(open_path);
	b->dpkg_path[i] = NULL;
	return i;
}

/* Index of the file (mapped: by build-id; on disk: by dev/ino), added when new. The hash
 * table holds the first files; past its load limit lookups are linear (never reached on
 * real machines: 32,000 distinct files). */
static size_t file_index(struct builder *b, const uint8_t *id, size_t len, bool on_disk,
			 uint64_t dev, uint64_t ino, const char *path, const char *open_path,
			 bool *added)
{
	struct sut_inventory *inv = b->inv;
	*added = true;
	if (inv->nfiles >= (1u << (HBITS - 1))) {
		for (size_t i = 0; i < inv->nfiles; i++)
			if (file_is(&inv->files[i], id, len, on_disk, dev, ino)) {
				*added = false;
				return i;
			}
		return add_file(b, id, len, on_disk, dev, ino, path, open_path);
	}
	unsigned h = on_disk ? hkey(NULL, 0, dev, ino) : hkey(id, len, 0, 0);
	for (;; h = (h + 1) & ((1u << HBITS) - 1)) {
		long e = b->hash[h];
		if (!e)
			break;
		if (file_is(&inv->files[e - 1], id, len, on_disk, dev, ino)) {
			*added = false;
			return (size_t)e - 1;
		}
	}
	size_t i = add_file(b, id, len, on_disk, dev, ino, path, open_path);
	b->hash[h] = (long)i + 1;
	return i;
}

static bool crypto_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return !strncmp(base, "libcrypto", 9) || !strncmp(base, "libssl", 6);
}

/* Reads what the file says of itself: the OpenSSL version; for a file on disk also its
 * build-id (from its first page, as for a mapping). */
static void read_file_facts(struct sut_inventory *inv, struct sut_inv_file *f, const char *opath)
{
	if (!crypto_name(f->path) && !f->on_disk)
		return;
	int fd = open(opath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size < (1LL << 31)) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			inv->files_read++;
			if (f->on_disk)
				f->build_id_len = sut_elf_build_id_from_image(
					m, st.st_size < 8192 ? (size_t)st.st_size : 8192, f->build_id,
					sizeof f->build_id);
			char ver[32], text[96];
			if (crypto_name(f->path) &&
			    sut_openssl_version_in(m, (size_t)st.st_size, ver, sizeof ver, text,
						   sizeof text)) {
				f->openssl = sut_xstrdup(ver);
				f->openssl_text = sut_xstrdup(text);
			}
			munmap(m, (size_t)st.st_size);
		}
	}
	close(fd);
}

static uid_t proc_euid(pid_t pid)
{
	char p[64], line[256];
	snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "r");
	unsigned r = (unsigned)-1, e = (unsigned)-1;
	if (!f)
		return (uid_t)-1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Uid: %u %u", &r, &e) == 2)
			break;
	fclose(f);
	return (uid_t)e;
}

static uint64_t ns_id(pid_t pid, const char *ns)
{
	char p[64];
	struct stat st;
	snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)pid, ns);
	return stat(p, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static bool same_file(const struct stat *st, uint64_t dev, uint64_t ino)
{
	return (uint64_t)st->st_dev == dev && (uint64_t)st->st_ino == ino;
}

static void add_process(struct builder *b, pid_t pid, const struct sut_patch_set *known,
			struct sut_netcache *nc)
{
	struct sut_maps maps;
	struct sut_objects objs;
	struct sut_err err;
	struct sut_inventory *inv = b->inv;
	int rc = sut_proc_maps(pid, &maps, &err);
	if (rc == 0 && (rc = sut_proc_objects(pid, &maps, &objs, &err)) < 0)
		sut_proc_maps_free(&maps);
	if (rc < 0) {
		inv->skipped = sut_xrealloc(inv->skipped, (inv->nskipped + 1) * sizeof *inv->skipped);
		struct sut_inv_skip *s = &inv->skipped[inv->nskipped++];
		s->pid = pid;
		s->reason = sut_xstrdup(err.msg);
		return;
	}
	inv->procs = sut_xrealloc(inv->procs, (inv->nprocs + 1) * sizeof *inv->procs);
	struct sut_inv_proc *p = &inv->procs[inv->nprocs++];
	memset(p, 0, sizeof *p);
	p->pid = pid;
	sut_proc_comm(pid, p->comm, sizeof p->comm);
	p->euid = proc_euid(pid);
	p->mntns = ns_id(pid, "mnt");
	p->netns = ns_id(pid, "net");
	sut_proc_exposure(nc, pid, p->netns, &p->listening, &p->established, &p->external);
	p->objs = sut_xcalloc(objs.n ? objs.n : 1, sizeof *p->objs);
	bool patched_build = false;
	for (size_t i = 0; i < objs.n; i++) {
		const struct sut_object *o = &objs.v[i];
		if (!o->build_id_len)
			continue;
		const struct sut_map *m = sut_maps_find(&maps, o->lo);
		uint64_t dev = m ? makedev(m->dev_major, m->dev_minor) : 0, ino = m ? m->inode : 0;
		struct sut_inv_obj *io = &p->objs[p->nobjs++];
		io->path = sut_xstrdup(o->path);
		size_t l = strlen(io->path);
		if (l > 10 && !strcmp(io->path + l - 10, " (deleted)")) {
			io->path[l - 10] = 0;
			io->deleted = true;
		}
		io->bias = o->bias;
		io->disk_file = -1;
		bool added;
		io->file = file_index(b, o->build_id, o->build_id_len, false, dev, ino, io->path,
				      o->open_path, &added);
		struct stat st;
		/* is this the host's file at that path? then dpkg's word about it holds */
		if (!b->dpkg_path[io->file] && !io->deleted && stat(io->path, &st) == 0 &&
		    same_file(&st, dev, ino))
			b->dpkg_path[io->file] = sut_xstrdup(io->path);
		char *root_path = sut_xasprintf("/proc/%d/root%s", (int)pid, io->path);
		if (stat(root_path, &st) == 0) {
			io->on_disk_same = !io->deleted && same_file(&st, dev, ino);
			if (!io->on_disk_same && S_ISREG(st.st_mode)) {
				size_t di = file_index(b, NULL, 0, true, (uint64_t)st.st_dev,
						       (uint64_t)st.st_ino, io->path, root_path, &added);
				io->disk_file = (long)di;
				if (!b->dpkg_path[di] && stat(io->path, &st) == 0 &&
				    same_file(&st, inv->files[di].dev, inv->files[di].ino))
					b->dpkg_path[di] = sut_xstrdup(io->path);
			}
		}
		free(root_path);
		for (size_t k = 0; known && k < known->n; k++)
			patched_build |= known->v[k]->build_id_len == o->build_id_len &&
					 !memcmp(known->v[k]->build_id, o->build_id, o->build_id_len);
	}
	/* only processes with a registry or a build a known patch is for need verify */
	if (patched_build || sut_maps_find_memfd(&maps, "suture-registry")) {
		if (sut_verify_process(pid, known, &p->vfy, &err) < 0)
			p->vfy.pid = pid;
	} else {
		p->vfy.pid = pid;
		p->vfy.registry_ok = true;
	}
	sut_proc_objects_free(&objs);
	sut_proc_maps_free(&maps);
}

int sut_inventory_build(const struct sut_inv_opts *o, const struct sut_patch_set *known,
			struct sut_inventory *inv, struct sut_err *err)
{
	memset(inv, 0, sizeof *inv);
	struct builder *b = sut_xcalloc(1, sizeof *b); /* the hash table is 512 KiB */
	b->inv = inv;
	pid_t *all = NULL;
	size_t n = 0;
	if (o->npids) {
		all = sut_xcalloc(o->npids, sizeof *all);
		memcpy(all, o->pids, o->npids * sizeof *all);
		n = o->npids;
	} else if (sut_proc_list(&all, &n, err) < 0) {
		return -1;
	}
	struct sut_netcache *nc = sut_netcache_new();
	for (size_t i = 0; i < n; i++)
		if (all[i] != getpid())
			add_process(b, all[i], known, nc);
	sut_netcache_free(nc);
	free(all);
	/* files: once each */
	for (size_t i = 0; i < inv->nfiles; i++)
		read_file_facts(inv, &inv->files[i], b->open_path[i]);
	if (o->dpkg) {
		char **paths = sut_xcalloc(inv->nfiles ? inv->nfiles : 1, sizeof *paths);
		size_t *which = sut_xcalloc(inv->nfiles ? inv->nfiles : 1, sizeof *which), m = 0;
		for (size_t i = 0; i < inv->nfiles; i++)
			if (b->dpkg_path[i]) {
				paths[m] = b->dpkg_path[i];
				which[m++] = i;
			}
		char **pkg = sut_xcalloc(m ? m : 1, sizeof *pkg);
		char **ver = sut_xcalloc(m ? m : 1, sizeof *ver);
		char **src = sut_xcalloc(m ? m : 1, sizeof *src);
		sut_dpkg_owners(paths, m, pkg, ver, src);
		char eco[32];
		sut_host_ecosystem(eco, sizeof eco);
		for (size_t k = 0; k < m; k++) {
			struct sut_inv_file *f = &inv->files[which[k]];
			f->package = pkg[k];
			f->version = ver[k];
			f->source = src[k];
			f->ecosystem = pkg[k] ? sut_xstrdup(eco) : NULL;
		}
		free(pkg);
		free(ver);
		free(src);
		free(paths);
		free(which);
	}
	for (size_t i = 0; i < inv->nfiles; i++) {
		free(b->open_path[i]);
		free(b->dpkg_path[i]);
	}
	free(b->open_path);
	free(b->dpkg_path);
	free(b);
	return 0;
}

void sut_inventory_free(struct sut_inventory *inv)
{
	for (size_t i = 0; i < inv->nprocs; i++) {
		struct sut_inv_proc *p = &inv->procs[i];
		for (size_t k = 0; k < p->nobjs; k++)
			free(p->objs[k].path);
		free(p->objs);
		sut_vfy_result_free(&p->vfy);
	}
	free(inv->procs);
	for (size_t i = 0; i < inv->nskipped; i++)
		free(inv->skipped[i].reason);
	free(inv->skipped);
	for (size_t i = 0; i < inv->nfiles; i++) {
		struct sut_inv_file *f = &inv->files[i];
		free(f->package);
		free(f->version);
		free(f->source);
		free(f->ecosystem);
		free(f->openssl);
		free(f->openssl_text);
		free(f->path);
	}
	free(inv->files);
	memset(inv, 0, sizeof *inv);
}
