/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel's process-events connector (netlink, NETLINK_CONNECTOR / CN_IDX_PROC): one
 * message per fork, exec and exit on the machine. It tells of an exec after the fact
 * (the new program is already running when the message is read), which daemon.h's
 * contract accounts for. Needs CAP_NET_ADMIN and the initial network namespace. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/filter.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon_int.h"

/* A burst of a thousand execs is about 1000 * (16 + 20 + 40) bytes; more room than that
 * keeps an overrun for bursts far larger (after one, a full pass catches up). */
#define CONNECTOR_RCVBUF (8 * 1024 * 1024)

/* Only exec and exit messages wake the daemon: a classic BPF filter on the socket drops
 * the fork, uid, comm, ... messages in the kernel (they are most of the traffic). Each
 * message is one netlink datagram: nlmsghdr, cn_msg, then proc_event whose first field is
 * `what`; BPF loads words in network byte order. */
static int attach_filter(int fd)
{
	const unsigned what_off = NLMSG_LENGTH(0) + sizeof(struct cn_msg);
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, what_off),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_EXEC), 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_EXIT), 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

int dm_connector_open(int *out, struct sut_err *err)
{
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (fd < 0)
		return sut_errno(err, "process-events connector: socket");
	int sz = CONNECTOR_RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		sut_errno(err, "process-events connector: bind");
		close(fd);
		return -1;
	}
	/* netlink header, connector header, then the operation: built in one buffer (struct
	 * cn_msg ends in a flexible array, so it cannot sit inside a struct before the op) */
	enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
	_Alignas(struct nlmsghdr) uint8_t msg[NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof op)];
	memset(msg, 0, sizeof msg);
	struct nlmsghdr *nl = (struct nlmsghdr *)msg;
	struct cn_msg cn = {.id = {.idx = CN_IDX_PROC, .val = CN_VAL_PROC}, .len = sizeof op};
	nl->nlmsg_len = sizeof msg;
	nl->nlmsg_type = NLMSG_DONE;
	memcpy(NLMSG_DATA(nl), &cn, sizeof cn);
	memcpy((uint8_t *)NLMSG_DATA(nl) + sizeof cn, &op, sizeof op);
	if (send(fd, &msg, sizeof msg, 0) != (ssize_t)sizeof msg) {
		sut_errno(err, "process-events connector: subscribe");
		close(fd);
		return -1;
	}
	/* without the filter everything still works, with more wake-ups */
	attach_filter(fd);
	*out = fd;
	return 0;
}

int dm_connector_read(int fd, void (*on_exec)(void *ctx, pid_t pid, uint64_t ts_ns),
		      void (*on_exit)(void *ctx, pid_t pid), void *ctx)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	int lost = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < 0) {
			if (errno == ENOBUFS) {
				lost = 1; /* the kernel dropped messages: a full pass catches up */
				continue;
			}
			return lost; /* EAGAIN: drained */
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_NOOP)
				continue;
			struct cn_msg *cn = NLMSG_DATA(h);
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof *cn) ||
			    cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC ||
			    cn->len < sizeof(struct proc_event) ||
			    NLMSG_LENGTH(sizeof *cn + cn->len) > h->nlmsg_len)
				continue;
			struct proc_event *ev = (struct proc_event *)cn->data;
			if (ev->what == PROC_EVENT_EXEC)
				on_exec(ctx, ev->event_data.exec.process_tgid, ev->timestamp_ns);
			else if (ev->what == PROC_EVENT_EXIT &&
				 ev->event_data.exit.process_pid == ev->event_data.exit.process_tgid)
				on_exit(ctx, ev->event_data.exit.process_tgid);
		}
	}
}
