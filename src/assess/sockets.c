/* SPDX-License-Identifier: Apache-2.0 */
/* A process's network exposure: its socket inodes (/proc/PID/fd links "socket:[N]")
 * matched against the TCP and UDP tables of its network namespace (/proc/PID/net/tcp, tcp6,
 * udp, udp6), which are read once per namespace. A TCP socket in LISTEN and a bound,
 * unconnected UDP socket (a datagram server: DNS, QUIC, DTLS) count as listening, an
 * ESTABLISHED TCP socket or a connected UDP socket as a connection; "external" means bound
 * to a non-loopback local address (0.0.0.0 and :: too) while listening, or connected to a
 * non-loopback peer. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assess/assess_internal.h"
#include "util/buf.h"

enum sock_state { SOCK_OTHER, SOCK_LISTEN, SOCK_CONNECTED };

struct sock {
	uint64_t inode;
	enum sock_state state;
	bool tcp;
	bool local_external, peer_external;
};

struct netns {
	uint64_t id;
	struct sock *v;
	size_t n;
};

struct sut_netcache {
	struct netns *v;
	size_t n;
};

struct sut_netcache *sut_netcache_new(void)
{
	return sut_xcalloc(1, sizeof(struct sut_netcache));
}

void sut_netcache_free(struct sut_netcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].v);
	free(c->v);
	free(c);
}

/* An address of /proc/net/tcp{,6} (hex, each 32-bit word in host order) is loopback? */
static bool loopback(const char *hex)
{
	size_t l = strlen(hex);
	if (l == 8) /* 127.0.0.0/8: first octet is the low byte of the word */
		return !strncasecmp(hex + 6, "7F", 2);
	if (l == 32) {
		if (!strcmp(hex, "00000000000000000000000001000000"))
			return true; /* ::1 */
		/* ::ffff:127.x.y.z */
		if (!strncmp(hex, "0000000000000000FFFF0000", 24))
			return !strncasecmp(hex + 30, "7F", 2);
	}
	return false;
}

static bool unspecified(const char *hex)
{
	return strspn(hex, "0") == strlen(hex);
}

/* One table; the kernel's states: TCP 0x0A LISTEN, 0x01 ESTABLISHED; UDP 0x07 unconnected
 * (listening when bound to a port), 0x01 connected. */
static void read_table(struct netns *ns, const char *path, bool tcp)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[512];
	if (!fgets(line, sizeof line, f)) {
		fclose(f);
		return;
	}
	while (fgets(line, sizeof line, f)) {
		char laddr[40], raddr[40];
		unsigned lport, rport, st;
		unsigned long long inode;
		if (sscanf(line, " %*d: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*s %*s %*s %*s %*s %llu",
			   laddr, &lport, raddr, &rport, &st, &inode) != 6 || !inode)
			continue;
		ns->v = sut_xrealloc(ns->v, (ns->n + 1) * sizeof *ns->v);
		struct sock *s = &ns->v[ns->n++];
		s->inode = inode;
		s->tcp = tcp;
		s->state = st == 0x01			     ? SOCK_CONNECTED
			   : tcp ? (st == 0x0A ? SOCK_LISTEN : SOCK_OTHER)
				 : (st == 0x07 && lport ? SOCK_LISTEN : SOCK_OTHER);
		s->local_external = !loopback(laddr);
		s->peer_external = !loopback(raddr) && !unspecified(raddr);
	}
	fclose(f);
}

/* The TCP and UDP tables of pid's network namespace, IPv4 and IPv6, into ns. */
static void read_tables(struct netns *ns, pid_t pid)
{
	static const char *const tables[] = {"tcp", "tcp6", "udp", "udp6"};
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/%d/net/%s", (int)pid, tables[i]);
		read_table(ns, p, i < 2);
	}
}

static struct netns *netns_of(struct sut_netcache *c, pid_t pid, uint64_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].id == id)
			return &c->v[i];
	c->v = sut_xrealloc(c->v, (c->n + 1) * sizeof *c->v);
	struct netns *ns = &c->v[c->n++];
	memset(ns, 0, sizeof *ns);
	ns->id = id;
	read_tables(ns, pid);
	return ns;
}

/* The inodes of pid's sockets (its fd links "socket:[N]"), malloc'd into *out; -1 when its
 * fds cannot be read. */
static int socket_inodes(pid_t pid, uint64_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char link[340], target[64];
		snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
		ssize_t len = readlink(link, target, sizeof target - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		unsigned long long ino;
		if (sscanf(target, "socket:[%llu]", &ino) != 1)
			continue;
		*out = sut_xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[(*n)++] = ino;
	}
	closedir(d);
	return 0;
}

void sut_proc_exposure(struct sut_netcache *c, pid_t pid, uint64_t netns, unsigned *listening,
		       unsigned *established, bool *external)
{
	*listening = *established = 0;
	*external = false;
	uint64_t *ino;
	size_t n;
	if (socket_inodes(pid, &ino, &n) < 0 || !n) {
		free(ino);
		return;
	}
	const struct netns *ns = netns_of(c, pid, netns);
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < ns->n; i++) {
			const struct sock *s = &ns->v[i];
			if (s->inode != ino[k])
				continue;
			if (s->state == SOCK_LISTEN) {
				(*listening)++;
				*external |= s->local_external;
			} else if (s->state == SOCK_CONNECTED) {
				(*established)++;
				*external |= s->peer_external;
			}
		}
	free(ino);
}

int sut_proc_listening_inodes(pid_t pid, uint64_t *out, size_t cap)
{
	uint64_t *ino;
	size_t n;
	if (socket_inodes(pid, &ino, &n) < 0)
		return -1;
	struct netns ns = {0};
	if (n)
		read_tables(&ns, pid);
	int found = 0;
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < ns.n; i++)
			if (ns.v[i].inode == ino[k] && ns.v[i].tcp && ns.v[i].state == SOCK_LISTEN) {
				if ((size_t)found < cap)
					out[found] = ino[k];
				found++;
				break;
			}
	free(ino);
	free(ns.v);
	return found;
}
