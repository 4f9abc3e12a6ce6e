/* SPDX-License-Identifier: Apache-2.0 */
/* suture store add|list|remove|policy: the patches sutured keeps applied. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "cli/trust.h"
#include "store/store.h"
#include "util/buf.h"

static const char store_usage[] =
	"usage: suture store add [--policy auto|manual] [--replace] PATCH...\n"
	"       suture store list [--json]\n"
	"       suture store remove PATCH-ID...\n"
	"       suture store policy PATCH-ID auto|manual\n"
	"  common options: [--root DIR] [-k|--trusted-key PEM]...\n"
	"\n"
	"The store is the set of patches sutured keeps applied in every process that maps\n"
	"their target build, including processes started later. Patches added here go to\n"
	"/var/lib/suture/patches/; packages made by `suture package` install theirs into\n"
	"/usr/lib/suture/patches/. Only a patch signed by a trusted key enters the store; a\n"
	"file in a store folder that is not is listed as refused and never applied.\n"
	"\n"
	"Each patch has a policy, kept in /etc/suture/suture.conf ([patch ID] policy=...):\n"
	"auto (the default: sutured applies it everywhere) or manual (kept in the store,\n"
	"applied only with `suture apply`). Setting a patch to manual, or removing it, makes a\n"
	"running sutured revert it everywhere.\n"
	"\n"
	"Commands:\n"
	"  add PATCH...      verify each patch file and copy it into the store\n"
	"  list              every file in both store folders: patch, version, target,\n"
	"                    policy, origin, signer, or why it is refused\n"
	"  remove ID...      take patches out of the operator's folder (a package's patch\n"
	"                    goes with its package)\n"
	"  policy ID POLICY  set the policy of a patch\n"
	"\n"
	"Options:\n"
	"  -P, --policy P    add: the policy of the added patches (default auto)\n"
	"  -r, --replace     add: replace a patch of the same id already in the store\n"
	"  -R, --root DIR    use DIR/var/lib/suture, DIR/usr/lib/suture and DIR/etc/suture\n"
	"                    instead of the system's (for tests and images)\n"
	"  -k, --trusted-key PEM  also trust this public key (repeatable); keys are otherwise\n"
	"                    read from $SUTURE_TRUSTED_KEYS and " SUT_TRUST_DIR "/*.pem\n"
	"  -j, --json        list: one JSON document on standard output\n"
	"  -h, --help        this text\n"
	"\n"
	"Exit status: 0 when every named patch ended in the asked state, 1 otherwise, 2 for a\n"
	"wrong command line.\n";

struct store_args {
	const char *root;
	struct cli_keys keys;
	bool json, replace;
	enum sut_policy policy;
};

int cli_store_verify(const struct sut_patch *p, void *ctx, char *signer, size_t cap,
		     struct sut_err *err)
{
	const struct cli_keys *k = ctx;
	char id[32];
	if (p->sig_len == 0)
		return sut_errf(err, "the patch is unsigned (sign it with `suture build --sign-key`)");
	/* loaded per check: a key added or revoked since the last reload counts at once */
	struct cli_trust t;
	cli_trust_load(&t, k->v, k->n);
	int rc = cli_trust_check(&t, p, id, err);
	cli_trust_free(&t);
	if (rc < 0)
		return -1;
	snprintf(signer, cap, "%s", id);
	return 0;
}

static int store_add(struct store_args *a, const struct sut_store_paths *paths, int n,
		     char **files)
{
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char *id;
		struct sut_err err;
		int added = a->replace ? sut_store_replace(paths, files[i], cli_store_verify,
							   &a->keys, &id, &err)
				       : sut_store_add(paths, files[i], cli_store_verify, &a->keys,
						       &id, &err);
		if (added < 0) {
			cli_error("%s", err.msg);
			rc = 1;
			continue;
		}
		struct sut_conf conf;
		/* the policy is written only when it changes, so an untouched file stays so */
		if (sut_conf_load(paths->config, &conf, &err) < 0 ||
		    (sut_conf_policy(&conf, id) != a->policy &&
		     sut_conf_set_policy(paths->config, id, a->policy, &err) < 0)) {
			cli_error("patch %s stored, but its policy was not set: %s", id, err.msg);
			rc = 1;
		} else {
			cli_info("patch %s added to the store (policy %s)", id,
				 sut_policy_name(a->policy));
		}
		sut_conf_free(&conf);
		free(id);
	}
	return rc;
}

static void list_json(const struct sut_store *s)
{
	struct json j;
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_arr_begin(&j, "patches");
	for (size_t i = 0; i < s->n; i++) {
		const struct sut_store_entry *e = &s->v[i];
		json_obj_begin(&j, NULL);
		json_str(&j, "path", e->path);
		json_str(&j, "origin", sut_store_origin_name(e->origin));
		json_bool(&j, "accepted", e->refused == NULL);
		if (e->refused) {
			json_str(&j, "refused", e->refused);
		} else {
			const struct sut_patch *p = e->patch;
			char bid[2 * SUT_BUILD_ID_MAX + 1];
			sut_hex(p->build_id, p->build_id_len, bid);
			json_str(&j, "id", p->id);
			json_uint(&j, "version", p->version);
			json_str(&j, "target", p->target_name);
			json_str(&j, "build_id", bid);
			json_arr_begin(&j, "cves");
			for (size_t c = 0; c < p->ncves; c++)
				json_str(&j, NULL, p->cves[c]);
			json_arr_end(&j);
			json_str(&j, "policy", sut_policy_name(e->policy));
			json_str(&j, "signer", e->signer);
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_end(&j);
}

static int store_list(struct store_args *a, const struct sut_store_paths *paths)
{
	struct sut_conf conf;
	struct sut_store s;
	struct sut_err err;
	if (sut_conf_load(paths->config, &conf, &err) < 0) {
		cli_error("%s", err.msg);
		return 1;
	}
	int rc = 0;
	if (sut_store_load(paths, &conf, cli_store_verify, &a->keys, &s, &err) < 0) {
		cli_error("%s", err.msg);
		sut_conf_free(&conf);
		return 1;
	}
	if (a->json) {
		list_json(&s);
	} else {
		for (size_t i = 0; i < s.n; i++) {
			const struct sut_store_entry *e = &s.v[i];
			if (e->refused) {
				printf("REFUSED  %s: %s\n", e->path, e->refused);
				continue;
			}
			const struct sut_patch *p = e->patch;
			printf("%-7s  %s v%u  %s  (%s, signed by %s)\n", sut_policy_name(e->policy),
			       p->id, p->version, p->target_name ? p->target_name : "?",
			       sut_store_origin_name(e->origin), e->signer);
		}
		if (s.n == 0)
			cli_info("the store is empty (%s, %s)", paths->operator_dir,
				 paths->package_dir);
	}
	for (size_t i = 0; i < s.n; i++)
		if (s.v[i].refused) {
			rc = 1; /* a refused file needs the operator's attention */
			if (a->json)
				cli_error("refused %s: %s", s.v[i].path, s.v[i].refused);
		}
	sut_store_free(&s);
	sut_conf_free(&conf);
	return rc;
}

static int store_remove(const struct sut_store_paths *paths, int n, char **ids)
{
	int rc = 0;
	for (int i = 0; i < n; i++) {
		struct sut_err err;
		if (sut_store_remove(paths, ids[i], &err) < 0 ||
		    sut_conf_forget_patch(paths->config, ids[i], &err) < 0) {
			cli_error("%s", err.msg);
			rc = 1;
			continue;
		}
		cli_info("patch %s removed from the store", ids[i]);
	}
	return rc;
}

static int store_policy(const struct sut_store_paths *paths, int n, char **args)
{
	enum sut_policy p;
	if (n != 2 || sut_policy_parse(args[1], &p) < 0) {
		cli_error("usage: suture store policy PATCH-ID auto|manual");
		return EXIT_USAGE;
	}
	struct sut_err err;
	if (sut_conf_set_policy(paths->config, args[0], p, &err) < 0) {
		cli_error("%s", err.msg);
		return 1;
	}
	cli_info("patch %s: policy %s", args[0], sut_policy_name(p));
	return 0;
}

int cmd_store(int argc, char **argv)
{
	static const struct option lo[] = {
		{"policy", required_argument, 0, 'P'}, {"replace", no_argument, 0, 'r'},
		{"root", required_argument, 0, 'R'}, {"trusted-key", required_argument, 0, 'k'},
		{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(store_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	const char *sub = argv[1];
	struct store_args a = {0};
	int c, rc;
	/* the subcommand is getopt's argv[0]: options may come anywhere after it */
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "P:rR:k:j", lo, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (sut_policy_parse(optarg, &a.policy) < 0) {
				cli_error("--policy wants auto or manual, got '%s'", optarg);
				free(a.keys.v);
				return EXIT_USAGE;
			}
			break;
		case 'r': a.replace = true; break;
		case 'R': a.root = optarg; break;
		case 'k':
			cli_keys_add(&a.keys, optarg);
			break;
		case 'j': a.json = true; break;
		default: fputs(store_usage, stderr); free(a.keys.v); return EXIT_USAGE;
		}
	}
	int n = argc - 1 - optind;
	char **rest = argv + 1 + optind;
	struct sut_store_paths paths;
	sut_store_paths_init(&paths, a.root);
	struct cli_trust ts;
	cli_trust_load(&ts, a.keys.v, a.keys.n);
	cli_trust_print_warnings(&ts);
	cli_trust_free(&ts);
	if (!strcmp(sub, "list") && n == 0) {
		rc = store_list(&a, &paths);
	} else if (!strcmp(sub, "add") && n > 0) {
		rc = store_add(&a, &paths, n, rest);
	} else if (!strcmp(sub, "remove") && n > 0) {
		rc = store_remove(&paths, n, rest);
	} else if (!strcmp(sub, "policy")) {
		rc = store_policy(&paths, n, rest);
	} else {
		cli_error("store: unknown command or wrong arguments: '%s'", sub);
		fputs(store_usage, stderr);
		rc = EXIT_USAGE;
	}
	sut_store_paths_free(&paths);
	free(a.keys.v);
	return rc;
}

void cli_keys_add(struct cli_keys *k, const char *path)
{
	k->v = sut_xrealloc(k->v, (k->n + 1) * sizeof *k->v);
	k->v[k->n++] = path;
}
