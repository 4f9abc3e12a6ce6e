/* SPDX-License-Identifier: Apache-2.0 */
/* `suture build`: from a source tree and a diff to a patch file.
 *
 * W/orig   the tree copied and built with the user's command, through the compiler wrapper
 * W/patched a copy of the built W/orig (timestamps kept, so make rebuilds only what the diff
 *          touches), the diff applied, #line fix-ups inserted, built again
 * W/fs     each translation unit the patched build recompiled, compiled again in both trees
 *          with -ffunction-sections -fdata-sections, for the per-function comparison
 * The rebuilt original's target object is what the patch binds to and what its build-id names;
 * the deployed object must be the same build (see opts->verify_build_id). */
#include "build/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"

/* Bytes of a failed build command's log, and of a failed recompilation's messages, quoted
 * in the error. */
#define BUILD_LOG_TAIL 1500
#define COMPILE_LOG_TAIL 1200
/* C sources one recorded compiler command may compile */
#define SOURCES_MAX 64

struct bctx {
	const struct sut_build_opts *o;
	char *src, *diff; /* absolute */
	char *w, *orig, *patched, *shim, *fs;
	char *path_env;   /* PATH=shim:$PATH */
	struct bld_changes changes; /* original lines the diff changed, per file */
};

static void progress(const struct bctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const struct bctx *c, const char *fmt, ...)
{
	if (!c->o->progress)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *step = NULL;
	if (vasprintf(&step, fmt, ap) >= 0) {
		c->o->progress(c->o->progress_arg, step);
		free(step);
	}
	va_end(ap);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Runs the user's build command in tree, logging compilations to log. */
static int run_build(struct bctx *c, const char *tree, const char *log, const char *what,
		     struct sut_err *err)
{
	const char *cmd = c->o->build_cmd ? c->o->build_cmd : "make";
	char *logenv = sut_xasprintf("SUTURE_CC_LOG=%s", log);
	char *out = sut_xasprintf("%s.build-output", log);
	/* Paths as if built in the source tree itself: the rebuilt target's debug info, and so
	 * its build-id, match a deployed build made there, and __FILE__ is the same in both
	 * trees, so no function differs only by the tree it was built in. */
	char *extra = sut_xasprintf("SUTURE_CC_EXTRA=-ffile-prefix-map=%s=%s", tree, c->src);
	char *env[] = { c->path_env, logenv, extra, NULL };
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	int st = bld_run(tree, argv, env, out, err);
	int rc = 0;
	if (st > 0) {
		char *tail = bld_file_tail(out, BUILD_LOG_TAIL);
		rc = sut_errf(err, "building the %s tree with '%s' failed (exit status %d): %s", what, cmd,
			      st, tail);
		free(tail);
	} else if (st < 0) {
		rc = -1;
	}
	free(logenv);
	free(extra);
	free(out);
	return rc;
}

static int apply_diff(struct bctx *c, struct sut_err *err)
{
	char *out = sut_xasprintf("%s/patch-output", c->w);
	/* --fuzz=0: a security fix must apply exactly where its author wrote it; a hunk that
	 * only fits with context lines ignored may land in code the fix was not written for. */
	char *argv[] = { "patch", "-p1", "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch",
			 "-i", c->diff, NULL };
	int st = bld_run(c->patched, argv, NULL, out, err);
	int rc = 0;
	if (st > 0) {
		char *tail = bld_file_tail(out, BUILD_LOG_TAIL);
		rc = sut_errf(err, "%s does not apply exactly to %s (no fuzz is allowed: a fix must apply where it was written; check that the diff is for this version of the source): %s",
			      c->diff, c->src, tail);
		free(tail);
	} else if (st < 0) {
		rc = -1;
	}
	free(out);
	return rc;
}

/* #line fix-up of every changed C file, and a fresh mtime so make rebuilds it. */
static int fix_changed_files(struct bctx *c, struct sut_err *err)
{
	char **files;
	size_t n;
	if (bld_diff_files(c->diff, &files, &n, err))
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *o = sut_xasprintf("%s/%s", c->orig, files[i]);
		char *p = sut_xasprintf("%s/%s", c->patched, files[i]);
		/* the change set first: the fix-up adds lines of its own */
		if (exists(p) && exists(o) && bld_is_c_family(p))
			rc = bld_changes_record(&c->changes, o, p, files[i], err);
		if (rc == 0 && exists(p) && exists(o) && bld_is_c_family(p))
			rc = bld_line_fixup(o, p, err);
		if (rc == 0 && exists(p) && utimensat(AT_FDCWD, p, NULL, 0) < 0)
			rc = sut_errno(err, "%s", p);
		free(o);
		free(p);
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	return rc;
}

static char *resolve(const char *cwd, const char *path)
{
	char *joined = path[0] == '/' ? sut_xstrdup(path) : sut_xasprintf("%s/%s", cwd, path);
	char *real = realpath(joined, NULL);
	if (real) {
		free(joined);
		return real;
	}
	return joined;
}

/* Inputs (.o) of the recorded link commands: of the target's link when `target`, else of every
 * other link. *found tells whether any such link was recorded. */
static char **link_inputs(struct bctx *c, const struct bld_compile *v, size_t n, bool target,
			  size_t *ni, bool *found)
{
	char *tp = sut_xasprintf("%s/%s", c->patched, c->o->target);
	char *rt = resolve("/", tp);
	char **in = NULL;
	*ni = 0;
	*found = false;
	for (size_t i = 0; i < n; i++) {
		size_t idx[1];
		const char *out = bld_compile_output(&v[i]);
		if (!out || bld_compile_sources(&v[i], idx, 1))
			continue;
		char *ro = resolve(v[i].cwd, out);
		bool is_target = !strcmp(ro, rt);
		free(ro);
		if (is_target != target)
			continue;
		*found = true;
		for (size_t k = 1; k < v[i].argc; k++) {
			const char *a = v[i].argv[k];
			size_t l = strlen(a);
			if (a[0] == '-' || l < 3 || strcmp(a + l - 2, ".o"))
				continue;
			in = sut_xrealloc(in, (*ni + 1) * sizeof *in);
			in[(*ni)++] = resolve(v[i].cwd, a);
		}
	}
	free(tp);
	free(rt);
	return in;
}

static bool listed(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

static void list_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* How surely compilation v's object goes into the target: 2 linked into it, 1 unknown (an
 * archive member, or no link recorded), 0 linked into something else only. A tree may compile
 * one source several times (OpenSSL: static and shared library objects); the best one wins. */
static int relevance(const struct bld_compile *v, const char *target, char **tin, size_t ntin,
		     bool tfound, char **oin, size_t noin)
{
	const char *out = bld_compile_output(v);
	if (bld_compile_links(v)) {
		/* compiled and linked in one command: its output is the linked object */
		char *ro = out ? resolve(v->cwd, out) : NULL;
		int r = ro && !strcmp(ro, target) ? 2 : 0;
		free(ro);
		return r;
	}
	if (!out || !tfound)
		return 1;
	char *ro = resolve(v->cwd, out);
	int r = listed(tin, ntin, ro) ? 2 : listed(oin, noin, ro) ? 0 : 1;
	free(ro);
	return r;
}

struct tu {
	char *source;      /* as resolved in the patched tree */
	char *orig_o, *patched_o;
	bool is_new;
};

static int compile_one(const char *cwd, char **argv, const char *what, const char *outfile,
		       struct sut_err *err)
{
	int st = bld_run(cwd, argv, NULL, outfile, err);
	if (st < 0)
		return -1;
	if (st) {
		char *tail = bld_file_tail(outfile, COMPILE_LOG_TAIL);
		sut_errf(err, "recompiling %s failed (exit status %d): %s", what, st, tail);
		free(tail);
		return -1;
	}
	return 0;
}

/* For each recorded compilation, how surely its object goes into the target (relevance()),
 * judged from the recorded link commands. */
static int *score_compiles(struct bctx *c, const struct bld_compile *v, size_t n)
{
	size_t ntin, noin;
	bool tfound, ofound;
	char **tin = link_inputs(c, v, n, true, &ntin, &tfound);
	char **oin = link_inputs(c, v, n, false, &noin, &ofound);
	int *score = sut_xcalloc(n ? n : 1, sizeof *score);
	char *tp = sut_xasprintf("%s/%s", c->patched, c->o->target);
	char *rt = resolve("/", tp);
	for (size_t i = 0; i < n; i++)
		score[i] = relevance(&v[i], rt, tin, ntin, tfound, oin, noin);
	free(tp);
	free(rt);
	list_free(tin, ntin);
	list_free(oin, noin);
	return score;
}

/* Does another compilation of `source` win over compilation i (a better score, or the same
 * score earlier in the log)? Then i's copy is not the one recompiled. */
static bool compiled_better_elsewhere(const struct bld_compile *v, size_t n, const int *score,
				      size_t i, const char *source)
{
	for (size_t k = 0; k < n; k++) {
		if (k == i || score[k] < score[i] || (score[k] == score[i] && k > i))
			continue;
		size_t kidx[SOURCES_MAX];
		size_t kn = bld_compile_sources(&v[k], kidx, SOURCES_MAX);
		for (size_t j = 0; j < kn; j++) {
			char *ks = resolve(v[k].cwd, v[k].argv[kidx[j]]);
			bool same = !strcmp(ks, source);
			free(ks);
			if (same)
				return true;
		}
	}
	return false;
}

/* Where the recompiled objects and the compilers' messages go, and the prefix maps that
 * make both trees' objects name the sources as the original tree does. */
struct recompile_dirs {
	char *fs_o, *fs_p;  /* objects of the original and of the patched tree */
	char *msg;          /* the compilers' output */
	char *prefix_map, *orig_map;
};

/* Translation unit t (source argument src of compilation cv), once more in each tree with
 * -ffunction-sections and friends; then the layouts of both objects' types compared. A
 * source the original tree does not have is new: compiled once. */
static int recompile_tu(struct bctx *c, const struct recompile_dirs *d,
			const struct bld_compile *cv, size_t src, struct tu *t,
			struct sut_err *err)
{
	char **pa = bld_rerun_argv(cv, src, t->patched_o, NULL, NULL, d->prefix_map);
	int rc = compile_one(cv->cwd, pa, t->source, d->msg, err);
	bld_argv_free(pa);
	char *ocwd = bld_replace_prefix(cv->cwd, c->patched, c->orig);
	char *osrc = bld_replace_prefix(t->source, c->patched, c->orig);
	t->is_new = !exists(osrc);
	if (rc == 0 && !t->is_new) {
		char **oa = bld_rerun_argv(cv, src, t->orig_o, c->patched, c->orig, d->orig_map);
		rc = compile_one(ocwd, oa, osrc, d->msg, err);
		bld_argv_free(oa);
	}
	if (rc == 0 && !t->is_new) {
		char *shown = bld_replace_prefix(t->source, c->patched, c->src);
		rc = bld_check_layouts(t->orig_o, t->patched_o, shown, err);
		free(shown);
	}
	free(ocwd);
	free(osrc);
	return rc;
}

/* Step 3: each translation unit the patched build compiled, once more in both trees: the
 * compilations read from the wrapper's log, scored by whether they go into the target,
 * each source taken from its best compilation, recompiled. */
static int recompile(struct bctx *c, struct tu **tus, size_t *ntu, struct sut_err *err)
{
	char *log = sut_xasprintf("%s.log", c->patched);
	struct bld_compile *v;
	size_t n;
	int rc = bld_read_cc_log(log, &v, &n, err);
	free(log);
	if (rc)
		return -1;
	int *score = score_compiles(c, v, n);
	struct recompile_dirs d = {
		.fs_o = sut_xasprintf("%s/orig", c->fs),
		.fs_p = sut_xasprintf("%s/patched", c->fs),
		.msg = sut_xasprintf("%s/fs/compile-output", c->w),
		.prefix_map = sut_xasprintf("-ffile-prefix-map=%s=%s", c->patched, c->src),
		.orig_map = sut_xasprintf("-ffile-prefix-map=%s=%s", c->orig, c->src),
	};
	*tus = NULL;
	*ntu = 0;
	if (mkdir(c->fs, 0755) || mkdir(d.fs_o, 0755) || mkdir(d.fs_p, 0755))
		rc = sut_errno(err, "%s", c->fs);
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t idx[SOURCES_MAX];
		size_t ns = bld_compile_sources(&v[i], idx, SOURCES_MAX);
		if (score[i] == 0)
			continue;
		for (size_t s = 0; s < ns && rc == 0; s++) {
			char *source = resolve(v[i].cwd, v[i].argv[idx[s]]);
			if (compiled_better_elsewhere(v, n, score, i, source)) {
				free(source);
				continue;
			}
			struct tu t = {
				.source = source,
				.patched_o = sut_xasprintf("%s/%zu.o", d.fs_p, *ntu),
				.orig_o = sut_xasprintf("%s/%zu.o", d.fs_o, *ntu),
			};
			rc = recompile_tu(c, &d, &v[i], idx[s], &t, err);
			*tus = sut_xrealloc(*tus, (*ntu + 1) * sizeof **tus);
			(*tus)[(*ntu)++] = t;
		}
	}
	if (rc == 0 && *ntu == 0)
		rc = sut_errf(err, "the patched build compiled no C source that goes into %s (is the compiler called by an absolute path, bypassing the wrapper on PATH?)",
			      c->o->target);
	free(score);
	bld_compiles_free(v, n);
	free(d.fs_o);
	free(d.fs_p);
	free(d.msg);
	free(d.prefix_map);
	free(d.orig_map);
	return rc;
}

static void tus_free(struct tu *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].source);
		free(t[i].orig_o);
		free(t[i].patched_o);
	}
	free(t);
}

/* Steps 4-6 for one translation unit. */
static int compare_tu(struct bld_emit *em, const struct tu *t, struct sut_err *err)
{
	struct bld_obj *o = NULL, *p = NULL;
	if (bld_obj_open(t->patched_o, &p, err))
		return sut_err_wrap(err, "%s", t->source);
	if (!t->is_new && bld_obj_open(t->orig_o, &o, err)) {
		bld_obj_close(p);
		return sut_err_wrap(err, "%s", t->source);
	}
	struct bld_objdiff d;
	int rc = bld_objdiff(o, p, &d, err);
	if (rc == 0) {
		rc = bld_emit_object(em, o, p, &d, err);
		bld_objdiff_free(&d);
	}
	bld_obj_close(o);
	bld_obj_close(p);
	return rc;
}

/* --expect-build-id: the patch must be for the build that is deployed. */
static int build_id_mismatch(const struct sut_build_opts *o, const char *hex, struct sut_err *err)
{
	if (o->verify_build_id && strcasecmp(o->verify_build_id, hex))
		return sut_errf(err, "rebuilt original has build-id %s but the deployed object has %s: rebuild with the same compiler, flags and SOURCE_DATE_EPOCH",
				hex, o->verify_build_id);
	return 0;
}

/* Checked right after the original build, so a wrong build stops before the diff is applied
 * and the tree built a second time. */
static int check_original_build_id(struct bctx *c, const char *target, struct sut_err *err)
{
	if (c->o->check_original && c->o->check_original(c->o->check_arg, target, err))
		return -1;
	if (!c->o->verify_build_id)
		return 0;
	struct sut_elf *e;
	if (sut_elf_open(target, &e, err))
		return -1;
	const uint8_t *id;
	size_t idlen = sut_elf_build_id(e, &id);
	char hex[2 * SUT_BUILD_ID_MAX + 1] = "";
	int rc = 0;
	if (!idlen || idlen > SUT_BUILD_ID_MAX)
		rc = sut_errf(err, "%s: the rebuilt target has no usable GNU build-id (link with -Wl,--build-id)",
			      c->o->target);
	else
		sut_hex(id, idlen, hex);
	sut_elf_close(e);
	return rc ? rc : build_id_mismatch(c->o, hex, err);
}

static int fill_metadata(struct bctx *c, struct sut_patch *p, const struct sut_elf *target,
			 struct sut_build_report *rep, struct sut_err *err)
{
	const struct sut_build_opts *o = c->o;
	const uint8_t *id;
	size_t idlen = sut_elf_build_id(target, &id);
	if (!idlen)
		return sut_errf(err, "%s: the rebuilt target has no GNU build-id (link with -Wl,--build-id)",
				o->target);
	if (idlen > SUT_BUILD_ID_MAX)
		return sut_errf(err, "%s: build-id of %zu bytes is too long", o->target, idlen);
	sut_hex(id, idlen, rep->build_id_hex);
	if (build_id_mismatch(o, rep->build_id_hex, err))
		return -1;
	memcpy(p->build_id, id, idlen);
	p->build_id_len = idlen;
	if (o->target_build_id) {
		int n = sut_unhex(o->target_build_id, p->build_id, sizeof p->build_id);
		if (n <= 0)
			return sut_errf(err, "build-id '%s' is not hex", o->target_build_id);
		p->build_id_len = (size_t)n;
		sut_hex(p->build_id, p->build_id_len, rep->build_id_hex);
	}
	p->pkg_source = o->pkg_source ? sut_xstrdup(o->pkg_source) : NULL;
	p->pkg_version = o->pkg_version ? sut_xstrdup(o->pkg_version) : NULL;
	p->pkg_binary = o->pkg_binary ? sut_xstrdup(o->pkg_binary) : NULL;
	p->format = SUT_PATCH_FORMAT;
	p->version = 1;
	p->id = o->id ? sut_xstrdup(o->id) : bld_id_from_diff(c->diff);
	p->description = o->description ? sut_xstrdup(o->description) : bld_description_from_diff(c->diff);
	if (!p->description)
		p->description = sut_xasprintf("patch built from %s", strrchr(c->diff, '/') + 1);
	p->ncves = o->ncves;
	p->cves = sut_xcalloc(o->ncves, sizeof *p->cves);
	for (size_t i = 0; i < o->ncves; i++)
		p->cves[i] = sut_xstrdup(o->cves[i]);
	const char *base = strrchr(o->target, '/');
	p->target_name = sut_xstrdup(base ? base + 1 : o->target);
	p->consistency = o->per_call ? SUT_CONS_PER_CALL : SUT_CONS_STRICT;
	return 0;
}

static int setup(struct bctx *c, struct sut_err *err)
{
	const struct sut_build_opts *o = c->o;
	if (!o->src || !o->diff || !o->target)
		return sut_errf(err, "build needs a source tree, a diff and a target");
	if (o->target[0] == '/')
		return sut_errf(err, "target %s must be a path relative to the built tree", o->target);
	c->src = realpath(o->src, NULL);
	if (!c->src)
		return sut_errno(err, "source tree %s", o->src);
	c->diff = realpath(o->diff, NULL);
	if (!c->diff)
		return sut_errno(err, "diff %s", o->diff);
	if (o->workdir) {
		if (mkdir(o->workdir, 0700) < 0 && errno != EEXIST)
			return sut_errno(err, "work directory %s", o->workdir);
		c->w = realpath(o->workdir, NULL);
		if (!c->w)
			return sut_errno(err, "work directory %s", o->workdir);
	} else {
		const char *tmp = getenv("TMPDIR");
		char *templ = sut_xasprintf("%s/suture-build-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(templ)) {
			sut_errno(err, "creating a work directory %s", templ);
			free(templ);
			return -1;
		}
		c->w = templ;
	}
	c->orig = sut_xasprintf("%s/orig", c->w);
	c->patched = sut_xasprintf("%s/patched", c->w);
	c->shim = sut_xasprintf("%s/shim", c->w);
	c->fs = sut_xasprintf("%s/fs", c->w);
	if (exists(c->orig) || exists(c->patched) || exists(c->shim))
		return sut_errf(err, "work directory %s is not empty", c->w);
	const char *path = getenv("PATH");
	c->path_env = sut_xasprintf("PATH=%s:%s", c->shim, path ? path : "/usr/bin:/bin");
	return bld_write_shims(c->shim, path ? path : "/usr/bin:/bin", err);
}

static int build_trees(struct bctx *c, struct sut_err *err)
{
	if (bld_copy_tree(c->src, c->orig, err))
		return -1;
	progress(c, "building original tree...");
	char *log = sut_xasprintf("%s.log", c->orig);
	int rc = run_build(c, c->orig, log, "original", err);
	free(log);
	if (rc)
		return -1;
	char *t = sut_xasprintf("%s/%s", c->orig, c->o->target);
	bool have = exists(t);
	rc = have ? check_original_build_id(c, t, err) : 0;
	free(t);
	if (!have)
		return sut_errf(err, "the build of %s did not produce %s", c->src, c->o->target);
	if (rc)
		return -1;
	if (bld_copy_tree(c->orig, c->patched, err) || apply_diff(c, err) || fix_changed_files(c, err))
		return -1;
	progress(c, "building patched tree...");
	log = sut_xasprintf("%s.log", c->patched);
	rc = run_build(c, c->patched, log, "patched", err);
	free(log);
	return rc;
}

static int make_patch(struct bctx *c, struct sut_build_report *rep, struct sut_err *err)
{
	struct tu *tus = NULL;
	size_t ntu = 0;
	if (recompile(c, &tus, &ntu, err))
		return -1;
	char *tpath = sut_xasprintf("%s/%s", c->orig, c->o->target);
	struct sut_elf *target = NULL;
	int rc = sut_elf_open(tpath, &target, err);
	free(tpath);
	if (rc) {
		tus_free(tus, ntu);
		return -1;
	}
	struct sut_patch *p = sut_xcalloc(1, sizeof *p);
	struct bld_emit em = { .p = p, .target = target, .changes = &c->changes };
	rc = fill_metadata(c, p, target, rep, err);
	if (rc == 0)
		progress(c, "comparing %zu object%s...", ntu, ntu == 1 ? "" : "s");
	for (size_t i = 0; i < ntu && rc == 0; i++)
		rc = compare_tu(&em, &tus[i], err);
	if (rc == 0 && p->nfuncs == 0)
		rc = sut_errf(err, "the diff changes no function's machine code in %s", c->o->target);
	char *out = c->o->out ? sut_xstrdup(c->o->out) : sut_xasprintf("%s.suture", p->id ? p->id : "patch");
	if (rc == 0)
		rc = sut_patch_write_file(p, out, err);
	if (rc == 0) {
		rep->patch_path = out;
		rep->patch_id = sut_xstrdup(p->id);
		rep->funcs = em.rep;
		rep->nfuncs = em.nrep;
		em.rep = NULL;
		em.nrep = 0;
	} else {
		free(out);
	}
	for (size_t i = 0; i < em.nrep; i++) {
		free(em.rep[i].name);
		free(em.rep[i].file);
		free(em.rep[i].reason);
	}
	free(em.rep);
	sut_patch_free(p);
	sut_elf_close(target);
	tus_free(tus, ntu);
	return rc;
}

/* Removes what the build created, then the directory itself if that leaves it empty: a work
 * directory the user named may hold other files, which stay. */
static void clean_workdir(struct bctx *c, struct sut_build_report *rep)
{
	static const char *const ours[] = { "orig", "patched", "shim", "fs", "orig.log",
					    "orig.log.lock", "orig.log.build-output", "patched.log",
					    "patched.log.lock", "patched.log.build-output",
					    "patch-output" };
	for (size_t i = 0; i < sizeof ours / sizeof *ours; i++) {
		char *path = sut_xasprintf("%s/%s", c->w, ours[i]);
		struct sut_err e2;
		if (exists(path) && bld_remove_tree(path, &e2))
		{
			rep->warnings = sut_xrealloc(rep->warnings,
						     (rep->nwarnings + 1) * sizeof *rep->warnings);
			rep->warnings[rep->nwarnings++] = sut_xstrdup(e2.msg);
		}
		free(path);
	}
	rmdir(c->w);
}

int sut_build(const struct sut_build_opts *o, struct sut_build_report *rep, struct sut_err *err)
{
	memset(rep, 0, sizeof *rep);
	struct bctx c = { .o = o };
	int rc = setup(&c, err);
	if (rc == 0)
		rc = build_trees(&c, err);
	if (rc == 0)
		rc = make_patch(&c, rep, err);
	if (c.w) {
		if (o->keep)
			rep->workdir = sut_xstrdup(c.w);
		else
			clean_workdir(&c, rep);
	}
	free(c.src);
	free(c.diff);
	free(c.w);
	free(c.orig);
	free(c.patched);
	free(c.shim);
	free(c.fs);
	free(c.path_env);
	bld_changes_free(&c.changes);
	return rc;
}

void sut_build_report_free(struct sut_build_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfuncs; i++) {
		free(r->funcs[i].name);
		free(r->funcs[i].file);
		free(r->funcs[i].reason);
	}
	free(r->funcs);
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	free(r->patch_path);
	free(r->patch_id);
	free(r->workdir);
	memset(r, 0, sizeof *r);
}
