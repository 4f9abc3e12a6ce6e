/* SPDX-License-Identifier: Apache-2.0 */
/* Vulnerability records in the OSV model (https://ossf.github.io/osv-schema/), parsed with
 * jansson. Only what the verdicts need is kept: ids and aliases, summary, published date,
 * severity, and each affected package with its ranges and listed versions.
 *
 * Severity: a CVSS v3 vector in severity[] gives the base score (CVSS 3.1 formulas);
 * otherwise a textual severity in database_specific or ecosystem_specific (Low, Moderate,
 * Medium, High, Critical, as OpenSSL's advisories and GitHub's records write it). */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>

#include "assess/assess.h"
#include "util/buf.h"

static char *dup_or_null(const char *s)
{
	return s ? sut_xstrdup(s) : NULL;
}

static double roundup1(double x)
{
	long i = lround(x * 100000);
	if (i % 10000 == 0)
		return i / 100000.0;
	return (floor(i / 10000.0) + 1) / 10.0;
}

/* CVSS v3.x base score of a vector, or -1 when it is not one. */
static double cvss3_score(const char *vec)
{
	if (strncmp(vec, "CVSS:3.", 7))
		return -1;
	double av = -1, ac = -1, pr = -1, ui = -1, c = -1, in = -1, a = -1;
	int scope = -1;
	char prv = 0;
	for (const char *s = strchr(vec, '/'); s && s[1]; s = strchr(s + 1, '/')) {
		char k[4] = {0}, v = 0;
		if (sscanf(s + 1, "%3[A-Z]:%c", k, &v) != 2)
			return -1;
		if (!strcmp(k, "AV"))
			av = v == 'N' ? .85 : v == 'A' ? .62 : v == 'L' ? .55 : v == 'P' ? .2 : -1;
		else if (!strcmp(k, "AC"))
			ac = v == 'L' ? .77 : v == 'H' ? .44 : -1;
		else if (!strcmp(k, "PR"))
			prv = v;
		else if (!strcmp(k, "UI"))
			ui = v == 'N' ? .85 : v == 'R' ? .62 : -1;
		else if (!strcmp(k, "S"))
			scope = v == 'U' ? 0 : v == 'C' ? 1 : -1;
		else if (!strcmp(k, "C") || !strcmp(k, "I") || !strcmp(k, "A")) {
			double x = v == 'H' ? .56 : v == 'L' ? .22 : v == 'N' ? 0 : -1;
			*(k[0] == 'C' ? &c : k[0] == 'I' ? &in : &a) = x;
		}
	}
	if (scope < 0)
		return -1;
	pr = prv == 'N' ? .85 : prv == 'L' ? (scope ? .68 : .62) : prv == 'H' ? (scope ? .5 : .27) : -1;
	if (av < 0 || ac < 0 || pr < 0 || ui < 0 || c < 0 || in < 0 || a < 0)
		return -1;
	double iss = 1 - (1 - c) * (1 - in) * (1 - a);
	double impact = scope ? 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15) : 6.42 * iss;
	double expl = 8.22 * av * ac * pr * ui;
	if (impact <= 0)
		return 0;
	double base = scope ? 1.08 * (impact + expl) : impact + expl;
	return roundup1(base < 10 ? base : 10);
}

static int level_of_score(double s)
{
	return s >= 9 ? 4 : s >= 7 ? 3 : s >= 4 ? 2 : s > 0 ? 1 : 0;
}

static int level_of_text(const char *s)
{
	if (!s)
		return 0;
	if (!strcasecmp(s, "critical"))
		return 4;
	if (!strcasecmp(s, "high") || !strcasecmp(s, "important"))
		return 3;
	if (!strcasecmp(s, "moderate") || !strcasecmp(s, "medium"))
		return 2;
	if (!strcasecmp(s, "low") || !strcasecmp(s, "unimportant"))
		return 1;
	return 0;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *text_severity(json_t *o)
{
	const char *s = jstr(json_object_get(o, "database_specific"), "severity");
	return s ? s : jstr(json_object_get(o, "ecosystem_specific"), "severity");
}

static int parse_ranges(json_t *ja, struct sut_affected *a, const char *where,
			struct sut_err *err)
{
	json_t *ranges = json_object_get(ja, "ranges");
	if (ranges && !json_is_array(ranges))
		return sut_errf(err, "%s: ranges is not an array", where);
	size_t i;
	json_t *r;
	json_array_foreach(ranges, i, r) {
		const char *type = jstr(r, "type");
		if (!type)
			return sut_errf(err, "%s: range %zu has no type", where, i);
		if (strcmp(type, "ECOSYSTEM") && strcmp(type, "SEMVER"))
			continue; /* GIT ranges name commits, not versions */
		json_t *events = json_object_get(r, "events");
		if (!json_is_array(events))
			return sut_errf(err, "%s: range %zu has no events", where, i);
		size_t k;
		json_t *e;
		struct sut_range *cur = NULL;
		json_array_foreach(events, k, e) {
			const char *intro = jstr(e, "introduced");
			const char *fixed = jstr(e, "fixed");
			const char *last = jstr(e, "last_affected");
			if (intro) {
				a->ranges = sut_xrealloc(a->ranges, (a->nranges + 1) * sizeof *a->ranges);
				cur = &a->ranges[a->nranges++];
				memset(cur, 0, sizeof *cur);
				cur->type = strcmp(type, "SEMVER") ? SUT_RANGE_ECOSYSTEM : SUT_RANGE_SEMVER;
				cur->introduced = sut_xstrdup(intro);
			} else if ((fixed || last) && cur) {
				if (fixed && !cur->fixed)
					cur->fixed = sut_xstrdup(fixed);
				if (last && !cur->last_affected)
					cur->last_affected = sut_xstrdup(last);
				cur = NULL;
			} else if (!fixed && !last && !jstr(e, "limit")) {
				return sut_errf(err, "%s: range %zu event %zu is not introduced/fixed/"
						"last_affected/limit", where, i, k);
			}
		}
	}
	return 0;
}

static struct sut_vuln *find_cve(struct sut_vulndb *db, const char *cve)
{
	for (size_t i = 0; i < db->n; i++)
		if (!strcmp(db->v[i].cve, cve))
			return &db->v[i];
	return NULL;
}

static void free_affected(struct sut_affected *a)
{
	free(a->ecosystem);
	free(a->name);
	free(a->purl);
	for (size_t i = 0; i < a->nranges; i++) {
		free(a->ranges[i].introduced);
		free(a->ranges[i].fixed);
		free(a->ranges[i].last_affected);
	}
	free(a->ranges);
	for (size_t i = 0; i < a->nversions; i++)
		free(a->versions[i]);
	free(a->versions);
}

static void free_vuln(struct sut_vuln *v)
{
	free(v->id);
	free(v->cve);
	for (size_t i = 0; i < v->naliases; i++)
		free(v->aliases[i]);
	free(v->aliases);
	free(v->summary);
	free(v->published);
	for (size_t i = 0; i < v->naffected; i++)
		free_affected(&v->affected[i]);
	free(v->affected);
	free(v->source);
}

/* Adds v to db, merging it into a record of the same CVE. Takes v's contents. */
static void add_vuln(struct sut_vulndb *db, struct sut_vuln *v)
{
	struct sut_vuln *old = find_cve(db, v->cve);
	if (!old) {
		db->v = sut_xrealloc(db->v, (db->n + 1) * sizeof *db->v);
		db->v[db->n++] = *v;
		return;
	}
	old->affected = sut_xrealloc(old->affected,
				     (old->naffected + v->naffected) * sizeof *old->affected);
	memcpy(old->affected + old->naffected, v->affected, v->naffected * sizeof *v->affected);
	old->naffected += v->naffected;
	v->naffected = 0;
	if (v->severity > old->severity)
		old->severity = v->severity;
	if (v->cvss > old->cvss)
		old->cvss = v->cvss;
	if (!old->summary && v->summary) {
		old->summary = v->summary;
		v->summary = NULL;
	}
	if (!old->published && v->published) {
		old->published = v->published;
		v->published = NULL;
	}
	free_vuln(v);
}

static int parse_record(struct sut_vulndb *db, json_t *o, const char *path, struct sut_err *err)
{
	const char *id = jstr(o, "id");
	if (!json_is_object(o) || !id)
		return sut_errf(err, "%s: an OSV record without an id", path);
	struct sut_vuln v = {0};
	v.id = sut_xstrdup(id);
	v.source = sut_xstrdup(path);
	v.summary = dup_or_null(jstr(o, "summary"));
	if (!v.summary)
		v.summary = dup_or_null(jstr(o, "details"));
	v.published = dup_or_null(jstr(o, "published"));
	if (!strncmp(id, "CVE-", 4))
		v.cve = sut_xstrdup(id);
	json_t *al = json_object_get(o, "aliases"), *x;
	size_t i;
	json_array_foreach(al, i, x) {
		const char *s = json_string_value(x);
		if (!s)
			continue;
		v.aliases = sut_xrealloc(v.aliases, (v.naliases + 1) * sizeof *v.aliases);
		v.aliases[v.naliases++] = sut_xstrdup(s);
		if (!v.cve && !strncmp(s, "CVE-", 4))
			v.cve = sut_xstrdup(s);
	}
	if (!v.cve)
		v.cve = sut_xstrdup(id);
	json_array_foreach(json_object_get(o, "severity"), i, x) {
		const char *score = jstr(x, "score");
		double s = score ? cvss3_score(score) : -1;
		if (s >= 0 && s > v.cvss)
			v.cvss = s;
	}
	v.severity = v.cvss > 0 ? level_of_score(v.cvss) : level_of_text(text_severity(o));
	json_t *aff = json_object_get(o, "affected");
	if (aff && !json_is_array(aff)) {
		free_vuln(&v);
		return sut_errf(err, "%s: %s: affected is not an array", path, id);
	}
	json_array_foreach(aff, i, x) {
		json_t *pkg = json_object_get(x, "package");
		char where[512];
		snprintf(where, sizeof where, "%s: %s: affected[%zu]", path, id, i);
		if (pkg && !json_is_object(pkg)) {
			free_vuln(&v);
			return sut_errf(err, "%s: package is not an object", where);
		}
		v.affected = sut_xrealloc(v.affected, (v.naffected + 1) * sizeof *v.affected);
		struct sut_affected *a = &v.affected[v.naffected++];
		memset(a, 0, sizeof *a);
		a->ecosystem = sut_xstrdup(jstr(pkg, "ecosystem") ? jstr(pkg, "ecosystem") : "");
		a->name = sut_xstrdup(jstr(pkg, "name") ? jstr(pkg, "name") : "");
		a->purl = dup_or_null(jstr(pkg, "purl"));
		if (parse_ranges(x, a, where, err) < 0) {
			free_vuln(&v);
			return -1;
		}
		size_t k;
		json_t *ver;
		json_array_foreach(json_object_get(x, "versions"), k, ver) {
			if (!json_string_value(ver))
				continue;
			a->versions = sut_xrealloc(a->versions, (a->nversions + 1) * sizeof *a->versions);
			a->versions[a->nversions++] = sut_xstrdup(json_string_value(ver));
		}
		int lv = level_of_text(text_severity(x));
		if (!v.cvss && lv > v.severity)
			v.severity = lv;
	}
	add_vuln(db, &v);
	return 0;
}

static int load_file(struct sut_vulndb *db, const char *path, struct sut_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root)
		return sut_errf(err, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	int rc = 0;
	json_t *list = json_is_object(root) ? json_object_get(root, "vulns") : root;
	if (json_is_array(list)) {
		size_t i;
		json_t *o;
		json_array_foreach(list, i, o) {
			if ((rc = parse_record(db, o, path, err)) < 0)
				break;
		}
	} else {
		rc = parse_record(db, root, path, err);
	}
	json_decref(root);
	return rc;
}

int sut_osv_load(struct sut_vulndb *db, const char *path, struct sut_err *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return sut_errno(err, "%s", path);
	if (!S_ISDIR(st.st_mode))
		return load_file(db, path, err);
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return sut_errno(err, "%s", path);
	int rc = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name);
		if (rc == 0 && l > 5 && !strcmp(names[i]->d_name + l - 5, ".json")) {
			char *p = sut_xasprintf("%s/%s", path, names[i]->d_name);
			rc = load_file(db, p, err);
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static const char *debian_ecosystem(const char *codename)
{
	static const char *const map[][2] = {
		{"buster", "Debian:10"}, {"bullseye", "Debian:11"}, {"bookworm", "Debian:12"},
		{"trixie", "Debian:13"}, {"forky", "Debian:14"},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(codename, map[i][0]))
			return map[i][1];
	return NULL;
}

int sut_debian_tracker_load(struct sut_vulndb *db, const char *path, struct sut_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root)
		return sut_errf(err, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return sut_errf(err, "%s: not a security-tracker document (an object of source "
				"packages)", path);
	}
	const char *src, *cve;
	json_t *byid, *rec;
	json_object_foreach(root, src, byid) {
		json_object_foreach(byid, cve, rec) {
			if (strncmp(cve, "CVE-", 4))
				continue; /* TEMP- ids name no public record */
			struct sut_vuln v = {0};
			v.id = sut_xstrdup(cve);
			v.cve = sut_xstrdup(cve);
			v.source = sut_xstrdup(path);
			v.summary = dup_or_null(jstr(rec, "description"));
			const char *codename;
			json_t *rel;
			json_object_foreach(json_object_get(rec, "releases"), codename, rel) {
				const char *eco = debian_ecosystem(codename);
				const char *status = jstr(rel, "status");
				if (!eco || !status)
					continue;
				const char *fixed = jstr(rel, "fixed_version");
				int lv = level_of_text(jstr(rel, "urgency"));
				if (lv > v.severity)
					v.severity = lv;
				v.affected = sut_xrealloc(v.affected,
							  (v.naffected + 1) * sizeof *v.affected);
				struct sut_affected *a = &v.affected[v.naffected++];
				memset(a, 0, sizeof *a);
				a->ecosystem = sut_xstrdup(eco);
				a->name = sut_xstrdup(src);
				a->purl = sut_xasprintf("pkg:deb/debian/%s", src);
				a->ranges = sut_xcalloc(1, sizeof *a->ranges);
				a->nranges = 1;
				a->ranges[0].introduced = sut_xstrdup("0");
				if (!strcmp(status, "resolved") && fixed)
					a->ranges[0].fixed = sut_xstrdup(fixed);
				/* "open", "undetermined": no fixed version */
			}
			add_vuln(db, &v);
		}
	}
	json_decref(root);
	return 0;
}

void sut_vulndb_free(struct sut_vulndb *db)
{
	for (size_t i = 0; i < db->n; i++)
		free_vuln(&db->v[i]);
	free(db->v);
	memset(db, 0, sizeof *db);
}

/* ---- matching ---- */

static bool in_range(const struct sut_range *r, const char *v)
{
	if (strcmp(r->introduced, "0") && sut_dpkg_vercmp(v, r->introduced) < 0)
		return false;
	if (r->fixed)
		return sut_dpkg_vercmp(v, r->fixed) < 0;
	if (r->last_affected)
		return sut_dpkg_vercmp(v, r->last_affected) <= 0;
	return true;
}

bool sut_affected_matches(const struct sut_affected *a, const char *ecosystem, const char *name,
			  const char *version)
{
	if (strcmp(a->ecosystem, ecosystem) || strcasecmp(a->name, name))
		return false;
	for (size_t i = 0; i < a->nversions; i++)
		if (!strcmp(a->versions[i], version))
			return true;
	for (size_t i = 0; i < a->nranges; i++)
		if (in_range(&a->ranges[i], version))
			return true;
	return false;
}

/* An affected entry for upstream OpenSSL (no OSV ecosystem is defined for it: accept the
 * "OpenSSL" name and the generic/GitHub purls). */
static bool upstream_openssl(const struct sut_affected *a)
{
	if (!strcasecmp(a->ecosystem, "OpenSSL"))
		return true;
	if (a->purl && (!strncmp(a->purl, "pkg:generic/openssl", 19) ||
			!strncmp(a->purl, "pkg:github/openssl/openssl", 26)))
		return true;
	return false;
}

void sut_host_ecosystem(char *eco, size_t cap)
{
	snprintf(eco, cap, "Debian:12");
	FILE *f = fopen("/etc/os-release", "r");
	if (!f)
		return;
	char line[256], id[32] = "", ver[32] = "";
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "ID=", 3))
			sscanf(line + 3, "%31[a-z0-9]", id);
		if (!strncmp(line, "VERSION_ID=", 11))
			sscanf(line + 11, "\"%31[0-9]", ver);
	}
	fclose(f);
	if (!strcmp(id, "debian") && ver[0])
		snprintf(eco, cap, "Debian:%s", ver);
}

int sut_vuln_affects(const struct sut_vuln *v, const struct sut_inv_file *f)
{
	bool relevant = false;
	if (f->ecosystem && f->source && f->version) {
		const char *eco = f->ecosystem;
		for (size_t i = 0; i < v->naffected; i++) {
			const struct sut_affected *a = &v->affected[i];
			if (strcmp(a->ecosystem, eco) || strcasecmp(a->name, f->source))
				continue;
			relevant = true;
			if (sut_affected_matches(a, eco, f->source, f->version))
				return 1;
		}
		return relevant ? 0 : -1;
	}
	if (f->openssl) {
		for (size_t i = 0; i < v->naffected; i++) {
			const struct sut_affected *a = &v->affected[i];
			if (!upstream_openssl(a))
				continue;
			relevant = true;
			if (sut_affected_matches(a, a->ecosystem, a->name, f->openssl))
				return 1;
		}
		return relevant ? 0 : -1;
	}
	return -1;
}
