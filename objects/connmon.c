/* connmon.c - Connectivity Monitoring (4), version 1.3: how this gateway
 * reaches its LwM2M server, as the kernel sees it through rtnetlink (libmnl).
 *
 * "The connectivity interface" is the one the kernel routes the server's
 * address through: a route lookup (RTM_GETROUTE) to the CoAP session's peer
 * gives the interface, the gateway and the source address.  IP Addresses are
 * that interface's addresses (the source address first), Router IP Addresses
 * the gateway of that route and of the interface's default routes.  Network
 * Bearer comes from the interface's type, nl80211 (generic netlink: an
 * interface cfg80211 knows is Wi-Fi, whatever sysfs shows, e.g. inside a
 * network namespace other than the one /sys was mounted in) and sysfs
 * (wireless, phy80211, DEVTYPE); Available Network Bearer lists the bearers
 * of every interface that is up.  Radio Signal Strength and Link Quality
 * exist for Wi-Fi only: the signal of the station the interface is
 * associated with (NL80211_CMD_GET_STATION, the last received frame's
 * signal in dBm, what `iw dev X link` shows), and the link quality cfg80211
 * derives from it for the wireless extensions (the signal clamped to
 * -110..-40 dBm, plus 110: 0..70); /proc/net/wireless when nl80211 has no
 * answer (no cfg80211, or an older driver).  Link Utilization is not
 * something the kernel knows: absent (4.04).
 *
 * Cellular: when ModemManager runs (modem.c, D-Bus), an interface that is
 * a modem's data interface (a connected bearer's Interface, or one of the
 * modem's net ports) gets its Network Bearer from the modem's access
 * technology, Radio Signal Strength and Link Quality from its signal
 * quality, APN from the connected bearer, Cell ID, SMNC, SMCC and LAC from
 * its operator code and 3GPP location; Available Network Bearer adds the
 * technology of every modem registered on a network.  ModemManager's
 * PropertiesChanged signals make the object look again, like netlink
 * events do.  Without ModemManager those resources are absent (4.04).
 *
 * Nothing polls: a netlink socket subscribed to link, address and route
 * changes is watched by the loop.  Any message there makes the object look
 * again (a few netlink requests on a second socket); when what it shows
 * changed, observers of /4/0 are told at once.  When the source address
 * towards the server moved (an address was removed or replaced, the route
 * got another preferred source), the CoAP session is rebound, since its
 * connected socket keeps the old address, and a registration Update goes
 * out so the server learns the new one.  Observers hear of that change over
 * the old session first: a server may match notifications to the address
 * it observed from (Leshan does, and answers later ones with a Reset, which
 * ends the observation: it has to observe again after the Update).
 *
 * Bearers the list has no value for: a known class with an unnamed
 * technology gets the first value the spec reserves for that class: 10 for
 * a cellular interface ModemManager does not know of,
 * 44 for a wired link that is not Ethernet.  Loopback (a server on this very
 * host) is such a link: 44, not 41, which would claim Ethernet.
 *
 * LWM2MD_SYSROOT, if set, is prepended to the /sys and /proc paths (tests). */
#include "objects.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/genetlink.h>
#include <linux/if_arp.h>
#include <linux/nl80211.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "agent.h"
#include "cfg.h"
#include "coap.h"
#include "dm.h"
#include "log.h"
#include "loop.h"
#include "modem.h"
#include "oma/oma_4.h"
#include "reg.h"

/* Network Bearer values (4/0/0). */
enum {
	BEARER_CELLULAR_OTHER = 10,     /* "reserved for other types of cellular network" */
	BEARER_WLAN = 21,
	BEARER_BLUETOOTH = 22,
	BEARER_IEEE802154 = 23,
	BEARER_ETHERNET = 41,
	BEARER_WIRED_OTHER = 44,        /* "reserved for other types of wireline networks" */
};

#define MAX_ADDRS 16
#define MAX_ROUTERS 8
#define MAX_BEARERS 8
#define ADDR_LEN INET6_ADDRSTRLEN
#define ATTR_MAX 64                     /* attribute types kept by parse_attrs() */
#define NL_BUF 32768                    /* the kernel's largest dump message batch */
#define ETH_HEADER 14
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12       /* Linux 4.20 */
#endif

/* What the object shows: compared as a whole to decide whether observers
 * must hear about a change, so it is always zeroed before being filled. */
struct view {
	int ifindex;                    /* the connectivity interface; 0: no route */
	char ifname[IFNAMSIZ];
	int bearer;
	char src[ADDR_LEN];             /* the source address towards the server */
	char addrs[MAX_ADDRS][ADDR_LEN];
	size_t naddrs;
	char routers[MAX_ROUTERS][ADDR_LEN];
	size_t nrouters;
	int avail[MAX_BEARERS];         /* ascending, no duplicates */
	size_t navail;
	bool cellular;                  /* the interface is a modem's: cell holds it */
	struct modem_info cell;
};

struct connmon {
	struct dm_obj obj;
	struct dm_inst inst;
	struct agent *ag;
	char *sysroot;                  /* LWM2MD_SYSROOT, "" if unset */
	struct mnl_socket *ev;          /* subscribed to changes, watched by the loop */
	struct mnl_socket *rq;          /* our requests and their answers */
	unsigned rq_portid, seq;
	struct mnl_socket *gq;          /* generic netlink (nl80211), opened when first needed */
	unsigned gq_portid;
	uint16_t nl80211;               /* nl80211's family id, 0 until found */
	struct modem *mm;               /* ModemManager; NULL without a system bus */
	struct loop_fd lf;
	struct loop_timer timer;        /* the first look, and actions a read deferred */
	struct view cur;
	struct sockaddr_storage peer;   /* the server address cur was found for */
	char last_src[ADDR_LEN];        /* the last source address seen, "" before */
	bool dirty;                     /* cur changed since observers were told */
	bool moved;                     /* the source address changed since */
	struct connmon_link link;       /* the connectivity interface at the last look */
	void (*hook)(void *arg, const struct connmon_link *old, const struct connmon_link *now);
	void *hook_arg;
	uint8_t buf[NL_BUF];
	uint8_t gbuf[NL_BUF];           /* nl80211's, asked while buf holds a dump */
};

/* ---- parsing netlink messages (pure) ---------------------------------- */

struct attrs {
	const struct nlattr *tb[ATTR_MAX];
};

static int keep_attr(const struct nlattr *a, void *data)
{
	struct attrs *t = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type < ATTR_MAX)
		t->tb[type] = a;
	return MNL_CB_OK;
}

/* The attributes after a fixed header of hlen bytes; -EINVAL if the
 * message is too short for that header. */
static int parse_attrs(const struct nlmsghdr *nlh, size_t hlen, struct attrs *t)
{
	memset(t, 0, sizeof(*t));
	if (mnl_nlmsg_get_payload_len(nlh) < hlen)
		return -EINVAL;
	if (mnl_attr_parse(nlh, (unsigned)hlen, keep_attr, t) < 0)
		return -EINVAL;
	return 0;
}

static bool attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a || mnl_attr_get_payload_len(a) < sizeof(uint32_t))
		return false;
	*v = mnl_attr_get_u32(a);
	return true;
}

/* An address attribute of family as text; false if it has the wrong size. */
static bool addr_text(int family, const struct nlattr *a, char *out, size_t size)
{
	size_t len = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

	if (!a || !len || mnl_attr_get_payload_len(a) != len)
		return false;
	return inet_ntop(family, mnl_attr_get_payload(a), out, (socklen_t)size) != NULL;
}

/* The answer to a route lookup. */
struct nl_route {
	int ifindex;
	unsigned char type;             /* RTN_UNICAST, RTN_LOCAL ... */
	char gateway[ADDR_LEN];         /* "" when the destination is on-link */
	char src[ADDR_LEN];             /* the preferred source; "" if not given */
};

static int parse_route(const struct nlmsghdr *nlh, struct nl_route *r)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct attrs t;
	uint32_t oif;

	memset(r, 0, sizeof(*r));
	if (nlh->nlmsg_type != RTM_NEWROUTE || parse_attrs(nlh, sizeof(*rtm), &t))
		return -EINVAL;
	if (!attr_u32(t.tb[RTA_OIF], &oif) || !oif || oif > INT_MAX)
		return -EINVAL;
	r->ifindex = (int)oif;
	r->type = rtm->rtm_type;
	addr_text(rtm->rtm_family, t.tb[RTA_GATEWAY], r->gateway, sizeof(r->gateway));
	addr_text(rtm->rtm_family, t.tb[RTA_PREFSRC], r->src, sizeof(r->src));
	return 0;
}

/* An address of interface ifindex into out: 1, or 0 when the message is
 * about another interface or an address not usable yet (duplicate address
 * detection running or failed), or -EINVAL. */
static int parse_addr(const struct nlmsghdr *nlh, int ifindex, char *out, size_t size)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct attrs t;
	uint32_t flags;

	if (nlh->nlmsg_type != RTM_NEWADDR || parse_attrs(nlh, sizeof(*ifa), &t))
		return -EINVAL;
	if ((int)ifa->ifa_index != ifindex)
		return 0;
	if (!attr_u32(t.tb[IFA_FLAGS], &flags))
		flags = ifa->ifa_flags;         /* before Linux 3.14, only 8 bits */
	if (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
		return 0;
	/* on a point-to-point link IFA_ADDRESS is the peer; IFA_LOCAL is ours */
	if (addr_text(ifa->ifa_family, t.tb[IFA_LOCAL], out, size) ||
	    addr_text(ifa->ifa_family, t.tb[IFA_ADDRESS], out, size))
		return 1;
	return -EINVAL;
}

/* The gateway of a default route of the main table through ifindex (also
 * one hop of a multipath route): 1, 0 if the route is not one, -EINVAL. */
static int parse_default_gw(const struct nlmsghdr *nlh, int ifindex, char *out, size_t size)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct rtnexthop *nh;
	struct attrs t;
	uint32_t table, oif;
	int left;

	if (nlh->nlmsg_type != RTM_NEWROUTE || parse_attrs(nlh, sizeof(*rtm), &t))
		return -EINVAL;
	if (!attr_u32(t.tb[RTA_TABLE], &table))
		table = rtm->rtm_table;
	if (table != RT_TABLE_MAIN || rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST)
		return 0;
	if (attr_u32(t.tb[RTA_OIF], &oif) && (int)oif == ifindex)
		return addr_text(rtm->rtm_family, t.tb[RTA_GATEWAY], out, size) ? 1 : 0;
	if (!t.tb[RTA_MULTIPATH])
		return 0;
	nh = mnl_attr_get_payload(t.tb[RTA_MULTIPATH]);
	left = (int)mnl_attr_get_payload_len(t.tb[RTA_MULTIPATH]);
	while (left >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
		if (nh->rtnh_ifindex == ifindex) {
			const struct nlattr *a = (const void *)RTNH_DATA(nh);
			int alen = nh->rtnh_len - (int)RTNH_LENGTH(0);

			while (mnl_attr_ok(a, alen)) {
				if (mnl_attr_get_type(a) == RTA_GATEWAY &&
				    addr_text(rtm->rtm_family, a, out, size))
					return 1;
				alen -= (int)MNL_ALIGN(a->nla_len);
				a = mnl_attr_next(a);
			}
		}
		left -= RTNH_ALIGN(nh->rtnh_len);
		nh = RTNH_NEXT(nh);
	}
	return 0;
}

/* One interface, from RTM_NEWLINK. */
struct nl_link {
	int ifindex;
	unsigned short type;            /* ARPHRD_* */
	unsigned flags;                 /* IFF_* */
	char name[IFNAMSIZ];
	bool has_stats;
	uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
};

static int parse_link(const struct nlmsghdr *nlh, struct nl_link *l)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct rtnl_link_stats64 s64;
	struct rtnl_link_stats s32;
	struct attrs t;
	size_t len;

	memset(l, 0, sizeof(*l));
	if (nlh->nlmsg_type != RTM_NEWLINK || parse_attrs(nlh, sizeof(*ifi), &t))
		return -EINVAL;
	if (!t.tb[IFLA_IFNAME] || mnl_attr_validate(t.tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
		return -EINVAL;
	l->ifindex = ifi->ifi_index;
	l->type = ifi->ifi_type;
	l->flags = ifi->ifi_flags;
	snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(t.tb[IFLA_IFNAME]));
	/* the structs grew over kernel versions: the packet and byte counters
	 * are their first four fields in every one */
	if (t.tb[IFLA_STATS64]) {
		memset(&s64, 0, sizeof(s64));
		len = mnl_attr_get_payload_len(t.tb[IFLA_STATS64]);
		if (len >= 4 * sizeof(uint64_t)) {
			memcpy(&s64, mnl_attr_get_payload(t.tb[IFLA_STATS64]),
			       len < sizeof(s64) ? len : sizeof(s64));
			l->rx_packets = s64.rx_packets;
			l->tx_packets = s64.tx_packets;
			l->rx_bytes = s64.rx_bytes;
			l->tx_bytes = s64.tx_bytes;
			l->has_stats = true;
		}
	} else if (t.tb[IFLA_STATS]) {
		memset(&s32, 0, sizeof(s32));
		len = mnl_attr_get_payload_len(t.tb[IFLA_STATS]);
		if (len >= 4 * sizeof(uint32_t)) {
			memcpy(&s32, mnl_attr_get_payload(t.tb[IFLA_STATS]),
			       len < sizeof(s32) ? len : sizeof(s32));
			l->rx_packets = s32.rx_packets;
			l->tx_packets = s32.tx_packets;
			l->rx_bytes = s32.rx_bytes;
			l->tx_bytes = s32.tx_bytes;
			l->has_stats = true;
		}
	}
	return 0;
}

/* The bearer of an interface from its ARPHRD type, its sysfs DEVTYPE ("wlan",
 * "wwan", "bluetooth", or "") and whether sysfs shows it as wireless. */
static int bearer_of(unsigned short type, const char *devtype, bool wireless)
{
	if (wireless || !strcmp(devtype, "wlan"))
		return BEARER_WLAN;
	if (!strcmp(devtype, "wwan"))
		return BEARER_CELLULAR_OTHER;
	if (!strcmp(devtype, "bluetooth"))
		return BEARER_BLUETOOTH;
	switch (type) {
	case ARPHRD_ETHER:
	case ARPHRD_EETHER:
		return BEARER_ETHERNET;
	case ARPHRD_IEEE802154:
	case ARPHRD_6LOWPAN:
		return BEARER_IEEE802154;
	}
	return BEARER_WIRED_OTHER;
}

/* Link-layer header bytes the kernel's counters include per packet. */
static unsigned link_header(unsigned short type)
{
	return type == ARPHRD_ETHER || type == ARPHRD_LOOPBACK ? ETH_HEADER : 0;
}

static uint64_t minus_headers(uint64_t bytes, uint64_t packets, unsigned hdr)
{
	uint64_t h = packets * hdr;

	return bytes > h ? bytes - h : 0;
}

/* Signal level (dBm) and link quality of ifname from the text of
 * /proc/net/wireless: 0, or -ENOENT when the interface is not listed. */
static int parse_wireless(const char *text, const char *ifname, int *level, int *quality)
{
	const char *line;
	size_t n = strlen(ifname);

	for (line = text; *line; line += strcspn(line, "\n"), line += *line == '\n') {
		const char *p = line + strspn(line, " \t");
		unsigned status;
		float q, l;

		if (strncmp(p, ifname, n) || p[n] != ':')
			continue;
		/* "wlan0: 0000   70.  -40.  -256 ...": status, link, level, noise;
		 * a '.' after a value marks it as updated */
		if (sscanf(p + n + 1, "%x %f%*[. ] %f", &status, &q, &l) != 3)
			return -EINVAL;
		*quality = (int)q;
		*level = (int)l;
		return 0;
	}
	return -ENOENT;
}

/* ---- asking the kernel ------------------------------------------------ */

/* Sends the request nlh (built in cm->buf) and passes each answer to cb.
 * 0, or -errno (the kernel's error, e.g. -ENETUNREACH for no route). */
static int query_on(struct connmon *cm, struct mnl_socket *sk, unsigned portid, uint8_t *buf,
		    size_t size, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	unsigned seq = ++cm->seq;
	int fd = mnl_socket_get_fd(sk);
	uint8_t junk[256];
	ssize_t n;
	int rc;

	/* what an earlier query left (it stopped at a bad message) would be
	 * taken for this one's answer: drop it (a dump it left running ends
	 * while we read it away) */
	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT | MSG_TRUNC) >= 0 || errno == EINTR)
		;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		/* the kernel answers while handling the send, and makes each
		 * further dump batch while handling a receive: never blocks */
		n = mnl_socket_recvfrom(sk, buf, size);
		if (n < 0)
			return -errno;
		errno = 0;
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (rc == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

static int query(struct connmon *cm, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	return query_on(cm, cm->rq, cm->rq_portid, cm->buf, sizeof(cm->buf), nlh, cb, data);
}

/* ---- nl80211 ---------------------------------------------------------- */

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
		    mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			*(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static struct nlmsghdr *genl_request(struct connmon *cm, uint16_t family, uint8_t cmd,
				     uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(cm->gbuf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

/* Opens the generic netlink socket and finds nl80211 (cfg80211 may be
 * loaded later, so a missing family is looked for again next time).  0, or
 * -errno: -ENOENT when the kernel has no nl80211 now.  Without cfg80211 in
 * the kernel nothing is asked: asking for an unknown family makes the
 * kernel load its module, and a monitor should not load Wi-Fi support. */
static int nl80211_ready(struct connmon *cm)
{
	struct nlmsghdr *nlh;
	int rc;

	if (cm->nl80211)
		return 0;
	if (access("/sys/module/cfg80211", F_OK))
		return -ENOENT;
	if (!cm->gq) {
		cm->gq = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (!cm->gq)
			return -errno;
		if (mnl_socket_bind(cm->gq, 0, MNL_SOCKET_AUTOPID) < 0) {
			rc = -errno;
			mnl_socket_close(cm->gq);
			cm->gq = NULL;
			return rc;
		}
		cm->gq_portid = mnl_socket_get_portid(cm->gq);
	}
	nlh = genl_request(cm, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_ACK);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, NL80211_GENL_NAME);
	rc = query_on(cm, cm->gq, cm->gq_portid, cm->gbuf, sizeof(cm->gbuf), nlh, family_cb,
		      &cm->nl80211);
	if (!rc && !cm->nl80211)
		rc = -ENOENT;
	return rc;
}

static int iftype_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == NL80211_ATTR_IFTYPE &&
		    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			*(int *)data = (int)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

/* Whether cfg80211 drives the interface: true for any Wi-Fi interface in
 * this network namespace, whatever sysfs says. */
static bool nl80211_is_wifi(struct connmon *cm, int ifindex)
{
	struct nlmsghdr *nlh;
	int type = -1;

	if (nl80211_ready(cm))
		return false;
	nlh = genl_request(cm, cm->nl80211, NL80211_CMD_GET_INTERFACE, NLM_F_ACK);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, (uint32_t)ifindex);
	return query_on(cm, cm->gq, cm->gq_portid, cm->gbuf, sizeof(cm->gbuf), nlh, iftype_cb,
			&type) == 0 && type >= 0;
}

struct station {
	bool found;
	int signal;                     /* dBm */
};

static int station_cb(const struct nlmsghdr *nlh, void *data)
{
	struct station *st = data;
	const struct nlattr *a, *i;

	if (st->found)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != NL80211_ATTR_STA_INFO ||
		    mnl_attr_validate(a, MNL_TYPE_NESTED))
			continue;
		mnl_attr_for_each_nested(i, a) {
			if (mnl_attr_get_type(i) == NL80211_STA_INFO_SIGNAL &&
			    mnl_attr_validate(i, MNL_TYPE_U8) == 0) {
				st->signal = (int8_t)mnl_attr_get_u8(i);
				st->found = true;
			}
		}
	}
	return MNL_CB_OK;
}

/* The signal (dBm) of the station ifindex is associated with (for a client
 * interface, its access point).  0, or -errno (-ENOENT: not associated or
 * no nl80211). */
static int nl80211_signal(struct connmon *cm, int ifindex, int *dbm)
{
	struct station st = { 0 };
	struct nlmsghdr *nlh;
	int rc;

	if ((rc = nl80211_ready(cm)))
		return rc;
	nlh = genl_request(cm, cm->nl80211, NL80211_CMD_GET_STATION, NLM_F_DUMP);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, (uint32_t)ifindex);
	rc = query_on(cm, cm->gq, cm->gq_portid, cm->gbuf, sizeof(cm->gbuf), nlh, station_cb, &st);
	if (rc)
		return rc;
	if (!st.found)
		return -ENOENT;
	*dbm = st.signal;
	return 0;
}

/* cfg80211's wireless-extensions link quality for a signal in dBm: 0..70. */
static int wifi_quality(int dbm)
{
	if (dbm < -110)
		dbm = -110;
	if (dbm > -40)
		dbm = -40;
	return dbm + 110;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	return parse_route(nlh, data) ? MNL_CB_ERROR : MNL_CB_OK;
}

/* Where the kernel sends a UDP datagram from local port sport to peer. */
static int route_get(struct connmon *cm, const struct sockaddr_storage *peer, uint16_t sport,
		     struct nl_route *r)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(cm->buf);
	struct rtmsg *rtm;
	uint16_t dport;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)peer->ss_family;
	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)peer;

		rtm->rtm_dst_len = 32;
		mnl_attr_put(nlh, RTA_DST, 4, &s->sin_addr);
		dport = s->sin_port;
	} else if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)peer;

		rtm->rtm_dst_len = 128;
		mnl_attr_put(nlh, RTA_DST, 16, &s->sin6_addr);
		dport = s->sin6_port;
	} else {
		return -EAFNOSUPPORT;
	}
	/* the protocol and ports only matter to policy routing rules that use
	 * them; kernels before 4.17 ignore these attributes */
	mnl_attr_put_u8(nlh, RTA_IP_PROTO, IPPROTO_UDP);
	mnl_attr_put_u16(nlh, RTA_DPORT, dport);
	if (sport)
		mnl_attr_put_u16(nlh, RTA_SPORT, htons(sport));
	return query(cm, nlh, route_cb, r);
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	return parse_link(nlh, data) ? MNL_CB_ERROR : MNL_CB_OK;
}

static int link_get(struct connmon *cm, int ifindex, struct nl_link *l)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(cm->buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	memset(l, 0, sizeof(*l));
	return query(cm, nlh, link_cb, l);
}

/* A dump request of type, every family, with a zeroed header of hlen
 * bytes: the caller may set filters in it. */
static struct nlmsghdr *dump_request(struct connmon *cm, uint16_t type, size_t hlen, void **hdr)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(cm->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	*hdr = mnl_nlmsg_put_extra_header(nlh, hlen);
	return nlh;
}

/* Adds s to a list of text addresses unless it is there or the list is full. */
static void list_add(char (*list)[ADDR_LEN], size_t *n, size_t max, const char *s)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp(list[i], s))
			return;
	if (*n < max)
		snprintf(list[(*n)++], ADDR_LEN, "%s", s);
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct view *v = data;
	char a[ADDR_LEN];

	if (parse_addr(nlh, v->ifindex, a, sizeof(a)) == 1)
		list_add(v->addrs, &v->naddrs, MAX_ADDRS, a);
	return MNL_CB_OK;
}

static int gw_cb(const struct nlmsghdr *nlh, void *data)
{
	struct view *v = data;
	char a[ADDR_LEN];

	if (parse_default_gw(nlh, v->ifindex, a, sizeof(a)) == 1)
		list_add(v->routers, &v->nrouters, MAX_ROUTERS, a);
	return MNL_CB_OK;
}

/* The addresses of v->ifindex and the routers of its default routes.  With
 * strict checking (Linux 4.20 on) the kernel leaves the rest out of its
 * dumps, which matters with a large routing table; the parsers filter
 * anyway. */
static void dump_addrs_routers(struct connmon *cm, struct view *v)
{
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	struct rtmsg *rtm;

	nlh = dump_request(cm, RTM_GETADDR, sizeof(*ifa), (void **)&ifa);
	ifa->ifa_index = (unsigned)v->ifindex;
	query(cm, nlh, addr_cb, v);
	nlh = dump_request(cm, RTM_GETROUTE, sizeof(*rtm), (void **)&rtm);
	rtm->rtm_table = RT_TABLE_MAIN;
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)v->ifindex);
	query(cm, nlh, gw_cb, v);
}

/* DEVTYPE from the interface's uevent and whether it is a wireless one. */
static void link_kind(const struct connmon *cm, const char *name, char *devtype, size_t size,
		      bool *wireless)
{
	char p[PATH_MAX], line[128];
	struct stat st;
	FILE *f;

	*devtype = 0;
	snprintf(p, sizeof(p), "%s/sys/class/net/%s/wireless", cm->sysroot, name);
	*wireless = stat(p, &st) == 0;
	snprintf(p, sizeof(p), "%s/sys/class/net/%s/phy80211", cm->sysroot, name);
	*wireless = *wireless || stat(p, &st) == 0;
	snprintf(p, sizeof(p), "%s/sys/class/net/%s/uevent", cm->sysroot, name);
	f = fopen(p, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "DEVTYPE=", 8)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(devtype, size, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

static int link_bearer(struct connmon *cm, const struct nl_link *l)
{
	char devtype[128];
	bool wireless;

	link_kind(cm, l->name, devtype, sizeof(devtype), &wireless);
	/* Wi-Fi interfaces are ARPHRD_ETHER; sysfs may not show this
	 * namespace's interfaces, nl80211 does */
	if (!wireless && l->type == ARPHRD_ETHER && strcmp(devtype, "wwan"))
		wireless = nl80211_is_wifi(cm, l->ifindex);
	return bearer_of(l->type, devtype, wireless);
}

static void bearer_add(struct view *v, int b)
{
	size_t i, j;

	for (i = 0; i < v->navail && v->avail[i] < b; i++)
		;
	if ((i < v->navail && v->avail[i] == b) || v->navail == MAX_BEARERS)
		return;
	for (j = v->navail++; j > i; j--)
		v->avail[j] = v->avail[j - 1];
	v->avail[i] = b;
}

struct avail_walk {
	struct connmon *cm;
	struct view *v;
};

static int avail_cb(const struct nlmsghdr *nlh, void *data)
{
	struct avail_walk *w = data;
	struct modem_info mi;
	struct nl_link l;

	if (parse_link(nlh, &l))
		return MNL_CB_OK;
	/* up with a carrier; loopback reaches nothing beyond this host; a
	 * modem's interface is that modem's technology */
	if ((l.flags & IFF_UP) && (l.flags & IFF_RUNNING) && l.type != ARPHRD_LOOPBACK)
		bearer_add(w->v, modem_find(w->cm->mm, l.name, &mi) == 0 && mi.bearer >= 0 ?
					 mi.bearer : link_bearer(w->cm, &l));
	return MNL_CB_OK;
}

static struct connmon_link link_counters(const struct nl_link *l)
{
	unsigned hdr = link_header(l->type);

	return (struct connmon_link){
		.ifindex = l->ifindex,
		.tx_bytes = minus_headers(l->tx_bytes, l->tx_packets, hdr),
		.rx_bytes = minus_headers(l->rx_bytes, l->rx_packets, hdr),
	};
}

static bool same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* Finds the connectivity interface for the server the CoAP session talks
 * to and fills v with what the object shows; the counters of that
 * interface go to *link. */
static void find_view(struct connmon *cm, const struct sockaddr_storage *peer, uint16_t sport,
		      struct view *v, struct connmon_link *link)
{
	struct avail_walk w = { cm, v };
	int cells[MAX_BEARERS];
	struct nlmsghdr *nlh;
	struct nl_route r;
	struct nl_link l;
	void *hdr;
	size_t i, n;
	int rc;

	memset(v, 0, sizeof(*v));
	memset(link, 0, sizeof(*link));
	if (!cm->rq)
		return;
	if (peer->ss_family != AF_UNSPEC) {
		rc = route_get(cm, peer, sport, &r);
		if (rc && rc != -ENETUNREACH && rc != -EHOSTUNREACH)
			log_debug("4/0: route lookup: %s", strerror(-rc));
		if (!rc && link_get(cm, r.ifindex, &l) == 0) {
			v->ifindex = r.ifindex;
			snprintf(v->ifname, sizeof(v->ifname), "%s", l.name);
			snprintf(v->src, sizeof(v->src), "%s", r.src);
			v->bearer = link_bearer(cm, &l);
			if (modem_find(cm->mm, l.name, &v->cell) == 0) {
				v->cellular = true;
				if (v->cell.bearer >= 0)
					v->bearer = v->cell.bearer;
				else
					v->bearer = BEARER_CELLULAR_OTHER;
			}
			*link = link_counters(&l);
			if (r.gateway[0])
				list_add(v->routers, &v->nrouters, MAX_ROUTERS, r.gateway);
		}
	}
	if (v->ifindex) {
		dump_addrs_routers(cm, v);
		/* the address the server sees us by goes first */
		for (i = 1; i < v->naddrs; i++) {
			if (!strcmp(v->addrs[i], v->src)) {
				char t[ADDR_LEN];

				memcpy(t, v->addrs[i], ADDR_LEN);
				memmove(v->addrs[1], v->addrs[0], i * ADDR_LEN);
				memcpy(v->addrs[0], t, ADDR_LEN);
				break;
			}
		}
		bearer_add(v, v->bearer);
	}
	nlh = dump_request(cm, RTM_GETLINK, sizeof(struct ifinfomsg), &hdr);
	query(cm, nlh, avail_cb, &w);
	n = modem_bearers(cm->mm, cells, MAX_BEARERS);
	for (i = 0; i < n; i++)
		bearer_add(v, cells[i]);
}

/* ---- reacting to changes ---------------------------------------------- */

/* Looks again.  Only records what changed (for act()) and tells the link
 * hook: safe inside a request. */
static void look(struct connmon *cm)
{
	struct sockaddr_storage peer, local;
	struct connmon_link link, old;
	struct nl_link l;
	uint16_t sport = 0;
	struct view v;
	bool new_peer;

	if (cm->ag->coap && coapc_addrs(cm->ag->coap, &peer, &local) == 0)
		sport = ntohs(local.ss_family == AF_INET6 ?
			      ((struct sockaddr_in6 *)&local)->sin6_port :
			      ((struct sockaddr_in *)&local)->sin_port);
	else
		memset(&peer, 0, sizeof(peer));
	find_view(cm, &peer, sport, &v, &link);
	new_peer = !same_peer(&peer, &cm->peer);
	if (memcmp(&v, &cm->cur, sizeof(v))) {
		cm->dirty = true;
		if (v.ifindex != cm->cur.ifindex || strcmp(v.src, cm->cur.src))
			log_info("4/0: the server %s reached through %s%s%s", v.ifindex ? "is" : "is not",
				 v.ifindex ? v.ifname : "any interface", v.src[0] ? " from " : "",
				 v.src);
	}
	if (v.ifindex != cm->cur.ifindex) {
		/* the old interface's counters as late as they can be had */
		old = cm->link;
		if (cm->cur.ifindex && link_get(cm, cm->cur.ifindex, &l) == 0)
			old = link_counters(&l);
		if (cm->hook)
			cm->hook(cm->hook_arg, &old, &link);
	}
	if (!new_peer && v.src[0] && cm->last_src[0] && strcmp(v.src, cm->last_src))
		cm->moved = true;
	if (new_peer)
		cm->moved = false;      /* a new session: it found its own address */
	if (v.src[0])
		snprintf(cm->last_src, sizeof(cm->last_src), "%s", v.src);
	cm->peer = peer;
	cm->cur = v;
	cm->link = link;
}

/* The address the CoAP session's socket is bound to, as text. */
static void session_src(struct connmon *cm, char *out, size_t size)
{
	struct sockaddr_storage peer, local;
	const void *a;

	*out = 0;
	if (!cm->ag->coap || coapc_addrs(cm->ag->coap, &peer, &local))
		return;
	a = local.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&local)->sin6_addr :
					  (const void *)&((struct sockaddr_in *)&local)->sin_addr;
	if (!inet_ntop(local.ss_family, a, out, (socklen_t)size))
		*out = 0;
}

/* What a change leads to; from the loop only, never inside a request (a
 * rebind must not pull the session from under libcoap's handler). */
static void act(struct connmon *cm)
{
	struct dm_path p = dm_path_make(2, 4, 0);
	char bound[ADDR_LEN];

	/* observers first, over the session as it is: when the old address
	 * still works, that notification is the last the server accepts (it
	 * may match notifications to the address it observed from) */
	if (cm->dirty) {
		cm->dirty = false;
		dm_changed(cm->ag->dm, &p);
	}
	if (!cm->moved)
		return;
	cm->moved = false;
	session_src(cm, bound, sizeof(bound));
	if (!cm->ag->coap || !cm->cur.src[0] || !strcmp(bound, cm->cur.src))
		return;
	log_info("4/0: the address that reaches %s moved from %s to %s: new session, "
		 "registration Update", cm->ag->cfg->server.uri, bound[0] ? bound : "none",
		 cm->cur.src);
	coapc_rebind(cm->ag->coap);
	if (cm->ag->reg)
		reg_update_now(cm->ag->reg);
}

static void on_netlink(struct loop_fd *lf, uint32_t revents)
{
	struct connmon *cm = container_of(lf, struct connmon, lf);
	ssize_t n;

	/* what changed does not matter: looking again costs a few requests */
	for (;;) {
		n = recv(lf->fd, cm->buf, sizeof(cm->buf), MSG_DONTWAIT);
		if (n > 0 || (n < 0 && (errno == EINTR || errno == ENOBUFS)))
			continue;       /* ENOBUFS: events were lost; we look anyway */
		break;
	}
	look(cm);
	act(cm);
}

static void on_modems(void *arg)
{
	struct connmon *cm = arg;

	look(cm);
	act(cm);
}

static void on_timer(struct loop_timer *t)
{
	struct connmon *cm = container_of(t, struct connmon, timer);

	look(cm);
	act(cm);
}

/* ---- the object ------------------------------------------------------- */

/* Radio Signal Strength and Link Quality of a Wi-Fi interface: nl80211,
 * else /proc/net/wireless. */
static int wireless_read(struct connmon *cm, uint16_t rid, struct dm_out *out)
{
	char p[PATH_MAX], text[4096];
	int fd, level, quality;
	ssize_t n;
	struct dm_value v;

	if (!cm->cur.ifindex || cm->cur.bearer != BEARER_WLAN)
		return LWM_ENOTFOUND;
	if (nl80211_signal(cm, cm->cur.ifindex, &level) == 0) {
		v = dm_int(rid == OMA_4_RADIO_SIGNAL_STRENGTH ? level : wifi_quality(level));
		return dm_out_value(out, &v);
	}
	snprintf(p, sizeof(p), "%s/proc/net/wireless", cm->sysroot);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return LWM_ENOTFOUND;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return LWM_ENOTFOUND;
	text[n] = 0;
	if (parse_wireless(text, cm->cur.ifname, &level, &quality))
		return LWM_ENOTFOUND;   /* not associated */
	v = dm_int(rid == OMA_4_RADIO_SIGNAL_STRENGTH ? level : quality);
	return dm_out_value(out, &v);
}

static int connmon_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
			struct dm_out *out)
{
	struct connmon *cm = container_of(obj, struct connmon, obj);
	struct sockaddr_storage peer, local;
	const struct view *v = &cm->cur;
	struct dm_value val;
	size_t i;
	int rc;

	/* a new session (the config named another server): look now, and let
	 * the loop do the rest */
	if (cm->ag->coap && coapc_addrs(cm->ag->coap, &peer, &local) == 0 &&
	    !same_peer(&peer, &cm->peer)) {
		look(cm);
		loop_timer_set(cm->ag->loop, &cm->timer, 0);
	}
	switch (rid) {
	case OMA_4_NETWORK_BEARER:
		if (!v->ifindex)
			return LWM_EUNAVAIL;    /* no route to the server now */
		val = dm_int(v->bearer);
		return dm_out_value(out, &val);
	case OMA_4_AVAILABLE_NETWORK_BEARER:
		for (i = 0; i < v->navail; i++) {
			val = dm_int(v->avail[i]);
			if ((rc = dm_out_inst(out, (uint16_t)i, &val)))
				return rc;
		}
		return 0;
	case OMA_4_RADIO_SIGNAL_STRENGTH:
	case OMA_4_LINK_QUALITY:
		if (v->cellular) {
			if (!v->cell.has_signal)
				return LWM_ENOTFOUND;
			val = dm_int(rid == OMA_4_RADIO_SIGNAL_STRENGTH ? v->cell.rssi :
									  v->cell.quality);
			return dm_out_value(out, &val);
		}
		return wireless_read(cm, rid, out);
	case OMA_4_APN:
		if (!v->cellular || !v->cell.apn[0])
			return LWM_ENOTFOUND;
		val = dm_str(v->cell.apn);
		return dm_out_inst(out, 0, &val);
	case OMA_4_CELL_ID:
	case OMA_4_LAC:
		if (!v->cellular || !v->cell.has_cell)
			return LWM_ENOTFOUND;
		val = dm_int(rid == OMA_4_CELL_ID ? v->cell.cell_id : v->cell.lac);
		return dm_out_value(out, &val);
	case OMA_4_SMNC:
	case OMA_4_SMCC:
		if (!v->cellular || !v->cell.has_operator)
			return LWM_ENOTFOUND;
		val = dm_int(rid == OMA_4_SMNC ? v->cell.mnc : v->cell.mcc);
		return dm_out_value(out, &val);
	case OMA_4_IP_ADDRESSES:
		for (i = 0; i < v->naddrs; i++) {
			val = dm_str(v->addrs[i]);
			if ((rc = dm_out_inst(out, (uint16_t)i, &val)))
				return rc;
		}
		return 0;
	case OMA_4_ROUTER_IP_ADDRESSES:
		if (!v->nrouters)
			return LWM_ENOTFOUND;
		for (i = 0; i < v->nrouters; i++) {
			val = dm_str(v->routers[i]);
			if ((rc = dm_out_inst(out, (uint16_t)i, &val)))
				return rc;
		}
		return 0;
	}
	return LWM_ENOTFOUND;           /* what neither the kernel nor ModemManager knows */
}

static const struct dm_ops connmon_ops = {
	.read = connmon_read,
};

int connmon_link(struct dm_obj *obj, struct connmon_link *out)
{
	struct connmon *cm = container_of(obj, struct connmon, obj);
	struct nl_link l;

	memset(out, 0, sizeof(*out));
	if (!cm->cur.ifindex)
		return 0;
	if (!cm->rq || link_get(cm, cm->cur.ifindex, &l))
		*out = cm->link;
	else
		*out = cm->link = link_counters(&l);
	return 0;
}

void connmon_set_link_hook(struct dm_obj *obj,
			   void (*fn)(void *arg, const struct connmon_link *old,
				      const struct connmon_link *now), void *arg)
{
	struct connmon *cm = container_of(obj, struct connmon, obj);

	cm->hook = fn;
	cm->hook_arg = arg;
}

static int open_sockets(struct connmon *cm)
{
	unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			  RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	int one = 1;

	cm->ev = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	cm->rq = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!cm->ev || !cm->rq || mnl_socket_bind(cm->ev, groups, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_bind(cm->rq, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	/* dump filters (older kernels refuse the option and dump everything) */
	mnl_socket_setsockopt(cm->rq, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	cm->rq_portid = mnl_socket_get_portid(cm->rq);
	cm->lf.fd = mnl_socket_get_fd(cm->ev);
	cm->lf.events = EPOLLIN;
	cm->lf.cb = on_netlink;
	return loop_add_fd(cm->ag->loop, &cm->lf);
}

static void close_sockets(struct connmon *cm)
{
	if (cm->lf.cb)
		loop_del_fd(cm->ag->loop, &cm->lf);
	cm->lf.cb = NULL;
	if (cm->ev)
		mnl_socket_close(cm->ev);
	if (cm->rq)
		mnl_socket_close(cm->rq);
	if (cm->gq)
		mnl_socket_close(cm->gq);
	cm->ev = cm->rq = cm->gq = NULL;
	cm->nl80211 = 0;
}

struct dm_obj *connmon_obj_new(struct agent *ag)
{
	struct connmon *cm = calloc(1, sizeof(*cm));
	const char *root = getenv("LWM2MD_SYSROOT");
	int rc;

	if (!cm || !(cm->sysroot = strdup(root ? root : ""))) {
		free(cm);
		return NULL;
	}
	cm->ag = ag;
	cm->obj = (struct dm_obj){
		.oid = 4,
		.version = OMA_4_VERSION,
		.multi_inst = OMA_4_MULTI,
		.res = oma_4_res,
		.nres = sizeof(oma_4_res) / sizeof(oma_4_res[0]),
		.ops = &connmon_ops,
	};
	cm->inst.id = 0;
	dm_inst_add(&cm->obj, &cm->inst);
	cm->timer.cb = on_timer;
	rc = open_sockets(cm);
	if (rc) {
		/* the object stays, empty: a daemon without netlink still serves */
		log_warn("4/0: rtnetlink: %s; connectivity will not be monitored", strerror(-rc));
		close_sockets(cm);
	}
	/* the first look waits for the loop, when the CoAP session exists */
	if (ag->loop) {
		cm->mm = modem_open(ag->loop, on_modems, cm);
		loop_timer_set(ag->loop, &cm->timer, 0);
	}
	return &cm->obj;
}

void connmon_obj_free(struct dm_obj *obj)
{
	struct connmon *cm;

	if (!obj)
		return;
	cm = container_of(obj, struct connmon, obj);
	if (cm->ag->loop)
		loop_timer_cancel(cm->ag->loop, &cm->timer);
	modem_close(cm->mm);
	close_sockets(cm);
	free(cm->sysroot);
	free(cm);
}
