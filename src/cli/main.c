/* SPDX-License-Identifier: Apache-2.0 */
/* suture: command-line entry point (placeholder until the cli layer lands). */
#include <stdio.h>

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("suture: not yet implemented\n", stderr);
	return 2;
}
