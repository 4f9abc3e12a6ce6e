/* SPDX-License-Identifier: Apache-2.0 */
/* Preloaded, this strcoll comes before libc's in the dynamic linker's search order; its
 * marker result shows which definition ran. Unversioned, as interposers usually are: the
 * dynamic linker lets it satisfy prog's versioned reference strcoll@GLIBC_2.2.5. */
int strcoll(const char *a, const char *b)
{
	(void)a, (void)b;
	return 333;
}
