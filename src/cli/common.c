/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/escape.h"
#include "util/buf.h"

/* Messages quote what processes control (comm, paths, registry strings): the whole
 * message is escaped (cli/escape.h) so no control byte reaches the terminal. */
static void message(const char *prefix, const char *fmt, va_list ap)
{
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	size_t cap = CLI_ESC_SIZE(strlen(msg));
	char *safe = sut_xmalloc(cap);
	fprintf(stderr, "%s%s\n", prefix, cli_esc(msg, safe, cap));
	free(safe);
	free(msg);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message("suture: ", fmt, ap);
	va_end(ap);
}

void cli_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message("", fmt, ap);
	va_end(ap);
}

pid_t cli_parse_pid(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 0x3fffffff) {
		cli_error("'%s' is not a process id", s);
		return -1;
	}
	return (pid_t)v;
}

int cli_parse_timeout(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 3600000) {
		cli_error("--timeout wants milliseconds, got '%s'", s);
		return -1;
	}
	return (int)v;
}

int cli_json_options(int argc, char **argv, const char *usage, bool *json)
{
	static const struct option lo[] = {
		{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	*json = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		switch (c) {
		case 'j': *json = true; break;
		case 'h': fputs(usage, stdout); return 1;
		default: fputs(usage, stderr); return -1;
		}
	}
	return 0;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

void cli_time(unsigned long long secs, char *buf, size_t cap)
{
	time_t t = (time_t)secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void pidlist_add(struct pidlist *l, pid_t p)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == p)
			return;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = sut_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = p;
}

int cli_pid_arg(struct pidlist *l, const char *arg)
{
	pid_t p = cli_parse_pid(arg);
	if (p < 0)
		return -1;
	pidlist_add(l, p);
	return 0;
}

void pidlist_free(struct pidlist *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}
