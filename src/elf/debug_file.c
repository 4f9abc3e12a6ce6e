/* SPDX-License-Identifier: Apache-2.0 */
/* Debug files found by build-id. Distributions strip shared libraries to .dynsym, which
 * has no static functions; the separate debug file has the full .symtab with the same
 * addresses, and the build-id is what ties the two together (never a path). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf/elf_internal.h"
#include "util/buf.h"

#define DEFAULT_DEBUG_ROOT "/usr/lib/debug"

/* The build-id of the file at path equals id. Debug files keep the program headers and
 * the build-id note near the start, so the first pages suffice: the caller will open (and
 * validate) the file in full anyway, and debug files can be large. */
static bool has_build_id(const char *path, const uint8_t *id, size_t id_len)
{
	enum { HEAD = 64 * 1024 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	uint8_t *head = sut_xmalloc(HEAD);
	ssize_t n = pread(fd, head, HEAD, 0);
	close(fd);
	uint8_t got[64];
	size_t len = n > 0 ? sut_elf_build_id_from_image(head, (size_t)n, got, sizeof got) : 0;
	free(head);
	return len == id_len && memcmp(got, id, id_len) == 0;
}

int sut_elf_find_debug_file(const char *root, const uint8_t *id, size_t id_len, char **path)
{
	*path = NULL;
	if (!id || id_len < 2 || id_len > 64)
		return 0;
	char hex[2 * 64 + 1];
	sut_hex(id, id_len, hex);
	char *p = sut_xasprintf("%s/.build-id/%.2s/%s.debug", root ? root : DEFAULT_DEBUG_ROOT,
				hex, hex + 2);
	if (!has_build_id(p, id, id_len)) {
		free(p);
		return 0;
	}
	*path = p;
	return 1;
}
