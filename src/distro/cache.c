/* SPDX-License-Identifier: Apache-2.0 */
/* The cache of proved pristine builds: CACHE/debian/
 *   apt/                       the private apt configuration, lists and archive cache
 *   SOURCE_VERSION/            one complete entry: src/ (the source package), debs/ and
 *                              official/ (the official binary packages, unpacked), tree/
 *                              (the built source tree), build.log, facts
 *   SOURCE_VERSION.tmp/        an entry being built (or left by a failed or killed build:
 *                              removed by the next run, never used)
 *   build-id/HEX -> ../SOURCE_VERSION   every official build-id an entry proved
 *   lock                       runs serialise on it (flock)
 * An entry is renamed into place only after its facts are written, so an entry that exists
 * is complete; one without facts (damaged by hand) is removed and rebuilt. */
#include "distro/distro_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool name_ok(const char *s, const char *extra)
{
	if (!s || !*s || strlen(s) > 100 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr(extra, *s)))
			return false;
	return true;
}

int sut_distro_parse_spec(const char *spec, char **source, char **version, struct sut_err *err)
{
	const char *eq = strchr(spec, '=');
	char *s = eq ? sut_xasprintf("%.*s", (int)(eq - spec), spec) : sut_xstrdup(spec);
	char *v = eq && eq[1] ? sut_xstrdup(eq + 1) : NULL;
	/* Debian policy: source names [a-z0-9][a-z0-9+.-]+, versions [0-9A-Za-z.+~:-] (the
	 * names also become folder names here, so nothing else may pass) */
	if (!name_ok(s, "+.-") || (s[0] >= 'A' && s[0] <= 'Z')) {
		sut_errf(err, "'%s' is not a Debian source package name", s);
		free(s);
		free(v);
		return -1;
	}
	for (const char *c = s; *c; c++)
		if (*c >= 'A' && *c <= 'Z') {
			sut_errf(err, "'%s' is not a Debian source package name (lower case only)", s);
			free(s);
			free(v);
			return -1;
		}
	if (v && !name_ok(v, ".+~:-")) {
		sut_errf(err, "'%s' is not a Debian version", v);
		free(s);
		free(v);
		return -1;
	}
	*source = s;
	*version = v;
	return 0;
}

int dst_facts_write(const char *path, const char *const *kv, size_t n, struct sut_err *err)
{
	struct sut_buf b = {0};
	for (size_t i = 0; i + 1 < n; i += 2) {
		char *line = sut_xasprintf("%s=%s\n", kv[i], kv[i + 1]);
		sut_buf_append(&b, line, strlen(line));
		free(line);
	}
	int rc = sut_write_file(path, b.data, b.len, err);
	sut_buf_free(&b);
	return rc;
}

char *dst_facts_get(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *line = NULL, *r = NULL;
	size_t cap = 0, lk = strlen(key);
	ssize_t l;
	while (!r && (l = getline(&line, &cap, f)) > 0) {
		if (line[l - 1] == '\n')
			line[--l] = 0;
		if (!strncmp(line, key, lk) && line[lk] == '=')
			r = sut_xstrdup(line + lk + 1);
	}
	free(line);
	fclose(f);
	return r;
}

static char *cache_root(const struct sut_distro_opts *o)
{
	const char *c = o->cache ? o->cache : getenv("SUTURE_CACHE");
	return sut_xstrdup(c && *c ? c : SUT_DISTRO_CACHE);
}

/* Fills b from a complete entry; 1 when the entry is not usable (incomplete). */
static int load_entry(const struct dst_recipe *r, const struct dst_target *t, const char *entry,
		      struct sut_distro_build *b, struct sut_err *err)
{
	char *facts = sut_xasprintf("%s/facts", entry);
	char *complete = dst_facts_get(facts, "complete");
	char *key = sut_xasprintf("official_build_id.%s", t->name);
	char *off = dst_facts_get(facts, key);
	free(key);
	key = sut_xasprintf("proof.%s", t->name);
	char *proof = dst_facts_get(facts, key);
	free(key);
	char *sde = dst_facts_get(facts, "source_date_epoch");
	b->entry = sut_xstrdup(entry);
	b->tree = sut_xasprintf("%s/tree", entry);
	b->target_rel = sut_xstrdup(t->tree_path);
	b->official = sut_xasprintf("%s/official/%s", entry, t->deb_path);
	b->binary_package = sut_xstrdup(t->binary);
	char *rebuilt = sut_xasprintf("%s/%s", b->tree, t->tree_path);
	int rc = 0;
	if (!complete || strcmp(complete, "1") || !off || !proof || !sde ||
	    !dst_exists(b->official) || !dst_exists(rebuilt))
		rc = 1;
	if (rc == 0) {
		snprintf(b->official_build_id, sizeof b->official_build_id, "%s", off);
		b->proof = !strcmp(proof, "build-id") ? SUT_PROOF_BUILD_ID : SUT_PROOF_SECTIONS;
		b->source_date_epoch = atoll(sde);
		/* the cache is trusted no further than a quick look: the files must still be the
		 * ones proved (a changed file there would make wrong patches) */
		char hex[129];
		if (dst_build_id_hex(b->official, hex, err) < 0)
			rc = -1;
		else if (strcmp(hex, off))
			rc = 1;
		else if (dst_build_id_hex(rebuilt, b->rebuilt_build_id, err) < 0)
			rc = -1;
		static const char *const secs[] = { "secs_download", "secs_deps", "secs_build" };
		double *dst[] = { &b->secs_download, &b->secs_deps, &b->secs_build };
		for (size_t i = 0; i < 3; i++) {
			char *v = dst_facts_get(facts, secs[i]);
			*dst[i] = v ? atof(v) : 0;
			free(v);
		}
	}
	(void)r;
	free(rebuilt);
	free(facts);
	free(complete);
	free(off);
	free(proof);
	free(sde);
	return rc;
}

static char *build_cmd(const struct dst_recipe *r, long long sde, int jobs)
{
	char *goals = sut_xstrdup("");
	for (size_t i = 0; r->make_goals[i]; i++) {
		char *n = sut_xasprintf("%s %s", goals, r->make_goals[i]);
		free(goals);
		goals = n;
	}
	char *first = sut_xstrdup("");
	for (size_t i = 0; r->make_first[i]; i++) {
		char *n = sut_xasprintf("%s %s", first, r->make_first[i]);
		free(first);
		first = n;
	}
	char *cmd = sut_xasprintf("export SOURCE_DATE_EPOCH=%lld && make -s -C %s%s && make -s -C %s -j%d%s",
				  sde, r->build_dir, first, r->build_dir, jobs, goals);
	free(goals);
	free(first);
	return cmd;
}

/* The folder Debian built in; refuses to touch one suture did not create. */
static int claim_build_path(const char *root, const char *dir, const char *marker,
			    struct sut_err *err)
{
	if (dst_mkdirs(root, err))
		return -1;
	if (dst_exists(dir)) {
		if (!dst_exists(marker))
			return sut_errf(err, "%s exists and was not made by suture: Debian's build path must be free for the rebuild (move that folder away)",
					dir);
		if (dst_remove_tree(dir, err))
			return -1;
	}
	char *pid = sut_xasprintf("suture pid %d\n", (int)getpid());
	int rc = sut_write_file(marker, pid, strlen(pid), err);
	free(pid);
	return rc;
}

/* flock of path (created), waiting with a progress message when another run holds it. */
static int lock_file(const struct sut_distro_opts *o, const char *path, int *fd,
		     struct sut_err *err)
{
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0)
		return sut_errno(err, "%s", path);
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	dst_progress(o, "another suture holds %s: waiting for it", path);
	while (flock(*fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int rc = sut_errno(err, "locking %s", path);
			close(*fd);
			*fd = -1;
			return rc;
		}
	return 0;
}

static int make_entry(const struct sut_distro_opts *o, const struct dst_recipe *r,
		      const char *debian, const char *source, const char *version, const char *tmp,
		      int jobs, struct sut_err *err)
{
	char *log = sut_xasprintf("%s/build.log", tmp);
	char *srcdir = sut_xasprintf("%s/src", tmp), *debs = sut_xasprintf("%s/debs", tmp);
	char *offdir = sut_xasprintf("%s/official", tmp), *treedst = sut_xasprintf("%s/tree", tmp);
	char *upstream = dst_upstream_version(version);
	const char *broot = o->build_root ? o->build_root : SUT_DISTRO_BUILD_ROOT;
	char *bpath = sut_xasprintf("%s/%s-%s", broot, source, upstream);
	char *marker = sut_xasprintf("%s/.%s-%s.suture", broot, source, upstream);
	struct dst_apt apt = {0};
	double t0 = now(), t1 = t0, t2 = t0;
	long long sde = 0;
	int bpfd = -1;
	int rc = dst_mkdirs(tmp, err);
	if (rc == 0)
		rc = dst_apt_init(&apt, debian, log, err);
	if (rc == 0) {
		dst_progress(o, "downloading the package lists for %s (private apt configuration in %s)",
			     source, apt.dir);
		rc = dst_apt_update(&apt, err);
	}
	if (rc == 0)
		rc = dst_apt_check_source(&apt, source, version, err);
	if (rc == 0) {
		dst_progress(o, "downloading source package %s %s", source, version);
		rc = dst_apt_source(&apt, source, version, srcdir, err);
	}
	/* every binary package a target of the recipe lives in, once */
	for (size_t i = 0; i < r->ntargets && rc == 0; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen |= !strcmp(r->targets[k].binary, r->targets[i].binary);
		if (seen)
			continue;
		char *deb = NULL;
		dst_progress(o, "downloading the official binary package %s %s", r->targets[i].binary,
			     version);
		rc = dst_apt_download(&apt, r->targets[i].binary, version, debs, &deb, err);
		if (rc == 0) {
			char *argv[] = { "dpkg-deb", "-x", deb, offdir, NULL };
			rc = dst_run_ok(NULL, argv, NULL, log, "unpacking the official package", err);
		}
		free(deb);
	}
	t1 = now();
	if (rc == 0 && !o->no_build_deps) {
		dst_progress(o, "installing the build dependencies of %s %s (apt-get build-dep)", source,
			     version);
		rc = dst_apt_build_dep(&apt, source, version, err);
	}
	t2 = now();
	/* Debian's build path is one for the whole machine, whatever cache folder is used */
	if (rc == 0)
		rc = dst_mkdirs(broot, err);
	if (rc == 0) {
		char *lk = sut_xasprintf("%s/.suture.lock", broot);
		rc = lock_file(o, lk, &bpfd, err);
		free(lk);
	}
	if (rc == 0)
		rc = claim_build_path(broot, bpath, marker, err);
	if (rc == 0)
		rc = dst_rebuild(o, r, srcdir, bpath, log, jobs, &sde, err);
	double t3 = now();
	/* the proof, for every target the recipe builds */
	const char **kv = NULL;
	size_t nkv = 0;
	char **owned = NULL;
	size_t nowned = 0;
#define KV(k, v)                                                                   \
	do {                                                                       \
		kv = sut_xrealloc(kv, (nkv + 2) * sizeof *kv);                     \
		owned = sut_xrealloc(owned, (nowned + 2) * sizeof *owned);         \
		kv[nkv++] = owned[nowned++] = (k);                                 \
		kv[nkv++] = owned[nowned++] = (v);                                 \
	} while (0)
	for (size_t i = 0; i < r->ntargets && rc == 0; i++) {
		const struct dst_target *t = &r->targets[i];
		char *off = sut_xasprintf("%s/%s", offdir, t->deb_path);
		char *reb = sut_xasprintf("%s/%s", bpath, t->tree_path);
		char h1[129], h2[129];
		bool same = false;
		dst_progress(o, "checking the rebuilt %s against Debian's", t->name);
		rc = sut_distro_compare(off, reb, &same, err);
		if (rc == 0)
			rc = dst_build_id_hex(off, h1, err);
		if (rc == 0)
			rc = dst_build_id_hex(reb, h2, err);
		if (rc == 0) {
			dst_progress(o, "%s: %s", t->name,
				     same ? "the rebuild has the official build-id"
					  : "every loaded section and .dynsym identical to the official file (build-ids differ only by what Debian strips)");
			KV(sut_xasprintf("official_build_id.%s", t->name), sut_xstrdup(h1));
			KV(sut_xasprintf("rebuilt_build_id.%s", t->name), sut_xstrdup(h2));
			KV(sut_xasprintf("proof.%s", t->name), sut_xstrdup(same ? "build-id" : "sections"));
			KV(sut_xasprintf("binary.%s", t->name), sut_xstrdup(t->binary));
		}
		free(off);
		free(reb);
	}
	if (rc == 0)
		rc = dst_move_tree(r, bpath, treedst, log, err);
	if (rc == 0) {
		KV(sut_xstrdup("source"), sut_xstrdup(source));
		KV(sut_xstrdup("version"), sut_xstrdup(version));
		KV(sut_xstrdup("build_path"), sut_xstrdup(bpath));
		KV(sut_xstrdup("source_date_epoch"), sut_xasprintf("%lld", sde));
		KV(sut_xstrdup("secs_download"), sut_xasprintf("%.1f", t1 - t0));
		KV(sut_xstrdup("secs_deps"), sut_xasprintf("%.1f", t2 - t1));
		KV(sut_xstrdup("secs_build"), sut_xasprintf("%.1f", t3 - t2));
		KV(sut_xstrdup("complete"), sut_xstrdup("1"));
		char *facts = sut_xasprintf("%s/facts", tmp);
		rc = dst_facts_write(facts, kv, nkv, err);
		free(facts);
		unlink(marker);
	}
#undef KV
	if (bpfd >= 0)
		close(bpfd);
	if (rc)
		sut_err_wrap(err, "rebuilding %s %s (log: %s)", source, version, log);
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	free(owned);
	free(kv);
	dst_apt_free(&apt);
	free(log);
	free(srcdir);
	free(debs);
	free(offdir);
	free(treedst);
	free(upstream);
	free(bpath);
	free(marker);
	return rc;
}


int sut_distro_prepare(const struct sut_distro_opts *o, struct sut_distro_build *b,
		       struct sut_err *err)
{
	memset(b, 0, sizeof *b);
	const struct dst_recipe *r = dst_recipe_for(o->source);
	if (!r)
		return sut_errf(err, "suture does not know how to rebuild source package %s (it knows: openssl)",
				o->source);
	const struct dst_target *t = dst_recipe_target(r, o->target);
	if (!t) {
		char *list = dst_recipe_target_list(r);
		sut_errf(err, "%s is not a target suture rebuilds from %s (it rebuilds %s)", o->target,
			 o->source, list);
		free(list);
		return -1;
	}
	char *version = NULL;
	if (o->version)
		version = sut_xstrdup(o->version);
	else if (dst_installed_version(t->binary, &version, err))
		return -1;
	char *tmpv = NULL, *tmps = NULL;
	char *spec = sut_xasprintf("%s=%s", o->source, version);
	int rc = sut_distro_parse_spec(spec, &tmps, &tmpv, err);
	free(spec);
	free(tmps);
	free(tmpv);
	if (rc) {
		free(version);
		return -1;
	}
	if (!o->version)
		dst_progress(o, "no version named: using the one installed here, %s %s", o->source,
			     version);
	int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (jobs < 1)
		jobs = 1;
	char *root = cache_root(o);
	char *debian = sut_xasprintf("%s/debian", root);
	char *entry = sut_xasprintf("%s/%s_%s", debian, o->source, version);
	char *tmp = sut_xasprintf("%s.tmp", entry);
	int lockfd = -1;
	rc = dst_mkdirs(debian, err);
	if (rc == 0) {
		char *lk = sut_xasprintf("%s/lock", debian);
		rc = lock_file(o, lk, &lockfd, err);
		free(lk);
	}
	if (rc == 0 && dst_exists(entry)) {
		rc = load_entry(r, t, entry, b, err);
		if (rc == 1) {
			dst_progress(o, "cache entry %s is incomplete or changed: rebuilding it", entry);
			sut_distro_build_free(b);
			rc = dst_remove_tree(entry, err);
		} else if (rc == 0) {
			b->cached = true;
			dst_progress(o, "using the cached pristine build %s (%s %s, proved against the official %s)",
				     entry, o->source, version, t->binary);
		}
	}
	if (rc == 0 && !b->cached) {
		if (dst_exists(tmp)) {
			dst_progress(o, "removing %s, left by a build that did not finish", tmp);
			rc = dst_remove_tree(tmp, err);
		}
		if (rc == 0) {
			dst_progress(o, "first build of %s %s: download, build dependencies, then %s (cached in %s for every later patch)",
				     o->source, version, "the libraries", entry);
			rc = make_entry(o, r, debian, o->source, version, tmp, jobs, err);
		}
		if (rc == 0 && rename(tmp, entry) < 0)
			rc = sut_errno(err, "renaming %s to %s", tmp, entry);
		if (rc == 0) {
			rc = load_entry(r, t, entry, b, err);
			if (rc == 1)
				rc = sut_errf(err, "cache entry %s is unusable right after it was built", entry);
		}
		if (rc == 0) {
			/* the build-id index */
			char *ids = sut_xasprintf("%s/build-id", debian);
			dst_mkdirs(ids, err);
			for (size_t i = 0; i < r->ntargets; i++) {
				char *key = sut_xasprintf("official_build_id.%s", r->targets[i].name);
				char *facts = sut_xasprintf("%s/facts", entry);
				char *hex = dst_facts_get(facts, key);
				if (hex) {
					char *link = sut_xasprintf("%s/%s", ids, hex);
					char *to = sut_xasprintf("../%s_%s", o->source, version);
					unlink(link);
					if (symlink(to, link) < 0) { /* an index only: the entry is what counts */ }
					free(link);
					free(to);
				}
				free(hex);
				free(key);
				free(facts);
			}
			free(ids);
		}
	}
	if (rc == 0) {
		b->source = sut_xstrdup(o->source);
		b->version = sut_xstrdup(version);
		b->build_cmd = build_cmd(r, b->source_date_epoch, jobs);
	} else {
		sut_distro_build_free(b);
	}
	if (lockfd >= 0)
		close(lockfd);
	free(root);
	free(debian);
	free(entry);
	free(tmp);
	free(version);
	return rc;
}

void sut_distro_build_free(struct sut_distro_build *b)
{
	free(b->source);
	free(b->version);
	free(b->binary_package);
	free(b->entry);
	free(b->tree);
	free(b->target_rel);
	free(b->official);
	free(b->build_cmd);
	memset(b, 0, sizeof *b);
}
