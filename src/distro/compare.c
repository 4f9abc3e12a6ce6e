/* SPDX-License-Identifier: Apache-2.0 */
/* Is a rebuilt object the official one? The build-id says so at once when it is equal. A
 * build of only some of a package's outputs can give another build-id for the same loaded
 * bytes (the build-id also hashes debug information, which Debian strips), so otherwise
 * every loaded section (SHF_ALLOC: code, read-only data, initial data, .dynsym, versions,
 * .eh_frame...) is compared byte for byte along with its address and size and the program
 * headers: what a process maps is then exactly what Debian shipped, and so are the symbol
 * addresses a patch binds to. When they differ the message names the first difference and,
 * for OpenSSL, the flags and date the library embeds ("compiler: ...", "built on: ..."). */
#include "distro/distro_int.h"

#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf/elf.h"
#include "util/buf.h"

int dst_build_id_hex(const char *path, char hex[129], struct sut_err *err)
{
	struct sut_elf *e;
	if (sut_elf_open(path, &e, err))
		return -1;
	const uint8_t *id;
	size_t n = sut_elf_build_id(e, &id);
	hex[0] = 0;
	if (n && n <= 64)
		sut_hex(id, n, hex);
	sut_elf_close(e);
	return 0;
}

struct obj {
	const char *path;
	int fd;
	Elf *elf;
	size_t shstrndx;
};

static int obj_open(struct obj *o, const char *path, struct sut_err *err)
{
	o->path = path;
	o->elf = NULL;
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0)
		return sut_errno(err, "%s", path);
	elf_version(EV_CURRENT);
	o->elf = elf_begin(o->fd, ELF_C_READ_MMAP, NULL);
	if (!o->elf || elf_kind(o->elf) != ELF_K_ELF || elf_getshdrstrndx(o->elf, &o->shstrndx)) {
		close(o->fd);
		return sut_errf(err, "%s: not an ELF file (%s)", path, elf_errmsg(-1));
	}
	return 0;
}

static void obj_close(struct obj *o)
{
	if (o->elf)
		elf_end(o->elf);
	if (o->fd >= 0)
		close(o->fd);
}

struct asec {
	const char *name;
	GElf_Shdr sh;
	Elf_Data *data;
};

/* The allocated sections, in header order. */
static struct asec *alloc_sections(struct obj *o, size_t *n)
{
	struct asec *v = NULL;
	*n = 0;
	for (Elf_Scn *s = elf_nextscn(o->elf, NULL); s; s = elf_nextscn(o->elf, s)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(s, &sh) || !(sh.sh_flags & SHF_ALLOC))
			continue;
		v = sut_xrealloc(v, (*n + 1) * sizeof *v);
		v[*n].name = elf_strptr(o->elf, o->shstrndx, sh.sh_name);
		if (!v[*n].name)
			v[*n].name = "?";
		v[*n].sh = sh;
		v[*n].data = sh.sh_type == SHT_NOBITS ? NULL : elf_rawdata(s, NULL);
		(*n)++;
	}
	return v;
}

static const struct asec *find_sec(const struct asec *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

/* The NUL-terminated string starting with `prefix` in any allocated section; NULL if none. */
static char *embedded(const struct asec *v, size_t n, const char *prefix)
{
	size_t lp = strlen(prefix);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].data || !v[i].data->d_buf)
			continue;
		const char *b = v[i].data->d_buf, *end = b + v[i].data->d_size;
		const char *p = memmem(b, (size_t)(end - b), prefix, lp);
		if (!p)
			continue;
		const char *z = memchr(p, 0, (size_t)(end - p));
		size_t l = z ? (size_t)(z - p) : (size_t)(end - p);
		if (l > 400)
			l = 400;
		return sut_xasprintf("%.*s", (int)l, p);
	}
	return NULL;
}

/* What OpenSSL (and other packages that embed them) says about how it was built. */
static char *explain(const struct asec *a, size_t na, const struct asec *b, size_t nb)
{
	static const char *const keys[] = { "compiler: ", "built on: ", "GCC: " };
	char *why = sut_xstrdup("");
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		char *x = embedded(a, na, keys[k]), *y = embedded(b, nb, keys[k]);
		if (x && y && strcmp(x, y)) {
			const char *what = k == 0 ? "the compiler flags differ"
					   : k == 1 ? "the build date differs (SOURCE_DATE_EPOCH)"
						    : "the compiler version differs";
			char *n = sut_xasprintf("%s; %s: official \"%s\", rebuilt \"%s\"", why, what, x, y);
			free(why);
			why = n;
		}
		free(x);
		free(y);
	}
	return why;
}

static int differ(struct sut_err *err, const struct obj *off, const struct obj *reb,
		  const struct asec *a, size_t na, const struct asec *b, size_t nb,
		  const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static int differ(struct sut_err *err, const struct obj *off, const struct obj *reb,
		  const struct asec *a, size_t na, const struct asec *b, size_t nb,
		  const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	char *why = explain(a, na, b, nb);
	sut_errf(err, "the rebuilt %s is not the official %s: %s%s. Rebuild with the same compiler (the version Debian used, from the same Debian release), the flags dpkg-buildflags gives for that package, SOURCE_DATE_EPOCH from its debian/changelog, in the build path Debian used; remove the cache entry to rebuild from scratch",
		 reb->path, off->path, what, why);
	free(why);
	return -1;
}

static int compare_phdrs(struct obj *off, struct obj *reb, const struct asec *a, size_t na,
			 const struct asec *b, size_t nb, struct sut_err *err)
{
	size_t n1, n2;
	if (elf_getphdrnum(off->elf, &n1) || elf_getphdrnum(reb->elf, &n2))
		return sut_errf(err, "%s: cannot read program headers", reb->path);
	if (n1 != n2)
		return differ(err, off, reb, a, na, b, nb, "%zu program headers against %zu", n2, n1);
	for (size_t i = 0; i < n1; i++) {
		GElf_Phdr p, q;
		if (!gelf_getphdr(off->elf, (int)i, &p) || !gelf_getphdr(reb->elf, (int)i, &q))
			return sut_errf(err, "%s: cannot read program header %zu", reb->path, i);
		if (p.p_type != q.p_type || p.p_vaddr != q.p_vaddr || p.p_memsz != q.p_memsz ||
		    p.p_flags != q.p_flags || (p.p_type != PT_NOTE && p.p_filesz != q.p_filesz))
			return differ(err, off, reb, a, na, b, nb,
				      "program header %zu differs (type %u at 0x%llx size 0x%llx, official type %u at 0x%llx size 0x%llx)",
				      i, q.p_type, (unsigned long long)q.p_vaddr,
				      (unsigned long long)q.p_memsz, p.p_type,
				      (unsigned long long)p.p_vaddr, (unsigned long long)p.p_memsz);
	}
	return 0;
}

int sut_distro_compare(const char *official, const char *rebuilt, bool *same_id,
		       struct sut_err *err)
{
	char h1[129], h2[129];
	*same_id = false;
	if (dst_build_id_hex(official, h1, err) || dst_build_id_hex(rebuilt, h2, err))
		return -1;
	if (h1[0] && !strcmp(h1, h2)) {
		*same_id = true;
		return 0;
	}
	struct obj off, reb;
	if (obj_open(&off, official, err))
		return -1;
	if (obj_open(&reb, rebuilt, err)) {
		obj_close(&off);
		return -1;
	}
	size_t na, nb;
	struct asec *a = alloc_sections(&off, &na), *b = alloc_sections(&reb, &nb);
	int rc = compare_phdrs(&off, &reb, a, na, b, nb, err);
	for (size_t i = 0; i < na && rc == 0; i++) {
		const struct asec *x = &a[i], *y = find_sec(b, nb, x->name);
		if (!y) {
			rc = differ(err, &off, &reb, a, na, b, nb, "it has no section %s", x->name);
			break;
		}
		if (x->sh.sh_addr != y->sh.sh_addr || x->sh.sh_size != y->sh.sh_size ||
		    x->sh.sh_type != y->sh.sh_type) {
			rc = differ(err, &off, &reb, a, na, b, nb,
				    "section %s is at 0x%llx, 0x%llx bytes (official: at 0x%llx, 0x%llx bytes)",
				    x->name, (unsigned long long)y->sh.sh_addr,
				    (unsigned long long)y->sh.sh_size, (unsigned long long)x->sh.sh_addr,
				    (unsigned long long)x->sh.sh_size);
			break;
		}
		if (x->sh.sh_type == SHT_NOBITS || !strcmp(x->name, ".note.gnu.build-id"))
			continue;
		if (!x->data || !y->data || x->data->d_size != y->data->d_size) {
			rc = differ(err, &off, &reb, a, na, b, nb, "section %s cannot be read", x->name);
			break;
		}
		const uint8_t *p = x->data->d_buf, *q = y->data->d_buf;
		for (size_t k = 0; k < x->data->d_size; k++) {
			if (p[k] != q[k]) {
				rc = differ(err, &off, &reb, a, na, b, nb,
					    "section %s differs at offset 0x%zx (address 0x%llx)",
					    x->name, k, (unsigned long long)(x->sh.sh_addr + k));
				break;
			}
		}
	}
	for (size_t i = 0; i < nb && rc == 0; i++)
		if (!find_sec(a, na, b[i].name))
			rc = differ(err, &off, &reb, a, na, b, nb, "it has a section %s the official file has not",
				    b[i].name);
	free(a);
	free(b);
	obj_close(&off);
	obj_close(&reb);
	return rc;
}
