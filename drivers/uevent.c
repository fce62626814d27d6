/* uevent.c - the kernel's device events (NETLINK_KOBJECT_UEVENT), so that a
 * device bound, unbound, added or removed is looked at when it happens rather
 * than on the next sampling tick.
 *
 * The kernel multicasts one datagram per event to group 1:
 * "ACTION@DEVPATH\0ACTION=add\0DEVPATH=...\0SUBSYSTEM=iio\0...".  Only the
 * kernel's own messages (sender port 0) count, and only those of the
 * subsystems the drivers read: iio, hwmon, thermal, gpio and i2c (a bus
 * device's bind and unbind).  Receiving needs no privilege. */
#include "drv.h"

#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"

int drv_uevent_open(struct errbuf *err)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int fd, rc;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return errbuf_set(err, -errno, "netlink uevent socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rc = -errno;
		close(fd);
		return errbuf_set(err, rc, "netlink uevent bind: %s", strerror(-rc));
	}
	return fd;
}

bool drv_uevent_hw(const char *msg, size_t len)
{
	static const char *const subsystems[] = { "iio", "hwmon", "thermal", "gpio", "i2c", NULL };
	const char *p = msg, *end = msg + len, *nul;
	size_t i;

	/* the header "ACTION@DEVPATH" first: a message without it is not the kernel's */
	nul = memchr(p, 0, len);
	if (!nul || !memchr(p, '@', (size_t)(nul - p)))
		return false;
	for (p = nul + 1; p < end; p = nul + 1) {
		nul = memchr(p, 0, (size_t)(end - p));
		if (!nul)
			nul = end;      /* a last field without its NUL */
		if ((size_t)(nul - p) <= 10 || strncmp(p, "SUBSYSTEM=", 10))
			continue;
		for (i = 0; subsystems[i]; i++)
			if ((size_t)(nul - p - 10) == strlen(subsystems[i]) &&
			    !strncmp(p + 10, subsystems[i], strlen(subsystems[i])))
				return true;
		return false;
	}
	return false;
}

int drv_uevent_read(int fd, bool *hw)
{
	char buf[4096];
	struct sockaddr_nl from;
	socklen_t flen;
	ssize_t n;
	int count = 0;

	*hw = false;
	for (;;) {
		flen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: events were lost; say "something happened" */
			if (errno == ENOBUFS) {
				*hw = true;
				continue;
			}
			return errno == EAGAIN || errno == EWOULDBLOCK ? count : -errno;
		}
		count++;
		if (flen == sizeof(from) && from.nl_pid == 0 && drv_uevent_hw(buf, (size_t)n))
			*hw = true;
	}
}
