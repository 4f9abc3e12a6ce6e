/* SPDX-License-Identifier: Apache-2.0 */
/* Preloaded into prog (LD_PRELOAD), these definitions come before libc's in the dynamic
 * linker's search order. Each returns a marker no real comparison of the test's short
 * strings returns, so the output shows which definition ran. Built without a version
 * script: an unversioned definition satisfies prog's versioned references
 * (strcasecmp@GLIBC_2.2.5), as it does for every interposer of libc. */
int strcasecmp(const char *a, const char *b)
{
	(void)a, (void)b;
	return 555;
}

int strcoll(const char *a, const char *b)
{
	(void)a, (void)b;
	return 333;
}

int strverscmp(const char *a, const char *b)
{
	(void)a, (void)b;
	return 777;
}
