/* SPDX-License-Identifier: Apache-2.0 */
/* The control socket: ROOT/run/suture/sutured.sock, AF_UNIX stream, mode 0600 in a 0755
 * folder, and every connection's peer credentials checked (SO_PEERCRED): only uid 0 is
 * served. One request line ("status", "reload"), one JSON document back. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon_internal.h"
#include "util/buf.h"

int dm_control_open(struct sut_daemon *d, struct sut_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(d->paths.socket) >= sizeof sa.sun_path)
		return sut_errf(err, "control socket path %s is too long", d->paths.socket);
	strcpy(sa.sun_path, d->paths.socket);
	g_mkdir_with_parents(d->paths.run_dir, 0755);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sut_errno(err, "control socket");
	/* a socket file left by a killed daemon is replaced; a live daemon answers a connect */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
		close(probe);
		close(fd);
		return sut_errf(err, "another sutured is serving %s", d->paths.socket);
	}
	if (probe >= 0)
		close(probe);
	unlink(d->paths.socket);
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		sut_errno(err, "control socket %s", d->paths.socket);
		close(fd);
		return -1;
	}
	d->ctl_fd = fd;
	return 0;
}

static json_t *problems_json(struct sut_daemon *d)
{
	json_t *a = json_array();
	GList *vals = g_hash_table_get_values(d->problems);
	for (GList *l = vals; l; l = l->next) {
		const struct dm_problem *p = l->data;
		json_t *o = json_pack("{s:i, s:s, s:s, s:b, s:i}", "pid", (int)p->pid, "comm",
				      p->comm, "reason", p->reason, "excluded", p->excluded,
				      "failures", (int)p->failures);
		if (p->patch)
			json_object_set_new(o, "patch", json_string(p->patch));
		json_array_append_new(a, o);
	}
	g_list_free(vals);
	return a;
}

char *dm_status_json(struct sut_daemon *d)
{
	json_t *patches = json_array(), *refused = json_array();
	for (size_t i = 0; d->store_ok && i < d->store.n; i++) {
		const struct sut_store_entry *e = &d->store.v[i];
		if (e->refused) {
			json_array_append_new(refused, json_pack("{s:s, s:s}", "path", e->path,
								 "reason", e->refused));
			continue;
		}
		char bid[2 * SUT_BUILD_ID_MAX + 1];
		sut_hex(e->patch->build_id, e->patch->build_id_len, bid);
		json_array_append_new(
			patches, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "id", e->patch->id,
					   "version", (int)e->patch->version, "target",
					   e->patch->target_name ? e->patch->target_name : "",
					   "build_id", bid, "policy", sut_policy_name(e->policy),
					   "origin", sut_store_origin_name(e->origin), "path",
					   e->path));
	}
	json_t *managed = json_array();
	for (guint i = 0; i < d->managed->len; i++)
		json_array_append_new(managed, json_string(g_ptr_array_index(d->managed, i)));
	uint64_t n_new = d->c.processes_patched_new;
	json_t *c = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "exec_events",
		(json_int_t)d->c.exec_events, "exec_checked", (json_int_t)d->c.exec_checked,
		"connector_overruns", (json_int_t)d->c.overruns, "full_passes",
		(json_int_t)d->c.full_passes, "applied", (json_int_t)d->c.applied, "reverted",
		(json_int_t)d->c.reverted, "failed", (json_int_t)d->c.failed,
		"new_processes_patched", (json_int_t)n_new, "exec_to_patched_last_us",
		(json_int_t)d->c.exec_to_patched_last_us, "exec_to_patched_max_us",
		(json_int_t)d->c.exec_to_patched_max_us, "exec_to_patched_avg_us",
		(json_int_t)(n_new ? d->c.exec_to_patched_sum_us / n_new : 0));
	json_object_set_new(c, "held", json_integer((json_int_t)d->c.held));
	json_object_set_new(c, "held_patched", json_integer((json_int_t)d->c.held_patched));
	json_object_set_new(c, "hold_max_us", json_integer((json_int_t)d->c.hold_max_us));
	json_object_set_new(c, "hold_retries", json_integer((json_int_t)d->c.hold_retries));
	json_object_set_new(c, "held_unpatched", json_integer((json_int_t)d->c.held_unpatched));
	json_object_set_new(c, "kheld", json_integer((json_int_t)d->c.kheld));
	json_object_set_new(c, "kheld_patched", json_integer((json_int_t)d->c.kheld_patched));
	json_object_set_new(c, "khold_events", json_integer((json_int_t)d->c.khold_events));
	json_object_set_new(c, "khold_probes_attached", json_integer((json_int_t)d->c.khold_probes));
	json_object_set_new(c, "khold_not_held", json_integer((json_int_t)d->c.khold_not_held));
	json_object_set_new(c, "khold_max_us", json_integer((json_int_t)d->c.khold_max_us));
	json_object_set_new(c, "khold_avg_us",
			    json_integer((json_int_t)(d->c.kheld ? d->c.khold_sum_us / d->c.kheld : 0)));
	json_object_set_new(c, "hold_avg_us",
			    json_integer((json_int_t)(d->c.held ? d->c.hold_sum_us / d->c.held : 0)));
	json_t *doc = json_pack(
		"{s:i, s:I, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:i}", "pid", (int)getpid(),
		"started", (json_int_t)d->started, "root", d->paths.root, "new_processes",
		d->kh ? "kernel-hold" : d->connector ? "proc-connector" : "rescan", "rescan_ms", d->conf.rescan_ms,
		"patches", patches, "refused", refused, "unpatched", problems_json(d), "managed",
		managed, "counters", c, "pending", (int)d->pending->len);
	json_object_set_new(doc, "kernel_hold", dm_khold_json(d));
	json_object_set_new(doc, "held_now", json_integer((json_int_t)d->held->len));
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(doc);
	return s;
}

static void reply(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = send(fd, text + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		off += (size_t)w;
	}
	send(fd, "\n", 1, MSG_NOSIGNAL);
}

static void serve(struct sut_daemon *d, int fd)
{
	/* a request is one short line; a client that sends nothing is dropped after 1 s */
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	char req[SUT_DAEMON_REQ_MAX + 1];
	size_t n = 0;
	while (n < SUT_DAEMON_REQ_MAX) {
		ssize_t r = recv(fd, req + n, SUT_DAEMON_REQ_MAX - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(req, '\n', n))
			break;
	}
	req[n] = 0;
	req[strcspn(req, "\r\n")] = 0;
	/* checked after reading the request, so that the refusal reaches the client (closing
	 * a socket with unread data resets the connection) */
	struct ucred cr;
	socklen_t cl = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cr.uid != 0) {
		reply(fd, "{\"error\": \"only root may use the sutured control socket\"}");
		dm_log(d, 4, 0, NULL, "control socket: refused a client (pid %d, uid %d)",
		       (int)cr.pid, (int)cr.uid);
		return;
	}
	if (!strcmp(req, "reload")) {
		dm_log(d, 6, 0, NULL, "reload asked on the control socket");
		dm_reload(d);
		dm_full_pass(d);
	} else if (strcmp(req, "status")) {
		json_t *e = json_pack("{s:s}", "error", "unknown request (want status or reload)");
		char *s = json_dumps(e, 0);
		reply(fd, s);
		free(s);
		json_decref(e);
		return;
	}
	char *s = dm_status_json(d);
	reply(fd, s);
	free(s);
}

void dm_control_accept(struct sut_daemon *d)
{
	for (;;) {
		int fd = accept4(d->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		/* the accepted socket must block (with the timeouts set in serve) */
		serve(d, fd);
		close(fd);
	}
}
