/* Unit tests for objects/connmon.c: the netlink message parsers on messages
 * built here with libmnl (as the kernel lays them out), the bearer rules,
 * /proc/net/wireless, and the object's reads over a view filled by hand and
 * a fake sysfs (LWM2MD_SYSROOT). */
#include "../../../objects/connmon.c"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "dm_req.h"

/* agent_after_response() lives in main.c; reg.c (for reg_update_now) pulls
 * in server.c, which names it. */
int agent_after_response(struct agent *ag, void (*fn)(struct agent *ag, void *arg), void *arg)
{
	return -ENOSPC;
}

static uint8_t msg[8192];

/* ---- building messages ------------------------------------------------ */

static struct nlmsghdr *route_msg(unsigned char family, unsigned char dst_len,
				  unsigned char table, unsigned char type)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(msg);
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_NEWROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family;
	rtm->rtm_dst_len = dst_len;
	rtm->rtm_table = table;
	rtm->rtm_type = type;
	return nlh;
}

static void put_ip(struct nlmsghdr *nlh, uint16_t type, int family, const char *text)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(family, text, a), 1);
	mnl_attr_put(nlh, type, family == AF_INET ? 4 : 16, a);
}

static struct nlmsghdr *addr_msg(unsigned char family, int ifindex, unsigned char flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(msg);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_NEWADDR;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_index = (unsigned)ifindex;
	ifa->ifa_flags = flags;
	return nlh;
}

static struct nlmsghdr *link_msg(int ifindex, unsigned short type, unsigned flags,
				 const char *name)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(msg);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = ifindex;
	ifi->ifi_type = type;
	ifi->ifi_flags = flags;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nlh;
}

/* ---- route lookup answers --------------------------------------------- */

static void test_route_v4(void **state)
{
	struct nlmsghdr *nlh = route_msg(AF_INET, 32, RT_TABLE_MAIN, RTN_UNICAST);
	struct nl_route r;

	put_ip(nlh, RTA_DST, AF_INET, "10.202.0.1");
	mnl_attr_put_u32(nlh, RTA_OIF, 3);
	put_ip(nlh, RTA_GATEWAY, AF_INET, "10.201.0.1");
	put_ip(nlh, RTA_PREFSRC, AF_INET, "10.201.0.2");
	assert_int_equal(parse_route(nlh, &r), 0);
	assert_int_equal(r.ifindex, 3);
	assert_int_equal(r.type, RTN_UNICAST);
	assert_string_equal(r.gateway, "10.201.0.1");
	assert_string_equal(r.src, "10.201.0.2");
}

static void test_route_local_v6(void **state)
{
	struct nlmsghdr *nlh = route_msg(AF_INET6, 128, RT_TABLE_LOCAL, RTN_LOCAL);
	struct nl_route r;

	put_ip(nlh, RTA_DST, AF_INET6, "::1");
	mnl_attr_put_u32(nlh, RTA_OIF, 1);
	put_ip(nlh, RTA_PREFSRC, AF_INET6, "::1");
	assert_int_equal(parse_route(nlh, &r), 0);
	assert_int_equal(r.ifindex, 1);
	assert_int_equal(r.type, RTN_LOCAL);
	assert_string_equal(r.gateway, "");
	assert_string_equal(r.src, "::1");
}

static void test_route_bad(void **state)
{
	struct nlmsghdr *nlh = route_msg(AF_INET, 32, RT_TABLE_MAIN, RTN_UNICAST);
	struct nl_route r;

	/* no output interface */
	assert_int_equal(parse_route(nlh, &r), -EINVAL);
	/* a gateway of the wrong size is not an address; the rest stands */
	mnl_attr_put_u32(nlh, RTA_OIF, 2);
	mnl_attr_put(nlh, RTA_GATEWAY, 16, "0123456789abcdef");
	assert_int_equal(parse_route(nlh, &r), 0);
	assert_string_equal(r.gateway, "");
	/* not a route */
	nlh->nlmsg_type = RTM_NEWADDR;
	assert_int_equal(parse_route(nlh, &r), -EINVAL);
	/* shorter than its header */
	nlh = mnl_nlmsg_put_header(msg);
	nlh->nlmsg_type = RTM_NEWROUTE;
	mnl_nlmsg_put_extra_header(nlh, 4);
	assert_int_equal(parse_route(nlh, &r), -EINVAL);
	/* an oif attribute too short for a u32 */
	nlh = route_msg(AF_INET, 32, RT_TABLE_MAIN, RTN_UNICAST);
	mnl_attr_put_u16(nlh, RTA_OIF, 2);
	assert_int_equal(parse_route(nlh, &r), -EINVAL);
}

/* ---- addresses -------------------------------------------------------- */

static void test_addr(void **state)
{
	struct nlmsghdr *nlh;
	char a[ADDR_LEN];

	nlh = addr_msg(AF_INET, 3, 0);
	put_ip(nlh, IFA_ADDRESS, AF_INET, "10.201.0.2");
	put_ip(nlh, IFA_LOCAL, AF_INET, "10.201.0.2");
	assert_int_equal(parse_addr(nlh, 3, a, sizeof(a)), 1);
	assert_string_equal(a, "10.201.0.2");
	/* another interface */
	assert_int_equal(parse_addr(nlh, 4, a, sizeof(a)), 0);

	/* point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL ours */
	nlh = addr_msg(AF_INET, 5, 0);
	put_ip(nlh, IFA_ADDRESS, AF_INET, "100.64.0.1");
	put_ip(nlh, IFA_LOCAL, AF_INET, "100.64.0.2");
	assert_int_equal(parse_addr(nlh, 5, a, sizeof(a)), 1);
	assert_string_equal(a, "100.64.0.2");

	/* IPv6 has only IFA_ADDRESS */
	nlh = addr_msg(AF_INET6, 3, 0);
	put_ip(nlh, IFA_ADDRESS, AF_INET6, "fd00::2");
	assert_int_equal(parse_addr(nlh, 3, a, sizeof(a)), 1);
	assert_string_equal(a, "fd00::2");
}

static void test_addr_not_usable(void **state)
{
	struct nlmsghdr *nlh;
	char a[ADDR_LEN];

	/* duplicate address detection still running, in the 8-bit flags */
	nlh = addr_msg(AF_INET6, 3, IFA_F_TENTATIVE);
	put_ip(nlh, IFA_ADDRESS, AF_INET6, "fe80::1");
	assert_int_equal(parse_addr(nlh, 3, a, sizeof(a)), 0);
	/* IFA_FLAGS, when present, is what counts */
	nlh = addr_msg(AF_INET6, 3, IFA_F_TENTATIVE);
	put_ip(nlh, IFA_ADDRESS, AF_INET6, "fe80::1");
	mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_PERMANENT);
	assert_int_equal(parse_addr(nlh, 3, a, sizeof(a)), 1);
	nlh = addr_msg(AF_INET6, 3, 0);
	put_ip(nlh, IFA_ADDRESS, AF_INET6, "fe80::1");
	mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_DADFAILED);
	assert_int_equal(parse_addr(nlh, 3, a, sizeof(a)), 0);
	/* no address at all */
	nlh = addr_msg(AF_INET, 3, 0);
	assert_int_equal(parse_addr(nlh, 3, a, sizeof(a)), -EINVAL);
	/* an IPv4 address of IPv6 size */
	nlh = addr_msg(AF_INET, 3, 0);
	put_ip(nlh, IFA_ADDRESS, AF_INET6, "fd00::2");
	assert_int_equal(parse_addr(nlh, 3, a, sizeof(a)), -EINVAL);
}

/* ---- default routers -------------------------------------------------- */

static void test_default_gw(void **state)
{
	struct nlmsghdr *nlh;
	char a[ADDR_LEN];

	nlh = route_msg(AF_INET, 0, RT_TABLE_MAIN, RTN_UNICAST);
	mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
	mnl_attr_put_u32(nlh, RTA_OIF, 2);
	put_ip(nlh, RTA_GATEWAY, AF_INET, "192.0.2.1");
	assert_int_equal(parse_default_gw(nlh, 2, a, sizeof(a)), 1);
	assert_string_equal(a, "192.0.2.1");
	assert_int_equal(parse_default_gw(nlh, 3, a, sizeof(a)), 0);

	/* not a default route */
	nlh = route_msg(AF_INET, 24, RT_TABLE_MAIN, RTN_UNICAST);
	mnl_attr_put_u32(nlh, RTA_OIF, 2);
	put_ip(nlh, RTA_GATEWAY, AF_INET, "192.0.2.1");
	assert_int_equal(parse_default_gw(nlh, 2, a, sizeof(a)), 0);

	/* another table, even when rtm_table says main: RTA_TABLE wins */
	nlh = route_msg(AF_INET6, 0, RT_TABLE_MAIN, RTN_UNICAST);
	mnl_attr_put_u32(nlh, RTA_TABLE, 1000);
	mnl_attr_put_u32(nlh, RTA_OIF, 2);
	put_ip(nlh, RTA_GATEWAY, AF_INET6, "fe80::1");
	assert_int_equal(parse_default_gw(nlh, 2, a, sizeof(a)), 0);

	/* on-link default route: no router */
	nlh = route_msg(AF_INET, 0, RT_TABLE_MAIN, RTN_UNICAST);
	mnl_attr_put_u32(nlh, RTA_OIF, 2);
	assert_int_equal(parse_default_gw(nlh, 2, a, sizeof(a)), 0);

	/* unreachable default */
	nlh = route_msg(AF_INET, 0, RT_TABLE_MAIN, RTN_UNREACHABLE);
	assert_int_equal(parse_default_gw(nlh, 2, a, sizeof(a)), 0);
}

/* One nexthop of a multipath route, with a gateway attribute inside. */
static size_t put_hop(uint8_t *p, int ifindex, int family, const char *gw)
{
	struct rtnexthop *nh = (struct rtnexthop *)p;
	struct nlattr *a = (struct nlattr *)(p + RTNH_LENGTH(0));
	size_t alen = family == AF_INET ? 4 : 16;

	memset(nh, 0, sizeof(*nh));
	nh->rtnh_ifindex = ifindex;
	a->nla_type = RTA_GATEWAY;
	a->nla_len = (uint16_t)(MNL_ATTR_HDRLEN + alen);
	assert_int_equal(inet_pton(family, gw, (uint8_t *)a + MNL_ATTR_HDRLEN), 1);
	nh->rtnh_len = (unsigned short)(RTNH_LENGTH(0) + MNL_ALIGN(a->nla_len));
	return RTNH_ALIGN(nh->rtnh_len);
}

static void test_default_gw_multipath(void **state)
{
	struct nlmsghdr *nlh = route_msg(AF_INET, 0, RT_TABLE_MAIN, RTN_UNICAST);
	uint8_t hops[128];
	size_t n = 0;
	char a[ADDR_LEN];

	memset(hops, 0, sizeof(hops));
	n += put_hop(hops + n, 2, AF_INET, "192.0.2.1");
	n += put_hop(hops + n, 7, AF_INET, "198.51.100.1");
	mnl_attr_put(nlh, RTA_MULTIPATH, n, hops);
	assert_int_equal(parse_default_gw(nlh, 7, a, sizeof(a)), 1);
	assert_string_equal(a, "198.51.100.1");
	assert_int_equal(parse_default_gw(nlh, 2, a, sizeof(a)), 1);
	assert_string_equal(a, "192.0.2.1");
	assert_int_equal(parse_default_gw(nlh, 9, a, sizeof(a)), 0);

	/* a hop claiming more bytes than there are is not read */
	nlh = route_msg(AF_INET, 0, RT_TABLE_MAIN, RTN_UNICAST);
	n = put_hop(hops, 2, AF_INET, "192.0.2.1");
	((struct rtnexthop *)hops)->rtnh_len = 200;
	mnl_attr_put(nlh, RTA_MULTIPATH, n, hops);
	assert_int_equal(parse_default_gw(nlh, 2, a, sizeof(a)), 0);
}

/* ---- links ------------------------------------------------------------ */

static void test_link_stats64(void **state)
{
	struct nlmsghdr *nlh = link_msg(3, ARPHRD_ETHER, IFF_UP | IFF_RUNNING, "gv0");
	struct rtnl_link_stats64 s = { .rx_packets = 10, .tx_packets = 20, .rx_bytes = 1000,
				       .tx_bytes = 5000 };
	struct connmon_link c;
	struct nl_link l;

	mnl_attr_put(nlh, IFLA_STATS64, sizeof(s), &s);
	assert_int_equal(parse_link(nlh, &l), 0);
	assert_int_equal(l.ifindex, 3);
	assert_int_equal(l.type, ARPHRD_ETHER);
	assert_true(l.flags & IFF_RUNNING);
	assert_string_equal(l.name, "gv0");
	assert_true(l.has_stats);
	assert_int_equal(l.rx_bytes, 1000);
	assert_int_equal(l.tx_bytes, 5000);
	/* IP bytes: 14 bytes of Ethernet header off every packet */
	c = link_counters(&l);
	assert_int_equal(c.ifindex, 3);
	assert_int_equal(c.tx_bytes, 5000 - 20 * 14);
	assert_int_equal(c.rx_bytes, 1000 - 10 * 14);
}

static void test_link_old_stats(void **state)
{
	struct rtnl_link_stats64 s64 = { .rx_packets = 1, .tx_packets = 2, .rx_bytes = 300,
					 .tx_bytes = 400 };
	struct rtnl_link_stats s32 = { .rx_packets = 5, .tx_packets = 6, .rx_bytes = 70,
				       .tx_bytes = 80 };
	struct nlmsghdr *nlh;
	struct nl_link l;

	/* an older kernel's shorter struct: the first counters are there */
	nlh = link_msg(2, ARPHRD_NONE, IFF_UP, "wwan0");
	mnl_attr_put(nlh, IFLA_STATS64, 4 * sizeof(uint64_t), &s64);
	assert_int_equal(parse_link(nlh, &l), 0);
	assert_true(l.has_stats);
	assert_int_equal(l.tx_bytes, 400);
	assert_int_equal(link_counters(&l).tx_bytes, 400);     /* raw IP: no header */
	/* too short to hold them */
	nlh = link_msg(2, ARPHRD_NONE, IFF_UP, "wwan0");
	mnl_attr_put(nlh, IFLA_STATS64, 8, &s64);
	assert_int_equal(parse_link(nlh, &l), 0);
	assert_false(l.has_stats);
	/* 32-bit counters only */
	nlh = link_msg(2, ARPHRD_PPP, IFF_UP, "ppp0");
	mnl_attr_put(nlh, IFLA_STATS, sizeof(s32), &s32);
	assert_int_equal(parse_link(nlh, &l), 0);
	assert_true(l.has_stats);
	assert_int_equal(l.rx_packets, 5);
	assert_int_equal(l.tx_bytes, 80);
}

static void test_link_bad(void **state)
{
	struct nlmsghdr *nlh;
	struct nl_link l;

	nlh = link_msg(2, ARPHRD_ETHER, 0, NULL);
	assert_int_equal(parse_link(nlh, &l), -EINVAL);         /* no name */
	nlh = link_msg(2, ARPHRD_ETHER, 0, NULL);
	mnl_attr_put(nlh, IFLA_IFNAME, 4, "eth0");              /* no NUL */
	assert_int_equal(parse_link(nlh, &l), -EINVAL);
	nlh = link_msg(2, ARPHRD_ETHER, 0, "eth0");
	nlh->nlmsg_type = RTM_DELLINK;
	assert_int_equal(parse_link(nlh, &l), -EINVAL);
}

static void test_headers(void **state)
{
	assert_int_equal(link_header(ARPHRD_ETHER), 14);
	assert_int_equal(link_header(ARPHRD_LOOPBACK), 14);
	assert_int_equal(link_header(ARPHRD_NONE), 0);
	assert_int_equal(link_header(ARPHRD_PPP), 0);
	assert_int_equal(minus_headers(1000, 10, 14), 860);
	assert_int_equal(minus_headers(100, 10, 14), 0);        /* never below 0 */
}

/* ---- bearers ---------------------------------------------------------- */

static void test_bearer_rules(void **state)
{
	assert_int_equal(bearer_of(ARPHRD_ETHER, "", false), 41);
	assert_int_equal(bearer_of(ARPHRD_ETHER, "", true), 21);        /* wireless dir */
	assert_int_equal(bearer_of(ARPHRD_ETHER, "wlan", false), 21);
	assert_int_equal(bearer_of(ARPHRD_NONE, "wwan", false), 10);
	assert_int_equal(bearer_of(ARPHRD_ETHER, "wwan", false), 10);   /* qmi in 802.3 mode */
	assert_int_equal(bearer_of(ARPHRD_ETHER, "bluetooth", false), 22);
	assert_int_equal(bearer_of(ARPHRD_IEEE802154, "", false), 23);
	assert_int_equal(bearer_of(ARPHRD_6LOWPAN, "", false), 23);
	assert_int_equal(bearer_of(ARPHRD_LOOPBACK, "", false), 44);
	assert_int_equal(bearer_of(ARPHRD_NONE, "", false), 44);
	assert_int_equal(bearer_of(ARPHRD_PPP, "", false), 44);
}

static void test_bearer_list(void **state)
{
	struct view v = { 0 };
	int i;

	bearer_add(&v, 41);
	bearer_add(&v, 21);
	bearer_add(&v, 41);
	bearer_add(&v, 44);
	bearer_add(&v, 10);
	assert_int_equal(v.navail, 4);
	assert_int_equal(v.avail[0], 10);
	assert_int_equal(v.avail[1], 21);
	assert_int_equal(v.avail[2], 41);
	assert_int_equal(v.avail[3], 44);
	for (i = 0; i < 20; i++)
		bearer_add(&v, i);
	assert_int_equal(v.navail, MAX_BEARERS);
	for (i = 1; i < MAX_BEARERS; i++)
		assert_true(v.avail[i - 1] < v.avail[i]);
}

static void test_address_list(void **state)
{
	char list[3][ADDR_LEN];
	size_t n = 0;

	list_add(list, &n, 3, "10.0.0.1");
	list_add(list, &n, 3, "10.0.0.1");
	list_add(list, &n, 3, "10.0.0.2");
	list_add(list, &n, 3, "fd00::1");
	list_add(list, &n, 3, "fd00::2");
	assert_int_equal(n, 3);
	assert_string_equal(list[0], "10.0.0.1");
	assert_string_equal(list[2], "fd00::1");
}

/* ---- /proc/net/wireless ----------------------------------------------- */

static const char wireless_text[] =
	"Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
	" face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
	"wlan01: 0000   10.  -90.  -256        0      0      0      0      0        0\n"
	" wlan0: 0000   54.  -56.  -256        0      0      0      3     12        0\n";

static void test_wireless(void **state)
{
	int level = 0, quality = 0;

	assert_int_equal(parse_wireless(wireless_text, "wlan0", &level, &quality), 0);
	assert_int_equal(level, -56);
	assert_int_equal(quality, 54);
	assert_int_equal(parse_wireless(wireless_text, "wlan01", &level, &quality), 0);
	assert_int_equal(level, -90);
	assert_int_equal(parse_wireless(wireless_text, "wlan1", &level, &quality), -ENOENT);
	assert_int_equal(parse_wireless("", "wlan0", &level, &quality), -ENOENT);
	assert_int_equal(parse_wireless(" wlan0: junk\n", "wlan0", &level, &quality), -EINVAL);
	/* without the "updated" dots */
	assert_int_equal(parse_wireless("wlan2: 0000   33   -71   -256  0 0 0 0 0 0\n", "wlan2",
					&level, &quality), 0);
	assert_int_equal(level, -71);
	assert_int_equal(quality, 33);
}

/* ---- the object, over a fake system ----------------------------------- */

struct fixture {
	struct agent ag;
	struct cfg cfg;
	struct dm_obj *obj;
	struct connmon *cm;
	struct dm_recs recs;
	char root[64];
};

static void put_file(const char *root, const char *path, const char *text)
{
	char p[PATH_MAX], *slash;
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", root, path);
	for (slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(p, 0755);
		*slash = '/';
	}
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->root, "/tmp/lwm2md-connmon-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	put_file(f->root, "/sys/class/net/wlan0/wireless/status", "0\n");
	put_file(f->root, "/sys/class/net/wlan0/uevent", "DEVTYPE=wlan\nINTERFACE=wlan0\n");
	put_file(f->root, "/sys/class/net/wwan0/uevent", "DEVTYPE=wwan\nINTERFACE=wwan0\n");
	put_file(f->root, "/sys/class/net/eth0/uevent", "INTERFACE=eth0\nIFINDEX=2\n");
	put_file(f->root, "/proc/net/wireless", wireless_text);
	setenv("LWM2MD_SYSROOT", f->root, 1);
	f->cfg.server.uri = (char *)"coap://192.0.2.9";
	f->ag.cfg = &f->cfg;
	f->ag.loop = loop_new();
	f->ag.dm = dm_new();
	assert_non_null(f->ag.loop);
	assert_non_null(f->ag.dm);
	f->obj = connmon_obj_new(&f->ag);
	assert_non_null(f->obj);
	assert_int_equal(dm_register(f->ag.dm, f->obj), 0);
	f->cm = container_of(f->obj, struct connmon, obj);
	dm_recs_init(&f->recs);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dm_recs_fini(&f->recs);
	dm_unregister(f->ag.dm, f->obj);
	connmon_obj_free(f->obj);
	dm_free(f->ag.dm);
	loop_free(f->ag.loop);
	nftw(f->root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	unsetenv("LWM2MD_SYSROOT");
	free(f);
	return 0;
}

static int rd(struct fixture *f, uint16_t rid)
{
	struct dm_path p = { .id = { 4, 0, rid }, .len = 3 };

	dm_recs_fini(&f->recs);
	dm_recs_init(&f->recs);
	return dm_read(f->ag.dm, &p, false, &f->recs);
}

static void assert_rec_str(struct fixture *f, size_t i, const char *want)
{
	assert_true(i < f->recs.n);
	assert_int_equal(f->recs.r[i].v.type, DM_T_STRING);
	assert_int_equal(f->recs.r[i].v.bytes.len, strlen(want));
	assert_memory_equal(f->recs.r[i].v.bytes.p, want, strlen(want));
}

static void test_sysfs_kinds(void **state)
{
	struct fixture *f = *state;
	struct nl_link l = { .type = ARPHRD_ETHER };

	strcpy(l.name, "wlan0");
	assert_int_equal(link_bearer(f->cm, &l), 21);
	strcpy(l.name, "eth0");
	assert_int_equal(link_bearer(f->cm, &l), 41);
	strcpy(l.name, "nosuch0");
	assert_int_equal(link_bearer(f->cm, &l), 41);
	strcpy(l.name, "wwan0");
	l.type = ARPHRD_NONE;
	assert_int_equal(link_bearer(f->cm, &l), 10);
}

static void test_read_no_route(void **state)
{
	struct fixture *f = *state;

	/* no CoAP session, so no server to find a route to */
	assert_int_equal(rd(f, OMA_4_NETWORK_BEARER), LWM_EUNAVAIL);
	assert_int_equal(rd(f, OMA_4_IP_ADDRESSES), 0);
	assert_int_equal(f->recs.n, 0);
	assert_int_equal(rd(f, OMA_4_ROUTER_IP_ADDRESSES), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_4_RADIO_SIGNAL_STRENGTH), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_4_APN), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_4_CELL_ID), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_4_LINK_UTILIZATION), LWM_ENOTFOUND);
}

static void test_read_wifi(void **state)
{
	struct fixture *f = *state;
	struct view *v = &f->cm->cur;
	struct dm_path p = { .id = { 4, 0 }, .len = 2 };

	v->ifindex = 4;
	strcpy(v->ifname, "wlan0");
	v->bearer = 21;
	strcpy(v->src, "192.168.1.20");
	v->naddrs = 2;
	strcpy(v->addrs[0], "192.168.1.20");
	strcpy(v->addrs[1], "fd00::20");
	v->nrouters = 1;
	strcpy(v->routers[0], "192.168.1.1");
	v->navail = 2;
	v->avail[0] = 21;
	v->avail[1] = 41;

	assert_int_equal(rd(f, OMA_4_NETWORK_BEARER), 0);
	assert_int_equal(f->recs.r[0].v.i, 21);
	assert_int_equal(rd(f, OMA_4_RADIO_SIGNAL_STRENGTH), 0);
	assert_int_equal(f->recs.r[0].v.i, -56);
	assert_int_equal(rd(f, OMA_4_LINK_QUALITY), 0);
	assert_int_equal(f->recs.r[0].v.i, 54);
	assert_int_equal(rd(f, OMA_4_IP_ADDRESSES), 0);
	assert_int_equal(f->recs.n, 2);
	assert_int_equal(f->recs.r[1].path.id[3], 1);
	assert_rec_str(f, 0, "192.168.1.20");
	assert_rec_str(f, 1, "fd00::20");
	assert_int_equal(rd(f, OMA_4_ROUTER_IP_ADDRESSES), 0);
	assert_rec_str(f, 0, "192.168.1.1");
	assert_int_equal(rd(f, OMA_4_AVAILABLE_NETWORK_BEARER), 0);
	assert_int_equal(f->recs.n, 2);
	assert_int_equal(f->recs.r[1].v.i, 41);

	/* an instance read leaves out only what is absent */
	dm_recs_fini(&f->recs);
	dm_recs_init(&f->recs);
	assert_int_equal(dm_read(f->ag.dm, &p, false, &f->recs), 0);
	assert_int_equal(f->recs.n, 1 + 2 + 1 + 1 + 2 + 1);

	/* not associated: no line for it */
	strcpy(v->ifname, "wlan1");
	assert_int_equal(rd(f, OMA_4_RADIO_SIGNAL_STRENGTH), LWM_ENOTFOUND);
	/* Ethernet has no radio */
	strcpy(v->ifname, "wlan0");
	v->bearer = 41;
	assert_int_equal(rd(f, OMA_4_LINK_QUALITY), LWM_ENOTFOUND);
}

/* The real kernel: a server on 127.0.0.1 is reached through lo from
 * 127.0.0.1, one query after another on the same socket. */
static void test_kernel_loopback(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_storage peer = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&peer;
	struct connmon_link link;
	struct view v;
	int i;

	sin->sin_family = AF_INET;
	sin->sin_port = htons(5683);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 3; i++) {
		find_view(f->cm, &peer, 40000, &v, &link);
		assert_true(v.ifindex > 0);
		assert_string_equal(v.ifname, "lo");
		assert_int_equal(v.bearer, 44);
		assert_string_equal(v.src, "127.0.0.1");
		assert_true(v.naddrs >= 1);
		assert_string_equal(v.addrs[0], "127.0.0.1");
		assert_int_equal(v.nrouters, 0);
		assert_int_equal(link.ifindex, v.ifindex);
	}
	/* nothing routes to an unspecified peer */
	memset(&peer, 0, sizeof(peer));
	find_view(f->cm, &peer, 0, &v, &link);
	assert_int_equal(v.ifindex, 0);
	assert_int_equal(v.naddrs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_v4),
		cmocka_unit_test(test_route_local_v6),
		cmocka_unit_test(test_route_bad),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_addr_not_usable),
		cmocka_unit_test(test_default_gw),
		cmocka_unit_test(test_default_gw_multipath),
		cmocka_unit_test(test_link_stats64),
		cmocka_unit_test(test_link_old_stats),
		cmocka_unit_test(test_link_bad),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_bearer_rules),
		cmocka_unit_test(test_bearer_list),
		cmocka_unit_test(test_address_list),
		cmocka_unit_test(test_wireless),
		cmocka_unit_test_setup_teardown(test_sysfs_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_no_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_wifi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_loopback, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
