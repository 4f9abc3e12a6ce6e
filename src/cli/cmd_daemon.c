/* SPDX-License-Identifier: Apache-2.0 */
/* suture daemon status|reload: asks sutured over its control socket. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/store.h"
#include "util/buf.h"

static const char daemon_usage[] =
	"usage: suture daemon status|reload [--root DIR] [--json]\n"
	"\n"
	"Talks to sutured, the daemon that keeps every process patched as the patch store\n"
	"says, over its control socket (/run/suture/sutured.sock, root only).\n"
	"\n"
	"  status   the store as sutured sees it (patches, policies, refused files), the\n"
	"           processes it could not patch with the reason (excluded, seccomp, traced,\n"
	"           consistency timeout...), how it learns of new processes, and counters\n"
	"           (exec events, transactions, time from exec to patched)\n"
	"  reload   re-read the store and the policy file now and act on them (sutured also\n"
	"           does this by itself within 50 ms of a change); then prints the status\n"
	"\n"
	"Options:\n"
	"  -R, --root DIR  the sutured started with --root DIR\n"
	"  -j, --json      the daemon's JSON document on standard output\n"
	"  -h, --help      this text\n"
	"\n"
	"Exit status: 0 when sutured answered, 1 when it could not be reached (reload: the\n"
	"store is then picked up when sutured next starts), 2 for a wrong command line.\n";

/* Sends one request line, returns the whole answer (malloc'd) or NULL (err set). */
static char *ask(const char *socket_path, const char *req, struct sut_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof sa.sun_path) {
		sut_errf(err, "control socket path %s is too long", socket_path);
		return NULL;
	}
	strcpy(sa.sun_path, socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		sut_errno(err, "sutured is not reachable at %s", socket_path);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	/* a reload may run transactions: allow it time, but never hang forever */
	struct timeval tv = {.tv_sec = 120};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char *line = sut_xasprintf("%s\n", req);
	ssize_t w = send(fd, line, strlen(line), MSG_NOSIGNAL);
	free(line);
	struct sut_buf b = {0};
	char chunk[4096];
	ssize_t n = 0;
	while (w > 0 && (n = recv(fd, chunk, sizeof chunk, 0)) > 0)
		sut_buf_append(&b, chunk, (size_t)n);
	close(fd);
	if (w <= 0 || n < 0) {
		sut_errno(err, "sutured at %s did not answer", socket_path);
		sut_buf_free(&b);
		return NULL;
	}
	sut_buf_append(&b, "", 1);
	return (char *)b.data;
}

static void print_human(json_t *doc)
{
	json_t *patches = json_object_get(doc, "patches"), *v;
	size_t i;
	printf("sutured pid %lld, new processes by %s, rescan every %lld ms\n",
	       (long long)json_integer_value(json_object_get(doc, "pid")),
	       json_string_value(json_object_get(doc, "new_processes")),
	       (long long)json_integer_value(json_object_get(doc, "rescan_ms")));
	json_t *kh = json_object_get(doc, "kernel_hold");
	if (kh) {
		printf("kernel hold: %s (%s), %zu probe%s",
		       json_string_value(json_object_get(kh, "state")),
		       json_string_value(json_object_get(kh, "detail")),
		       json_array_size(json_object_get(kh, "probes")),
		       json_array_size(json_object_get(kh, "probes")) == 1 ? "" : "s");
		json_t *g = json_object_get(kh, "guard_pid");
		if (json_integer_value(g) > 0)
			printf(", guard pid %lld (restarted %lld times)", (long long)json_integer_value(g),
			       (long long)json_integer_value(json_object_get(kh, "guard_restarts")));
		putchar('\n');
	}
	printf("patches (%zu):\n", json_array_size(patches));
	json_array_foreach(patches, i, v)
		printf("  %-7s %s v%lld  %s  (%s)\n",
		       json_string_value(json_object_get(v, "policy")),
		       json_string_value(json_object_get(v, "id")),
		       (long long)json_integer_value(json_object_get(v, "version")),
		       json_string_value(json_object_get(v, "target")),
		       json_string_value(json_object_get(v, "origin")));
	json_t *refused = json_object_get(doc, "refused");
	json_array_foreach(refused, i, v)
		printf("  REFUSED %s: %s\n", json_string_value(json_object_get(v, "path")),
		       json_string_value(json_object_get(v, "reason")));
	json_t *un = json_object_get(doc, "unpatched");
	printf("processes not patched (%zu):\n", json_array_size(un));
	json_array_foreach(un, i, v) {
		const char *patch = json_string_value(json_object_get(v, "patch"));
		printf("  pid %lld (%s)%s%s: %s%s\n",
		       (long long)json_integer_value(json_object_get(v, "pid")),
		       json_string_value(json_object_get(v, "comm")), patch ? " " : "",
		       patch ? patch : "",
		       json_is_true(json_object_get(v, "excluded")) ? "excluded: " : "",
		       json_string_value(json_object_get(v, "reason")));
	}
	json_t *c = json_object_get(doc, "counters");
	printf("exec events %lld, transactions: %lld applied, %lld reverted, %lld failed; "
	       "exec to patched: last %.1f ms, max %.1f ms\n",
	       (long long)json_integer_value(json_object_get(c, "exec_events")),
	       (long long)json_integer_value(json_object_get(c, "applied")),
	       (long long)json_integer_value(json_object_get(c, "reverted")),
	       (long long)json_integer_value(json_object_get(c, "failed")),
	       json_integer_value(json_object_get(c, "exec_to_patched_last_us")) / 1000.0,
	       json_integer_value(json_object_get(c, "exec_to_patched_max_us")) / 1000.0);
}

int cmd_daemon(int argc, char **argv)
{
	static const struct option lo[] = {{"root", required_argument, 0, 'R'},
					   {"json", no_argument, 0, 'j'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	const char *root = NULL;
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "R:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'R': root = optarg; break;
		case 'j': json = true; break;
		case 'h': fputs(daemon_usage, stdout); return 0;
		default: fputs(daemon_usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc ||
	    (strcmp(argv[optind], "status") && strcmp(argv[optind], "reload"))) {
		cli_error("daemon: want status or reload");
		fputs(daemon_usage, stderr);
		return EXIT_USAGE;
	}
	struct sut_store_paths paths;
	sut_store_paths_init(&paths, root);
	struct sut_err err;
	char *answer = ask(paths.socket, argv[optind], &err);
	sut_store_paths_free(&paths);
	if (!answer) {
		cli_error("%s", err.msg);
		return 1;
	}
	json_error_t je;
	json_t *doc = json_loads(answer, 0, &je);
	free(answer);
	if (!doc || !json_is_object(doc)) {
		cli_error("sutured answered with invalid JSON: %s", je.text);
		json_decref(doc);
		return 1;
	}
	json_t *e = json_object_get(doc, "error");
	int rc = 0;
	if (e) {
		cli_error("sutured: %s", json_string_value(e));
		rc = 1;
	} else if (json) {
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		print_human(doc);
	}
	json_decref(doc);
	return rc;
}
