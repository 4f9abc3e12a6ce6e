/* SPDX-License-Identifier: Apache-2.0 */
/* The `cli` layer: the suture command. One file per subcommand; this header is what they
 * share. Exit status: 0 every named process ended in the asked state, 1 at least one did
 * not (and those were left as they were), 2 the command line was wrong. */
#ifndef SUTURE_CLI_CLI_H
#define SUTURE_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define EXIT_USAGE 2

int cmd_build(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_revert(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_exposure(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_package(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_rollout(int argc, char **argv);

/* The trusted patches verify and scan compare processes with: every *.suture file of the
 * store folders (SUTURE_PATCH_DIRS, colon-separated, else /var/lib/suture/patches and
 * /usr/lib/suture/patches) plus `files`; one that cannot be read or is not signed by a
 * trusted key is reported on stderr and left out (it proves nothing). */
struct sut_patch_set;
void cli_load_patch_set(char *const *files, size_t nfiles, const char *const *keys,
			size_t nkeys, struct sut_patch_set *out);
void cli_free_patch_set(struct sut_patch_set *s);

/* Prints "suture: " + message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a PID argument; prints an error and returns -1 when it is not a positive number. */
pid_t cli_parse_pid(const char *s);
/* Parses a --timeout argument (milliseconds, 1-3600000); prints an error and returns -1
 * when it is not one. */
int cli_parse_timeout(const char *s);
/* Options of a command that takes only --json and --help: 0 parsed (*json set, optind at
 * the first operand), 1 help printed (exit 0), -1 wrong option (usage printed). */
int cli_json_options(int argc, char **argv, const char *usage, bool *json);
/* Wants help? (-h/--help anywhere). */
bool cli_wants_help(int argc, char **argv);
/* ISO-8601 UTC time. */
void cli_time(unsigned long long secs, char *buf, size_t cap);

struct pidlist {
	pid_t *v;
	size_t n, cap;
};
void pidlist_add(struct pidlist *l, pid_t p); /* ignores duplicates */
void pidlist_free(struct pidlist *l);
/* -p PID: adds the process id arg to l; -1 (error printed) when it is not one. */
int cli_pid_arg(struct pidlist *l, const char *arg);

/* Extra trusted keys from --trusted-key options. */
struct cli_keys {
	const char **v;
	size_t n;
};
void cli_keys_add(struct cli_keys *k, const char *path);
/* The store's signature check (store.h's sut_store_verify_fn, ctx a struct cli_keys):
 * exactly apply's trust (cli/trust.h), and unsigned patches are refused. */
struct sut_patch;
struct sut_err;
int cli_store_verify(const struct sut_patch *p, void *ctx, char *signer, size_t cap,
		     struct sut_err *err);

#endif
