/* tests/hwsim/guest/edgelat.c - runs INSIDE the VM: time from a GPIO edge to the notification
 * on the wire.
 *
 *   hwsim-edgelat PULL_FILE SERVER_PORT COUNT GAP_MS [IFACE]
 *
 * For each sample it flips the gpio-sim line's pull (PULL_FILE is .../sim_gpioN/pull), which the
 * gpio-sim driver turns into an edge on the line, and takes the time just before the write
 * (CLOCK_REALTIME). An AF_PACKET socket on IFACE (default eth0) sees every outgoing packet
 * as the interface transmits it, time-stamped by the kernel (SO_TIMESTAMPNS, taken in
 * dev_queue_xmit_nit, i.e. as the packet goes to the NIC): the first UDP datagram to
 * SERVER_PORT carrying a CoAP 2.05 (a notification) ends the sample. Samples are GAP_MS apart.
 * Prints one line per sample and a summary line:
 *   EDGELAT n=N lost=L min=.. p50=.. p90=.. max=.. (microseconds)
 *
 *   hwsim-edgelat --event /dev/gpiochipN LINE PULL_FILE COUNT GAP_MS
 *
 * The baseline: the same flips of another line, this program itself holding the line for edge
 * events (GPIO v1 uAPI, as libgpiod 1.6); a sample ends when the event has been read. What the
 * emulated kernel alone takes from the pull write to a woken reader.
 * Build: gcc -O2 -Wall -o hwsim-edgelat edgelat.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Is this IPv4 packet a UDP datagram to port carrying a CoAP 2.05? */
static int is_notification(const uint8_t *p, ssize_t n, int port)
{
	if (n < (ssize_t)sizeof(struct iphdr))
		return 0;
	const struct iphdr *ip = (const void *)p;
	size_t ihl = ip->ihl * 4u;
	if (ip->version != 4 || ip->protocol != IPPROTO_UDP || n < (ssize_t)(ihl + 8 + 4))
		return 0;
	const struct udphdr *u = (const void *)(p + ihl);
	if (ntohs(u->dest) != port)
		return 0;
	const uint8_t *coap = p + ihl + 8;
	return (coap[0] >> 6) == 1 && coap[1] == 0x45;
}

static int summary(int64_t *lat, int n, int lost)
{
	if (!n) {
		printf("EDGELAT n=0 lost=%d\n", lost);
		return 1;
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp64);
	int p90 = (n * 9) / 10 >= n ? n - 1 : (n * 9) / 10;
	printf("EDGELAT n=%d lost=%d min=%lld p50=%lld p90=%lld max=%lld\n", n, lost,
	       (long long)lat[0], (long long)lat[n / 2], (long long)lat[p90], (long long)lat[n - 1]);
	return lost ? 1 : 0;
}

static int write_pull(const char *pull, int up, struct timespec *t0)
{
	int fd = open(pull, O_WRONLY);
	if (fd < 0) {
		perror(pull);
		return -1;
	}
	const char *v = up ? "pull-up" : "pull-down";
	clock_gettime(CLOCK_REALTIME, t0);
	if (write(fd, v, strlen(v)) < 0) {
		perror("write pull");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* --event: the kernel alone, this program reading the line's edge events */
static int event_mode(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: %s --event /dev/gpiochipN LINE PULL_FILE COUNT GAP_MS\n", argv[0]);
		return 2;
	}
	const char *pull = argv[4];
	int count = atoi(argv[5]), gap_ms = atoi(argv[6]);
	int chip = open(argv[2], O_RDONLY);
	if (chip < 0) {
		perror(argv[2]);
		return 1;
	}
	struct gpioevent_request req = { .lineoffset = (uint32_t)atoi(argv[3]),
					 .handleflags = GPIOHANDLE_REQUEST_INPUT,
					 .eventflags = GPIOEVENT_REQUEST_BOTH_EDGES };
	strcpy(req.consumer_label, "hwsim-edgelat");
	if (ioctl(chip, GPIO_GET_LINEEVENT_IOCTL, &req) < 0) {
		perror("GPIO_GET_LINEEVENT_IOCTL");
		return 1;
	}
	int64_t *lat = calloc((size_t)count, sizeof *lat);
	int n = 0, lost = 0, up = 1;
	for (int i = 0; i < count; i++, up = !up) {
		struct timespec gap = { gap_ms / 1000, (long)(gap_ms % 1000) * 1000000 }, t0, t1;
		struct gpioevent_data ev;
		nanosleep(&gap, NULL);
		struct pollfd pfd = { req.fd, POLLIN, 0 };
		while (poll(&pfd, 1, 0) > 0 && read(req.fd, &ev, sizeof ev) > 0)
			;       /* stale events */
		if (write_pull(pull, up, &t0) < 0)
			return 1;
		if (poll(&pfd, 1, 5000) <= 0 || read(req.fd, &ev, sizeof ev) != sizeof ev) {
			printf("sample %d lost (no event within 5 s)\n", i);
			lost++;
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &t1);
		lat[n] = (ts_ns(&t1) - ts_ns(&t0)) / 1000;
		printf("sample %d %s %lld us\n", i, up ? "pull-up" : "pull-down", (long long)lat[n]);
		n++;
	}
	return summary(lat, n, lost);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--event"))
		return event_mode(argc, argv);
	if (argc < 5) {
		fprintf(stderr, "usage: %s PULL_FILE SERVER_PORT COUNT GAP_MS [IFACE]\n", argv[0]);
		return 2;
	}
	const char *pull = argv[1];
	int port = atoi(argv[2]), count = atoi(argv[3]), gap_ms = atoi(argv[4]);
	const char *ifname = argc > 5 ? argv[5] : "eth0";

	/* ETH_P_ALL: only taps on every protocol see outgoing packets (dev_queue_xmit_nit) */
	int s = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	if (s < 0) {
		perror("socket(AF_PACKET)");
		return 1;
	}
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(ifname) };
	if (!ll.sll_ifindex || bind(s, (struct sockaddr *)&ll, sizeof ll) < 0) {
		perror(ifname);
		return 1;
	}
	int on = 1;
	if (setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) {
		perror("SO_TIMESTAMPNS");
		return 1;
	}

	char cur[32] = "";
	int fd = open(pull, O_RDONLY);
	if (fd < 0 || read(fd, cur, sizeof cur - 1) < 0) {
		perror(pull);
		return 1;
	}
	close(fd);
	int up = strncmp(cur, "pull-up", 7) != 0;      /* the first flip goes the other way */

	int64_t *lat = calloc((size_t)count, sizeof *lat);
	int n = 0, lost = 0;
	for (int i = 0; i < count; i++, up = !up) {
		struct timespec gap = { gap_ms / 1000, (long)(gap_ms % 1000) * 1000000 };
		nanosleep(&gap, NULL);
		uint8_t buf[2048];
		while (recv(s, buf, sizeof buf, MSG_DONTWAIT) >= 0)
			;       /* whatever came before the edge */

		struct timespec t0, t1 = { 0, 0 };
		const char *v = up ? "pull-up" : "pull-down";
		if (write_pull(pull, up, &t0) < 0)
			return 1;

		int got = 0;
		for (;;) {
			struct pollfd pfd = { s, POLLIN, 0 };
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			int left = 5000 - (int)((ts_ns(&now) - ts_ns(&t0)) / 1000000);
			if (left <= 0 || poll(&pfd, 1, left) <= 0)
				break;
			char ctl[256];
			struct iovec iov = { buf, sizeof buf };
			struct sockaddr_ll from;
			struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
					     .msg_iovlen = 1, .msg_control = ctl,
					     .msg_controllen = sizeof ctl };
			ssize_t r = recvmsg(s, &mh, 0);
			if (r < 0)
				break;
			if (from.sll_pkttype != PACKET_OUTGOING || from.sll_protocol != htons(ETH_P_IP) ||
			    !is_notification(buf, r, port))
				continue;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
					memcpy(&t1, CMSG_DATA(c), sizeof t1);
			if (!t1.tv_sec)
				clock_gettime(CLOCK_REALTIME, &t1);
			got = 1;
			break;
		}
		if (got) {
			lat[n] = (ts_ns(&t1) - ts_ns(&t0)) / 1000;
			printf("sample %d %s %lld us\n", i, v, (long long)lat[n]);
			n++;
		} else {
			printf("sample %d %s lost (no notification within 5 s)\n", i, v);
			lost++;
		}
		fflush(stdout);
	}
	return summary(lat, n, lost);
}
