/* modem.c - ModemManager's view of the cellular modems, over D-Bus (sd-bus).
 *
 * One connection to the system bus, its fd in the loop.  Two matches keep us
 * current without polling: every signal ModemManager sends (PropertiesChanged
 * of a modem or bearer, InterfacesAdded/Removed of its ObjectManager) and
 * NameOwnerChanged of its name (started, stopped).  Any of them makes us ask
 * again, asynchronously: GetManagedObjects on the manager (the modems and
 * their interfaces' properties), then for each modem the properties of its
 * bearers and, when it has the Location interface, GetLocation (the 3GPP
 * serving cell).  When all answers are in, what the modems show is compared
 * with what they showed, and the owner hears of a change.  A newer question
 * cancels the answers still due to an older one.
 *
 * No call may start ModemManager (a D-Bus activatable service on Debian):
 * every message goes out with auto-start off.  No ModemManager on the bus
 * means no modems, said once at info level. */
#include "modem.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "dm.h"
#include "log.h"
#include "loop.h"

#define MM_NAME "org.freedesktop.ModemManager1"
#define MM_PATH "/org/freedesktop/ModemManager1"
#define MM_MODEM MM_NAME ".Modem"
#define MM_3GPP MM_NAME ".Modem.Modem3gpp"
#define MM_LOCATION MM_NAME ".Modem.Location"
#define MM_BEARER MM_NAME ".Bearer"

#define MAX_MODEMS 4
#define MAX_MBEARERS 4
#define MAX_NETS 4
#define PATH_LEN 128
#define MAX_CALLS (1 + MAX_MODEMS * (MAX_MBEARERS + 1))

/* ModemManager's enums (ModemManager-enums.h) */
enum {
	MM_STATE_REGISTERED = 8,                /* and above: searching done */
	MM_PORT_TYPE_NET = 2,
	MM_LOCATION_3GPP_LAC_CI = 1,
};
enum {
	MM_TECH_POTS = 1 << 0,
	MM_TECH_GSM = 1 << 1,
	MM_TECH_GSM_COMPACT = 1 << 2,
	MM_TECH_GPRS = 1 << 3,
	MM_TECH_EDGE = 1 << 4,
	MM_TECH_UMTS = 1 << 5,                  /* to HSPA+, 1 << 9 */
	MM_TECH_1XRTT = 1 << 10,                /* to EVDO rev B, 1 << 13 */
	MM_TECH_LTE = 1 << 14,
	MM_TECH_5GNR = 1 << 15,
	MM_TECH_LTE_CAT_M = 1 << 16,
	MM_TECH_LTE_NB_IOT = 1 << 17,
};

/* 4/0/0 values (4.xml) */
enum {
	B_GSM = 0,
	B_WCDMA = 2,
	B_CDMA2000 = 3,
	B_LTE_FDD = 6,
	B_NB_IOT = 7,
	B_5GNR_FDD = 9,
	B_CELLULAR_OTHER = 10,
};

struct mbearer {
	char path[PATH_LEN];
	char iface[MODEM_IFNAMSIZ];
	bool connected;
	char apn[MODEM_APN_LEN];
};

/* One modem as ModemManager shows it. */
struct mmodem {
	char path[PATH_LEN];
	int state;
	uint32_t tech;
	uint32_t quality;
	char op[8];                             /* MCC and MNC, "26201" */
	char nets[MAX_NETS][MODEM_IFNAMSIZ];          /* its net ports */
	size_t nnets;
	struct mbearer b[MAX_MBEARERS];
	size_t nb;
	bool has_location;
	char cell[64];                          /* "MCC,MNC,LAC,CI,TAC", hex */
};

/* One call in flight; its slot cancels it. */
struct call {
	struct modem *m;
	sd_bus_slot *slot;
	size_t mi, bi;
};

struct modem {
	sd_bus *bus;
	struct loop *loop;
	struct loop_fd lf;
	struct loop_timer again;                /* ask ModemManager again */
	struct loop_timer bus_timer;            /* sd-bus's own deadlines */
	sd_bus_slot *match_mm, *match_owner;
	void (*changed)(void *arg);
	void *arg;
	struct call calls[MAX_CALLS];
	size_t pending;
	struct mmodem cur[MAX_MODEMS], next[MAX_MODEMS];
	size_t ncur, nnext;
	bool said_absent;                       /* "no ModemManager" was logged */
};

/* ---- pure ------------------------------------------------------------- */

int modem_bearer_of(uint32_t t)
{
	/* the newest technology in the mask is the one in use */
	if (t & MM_TECH_LTE_NB_IOT)
		return B_NB_IOT;
	if (t & MM_TECH_5GNR)
		return B_5GNR_FDD;              /* duplex mode unknown: FDD, the common one */
	if (t & (MM_TECH_LTE | MM_TECH_LTE_CAT_M))
		return B_LTE_FDD;               /* likewise */
	if (t & (0xfu << 10))
		return B_CDMA2000;
	if (t & (0x1fu << 5))
		return B_WCDMA;
	if (t & (MM_TECH_GSM | MM_TECH_GSM_COMPACT | MM_TECH_GPRS | MM_TECH_EDGE))
		return B_GSM;
	if (t & MM_TECH_POTS)
		return B_CELLULAR_OTHER;
	return -1;
}

/* "26201" into MCC 262, MNC 1; false if it is not 5 or 6 digits. */
static bool parse_operator(const char *op, int *mcc, int *mnc)
{
	size_t n = strlen(op);

	if ((n != 5 && n != 6) || strspn(op, "0123456789") != n)
		return false;
	*mcc = (op[0] - '0') * 100 + (op[1] - '0') * 10 + (op[2] - '0');
	*mnc = atoi(op + 3);
	return true;
}

/* ModemManager's 3GPP location, "MCC,MNC,LAC,CI,TAC" with hex LAC, CI, TAC. */
static bool parse_cell(const char *s, uint32_t *lac, uint32_t *ci)
{
	unsigned mcc, mnc, l, c, tac = 0;

	if (sscanf(s, "%u,%u,%x,%x,%x", &mcc, &mnc, &l, &c, &tac) < 4 || !c)
		return false;
	*lac = l ? l : tac;                     /* LTE: the tracking area code */
	*ci = c;
	return true;
}

static void fill_info(const struct mmodem *md, struct modem_info *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->bearer = modem_bearer_of(md->tech);
	if (md->quality > 0 && md->quality <= 100) {
		/* SignalQuality is ModemManager's percentage of the 3GPP 27.007
		 * CSQ scale (0..31, -113 + 2n dBm): back to that scale */
		out->has_signal = true;
		out->quality = (int)md->quality;
		out->rssi = -113 + 2 * (int)((md->quality * 31 + 50) / 100);
	}
	out->has_operator = parse_operator(md->op, &out->mcc, &out->mnc);
	out->has_cell = parse_cell(md->cell, &out->lac, &out->cell_id);
	for (i = 0; i < md->nb; i++) {
		if (md->b[i].connected && md->b[i].apn[0]) {
			snprintf(out->apn, sizeof(out->apn), "%s", md->b[i].apn);
			break;
		}
	}
}

int modem_find(const struct modem *m, const char *ifname, struct modem_info *out)
{
	size_t i, j;

	for (i = 0; m && i < m->ncur; i++) {
		const struct mmodem *md = &m->cur[i];
		bool found = false;

		for (j = 0; j < md->nb && !found; j++)
			found = md->b[j].connected && !strcmp(md->b[j].iface, ifname);
		for (j = 0; j < md->nnets && !found; j++)
			found = !strcmp(md->nets[j], ifname);
		if (found) {
			fill_info(md, out);
			return 0;
		}
	}
	return -ENOENT;
}

size_t modem_bearers(const struct modem *m, int *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; m && i < m->ncur && n < max; i++) {
		int b = modem_bearer_of(m->cur[i].tech);

		if (m->cur[i].state >= MM_STATE_REGISTERED && b >= 0)
			out[n++] = b;
	}
	return n;
}

/* ---- reading answers -------------------------------------------------- */

static int read_str(sd_bus_message *msg, char *out, size_t size)
{
	const char *s;
	int r = sd_bus_message_read(msg, "v", "s", &s);

	if (r >= 0)
		snprintf(out, size, "%s", s);
	return r;
}

static int read_ports(sd_bus_message *msg, struct mmodem *md)
{
	const char *name;
	uint32_t type;
	int r;

	if ((r = sd_bus_message_enter_container(msg, 'v', "a(su)")) < 0 ||
	    (r = sd_bus_message_enter_container(msg, 'a', "(su)")) < 0)
		return r;
	while ((r = sd_bus_message_read(msg, "(su)", &name, &type)) > 0)
		if (type == MM_PORT_TYPE_NET && md->nnets < MAX_NETS)
			snprintf(md->nets[md->nnets++], MODEM_IFNAMSIZ, "%s", name);
	if (r < 0 || (r = sd_bus_message_exit_container(msg)) < 0)
		return r;
	return sd_bus_message_exit_container(msg);
}

static int read_bearer_paths(sd_bus_message *msg, struct mmodem *md)
{
	const char *path;
	int r;

	if ((r = sd_bus_message_enter_container(msg, 'v', "ao")) < 0 ||
	    (r = sd_bus_message_enter_container(msg, 'a', "o")) < 0)
		return r;
	while ((r = sd_bus_message_read(msg, "o", &path)) > 0)
		if (md->nb < MAX_MBEARERS)
			snprintf(md->b[md->nb++].path, PATH_LEN, "%s", path);
	if (r < 0 || (r = sd_bus_message_exit_container(msg)) < 0)
		return r;
	return sd_bus_message_exit_container(msg);
}

/* One property of interface iface of a modem (the current entry's key is
 * read, its variant not). */
static int read_modem_prop(sd_bus_message *msg, const char *iface, const char *key,
			   struct mmodem *md)
{
	int b;

	if (!strcmp(iface, MM_MODEM)) {
		if (!strcmp(key, "State"))
			return sd_bus_message_read(msg, "v", "i", &md->state);
		if (!strcmp(key, "AccessTechnologies"))
			return sd_bus_message_read(msg, "v", "u", &md->tech);
		if (!strcmp(key, "SignalQuality"))
			return sd_bus_message_read(msg, "v", "(ub)", &md->quality, &b);
		if (!strcmp(key, "Ports"))
			return read_ports(msg, md);
		if (!strcmp(key, "Bearers"))
			return read_bearer_paths(msg, md);
	} else if (!strcmp(iface, MM_3GPP) && !strcmp(key, "OperatorCode")) {
		return read_str(msg, md->op, sizeof(md->op));
	}
	return sd_bus_message_skip(msg, "v");
}

/* An a{sv} of interface iface into md (a modem) or b (a bearer). */
static int read_props(sd_bus_message *msg, const char *iface, struct mmodem *md,
		      struct mbearer *b)
{
	const char *key;
	int r;

	if ((r = sd_bus_message_enter_container(msg, 'a', "{sv}")) < 0)
		return r;
	while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
		if ((r = sd_bus_message_read(msg, "s", &key)) < 0)
			return r;
		if (md)
			r = read_modem_prop(msg, iface, key, md);
		else if (!strcmp(key, "Interface"))
			r = read_str(msg, b->iface, sizeof(b->iface));
		else if (!strcmp(key, "Connected")) {
			int c;

			r = sd_bus_message_read(msg, "v", "b", &c);
			b->connected = c;
		} else if (!strcmp(key, "Properties")) {
			/* the bearer's settings: only "apn" matters */
			const char *k;

			if ((r = sd_bus_message_enter_container(msg, 'v', "a{sv}")) < 0 ||
			    (r = sd_bus_message_enter_container(msg, 'a', "{sv}")) < 0)
				return r;
			while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
				if ((r = sd_bus_message_read(msg, "s", &k)) < 0)
					return r;
				r = !strcmp(k, "apn") ? read_str(msg, b->apn, sizeof(b->apn)) :
							sd_bus_message_skip(msg, "v");
				if (r < 0 || (r = sd_bus_message_exit_container(msg)) < 0)
					return r;
			}
			if (r < 0 || (r = sd_bus_message_exit_container(msg)) < 0)
				return r;
			r = sd_bus_message_exit_container(msg);
		} else
			r = sd_bus_message_skip(msg, "v");
		if (r < 0 || (r = sd_bus_message_exit_container(msg)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(msg);
}

/* ---- asking ----------------------------------------------------------- */

static void cancel_calls(struct modem *m)
{
	size_t i;

	for (i = 0; i < MAX_CALLS; i++)
		m->calls[i].slot = sd_bus_slot_unref(m->calls[i].slot);
	m->pending = 0;
}

static void finish(struct modem *m)
{
	if (m->nnext == m->ncur && !memcmp(m->next, m->cur, sizeof(m->cur)))
		return;
	log_debug("4/0: ModemManager: %zu modem(s)", m->nnext);
	memcpy(m->cur, m->next, sizeof(m->cur));
	m->ncur = m->nnext;
	if (m->changed)
		m->changed(m->arg);
}

/* One reply came (or failed): the last one finishes the round. */
static void done(struct call *c)
{
	struct modem *m = c->m;

	c->slot = sd_bus_slot_unref(c->slot);
	if (m->pending && --m->pending == 0)
		finish(m);
}

/* Calls method (no arguments, or the interface name for GetAll) on path,
 * never starting ModemManager; the answer goes to cb with calls[ci]. */
static int call(struct modem *m, size_t ci, const char *path, const char *iface,
		const char *method, const char *arg, sd_bus_message_handler_t cb)
{
	sd_bus_message *msg = NULL;
	struct call *c = &m->calls[ci];
	int r;

	r = sd_bus_message_new_method_call(m->bus, &msg, MM_NAME, path, iface, method);
	if (r >= 0)
		r = sd_bus_message_set_auto_start(msg, 0);
	if (r >= 0 && arg)
		r = sd_bus_message_append(msg, "s", arg);
	if (r >= 0)
		r = sd_bus_call_async(m->bus, &c->slot, msg, cb, c, 0);
	sd_bus_message_unref(msg);
	if (r >= 0)
		m->pending++;
	return r;
}

static int on_bearer(sd_bus_message *reply, void *data, sd_bus_error *e)
{
	struct call *c = data;
	struct mbearer *b = &c->m->next[c->mi].b[c->bi];

	if (!sd_bus_message_is_method_error(reply, NULL) &&
	    read_props(reply, MM_BEARER, NULL, b) < 0)
		log_debug("4/0: ModemManager: bearer %s: unexpected answer", b->path);
	done(c);
	return 0;
}

static int on_location(sd_bus_message *reply, void *data, sd_bus_error *e)
{
	struct call *c = data;
	struct mmodem *md = &c->m->next[c->mi];
	uint32_t source;
	int r;

	if (sd_bus_message_is_method_error(reply, NULL) ||
	    sd_bus_message_enter_container(reply, 'a', "{uv}") < 0)
		goto out;
	while ((r = sd_bus_message_enter_container(reply, 'e', "uv")) > 0) {
		if (sd_bus_message_read(reply, "u", &source) < 0)
			break;
		r = source == MM_LOCATION_3GPP_LAC_CI ? read_str(reply, md->cell, sizeof(md->cell)) :
							sd_bus_message_skip(reply, "v");
		if (r < 0 || sd_bus_message_exit_container(reply) < 0)
			break;
	}
out:
	done(c);
	return 0;
}

/* The modems and their properties: then each modem's bearers and cell. */
static int on_objects(sd_bus_message *reply, void *data, sd_bus_error *e)
{
	struct call *c = data;
	struct modem *m = c->m;
	const char *path, *iface;
	size_t i, j, ci = 1;
	int r;

	m->nnext = 0;
	memset(m->next, 0, sizeof(m->next));
	if (sd_bus_message_is_method_error(reply, NULL)) {
		const sd_bus_error *err = sd_bus_message_get_error(reply);

		if (!m->said_absent)
			log_info("4/0: no ModemManager on the system bus (%s): no cellular modems",
				 err && err->name ? err->name : "no answer");
		m->said_absent = true;
		goto out;
	}
	m->said_absent = false;
	if ((r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}")) < 0)
		goto bad;
	while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
		struct mmodem *md = &m->next[m->nnext];
		bool is_modem = false;

		memset(md, 0, sizeof(*md));
		if ((r = sd_bus_message_read(reply, "o", &path)) < 0 ||
		    (r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}")) < 0)
			goto bad;
		snprintf(md->path, sizeof(md->path), "%s", path);
		while ((r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
			if ((r = sd_bus_message_read(reply, "s", &iface)) < 0)
				goto bad;
			is_modem = is_modem || !strcmp(iface, MM_MODEM);
			md->has_location = md->has_location || !strcmp(iface, MM_LOCATION);
			if ((r = read_props(reply, iface, md, NULL)) < 0 ||
			    (r = sd_bus_message_exit_container(reply)) < 0)
				goto bad;
		}
		if (r < 0 || (r = sd_bus_message_exit_container(reply)) < 0 ||
		    (r = sd_bus_message_exit_container(reply)) < 0)
			goto bad;
		if (is_modem && m->nnext < MAX_MODEMS)
			m->nnext++;
	}
	if (r < 0)
		goto bad;
	/* the pending count stays above 0 until every call is out */
	m->pending++;
	for (i = 0; i < m->nnext; i++) {
		struct mmodem *md = &m->next[i];

		for (j = 0; j < md->nb; j++, ci++) {
			m->calls[ci].mi = i;
			m->calls[ci].bi = j;
			if (call(m, ci, md->b[j].path, "org.freedesktop.DBus.Properties", "GetAll",
				 MM_BEARER, on_bearer) < 0)
				log_debug("4/0: ModemManager: cannot ask bearer %s", md->b[j].path);
		}
		if (md->has_location) {
			m->calls[ci].mi = i;
			if (call(m, ci, md->path, MM_LOCATION, "GetLocation", NULL, on_location) < 0)
				log_debug("4/0: ModemManager: cannot ask %s's location", md->path);
			ci++;
		}
	}
	m->pending--;
	goto out;
bad:
	log_debug("4/0: ModemManager: unexpected answer to GetManagedObjects: %s", strerror(-r));
	m->nnext = 0;
	memset(m->next, 0, sizeof(m->next));
out:
	done(c);
	return 0;
}

static void ask(struct modem *m)
{
	cancel_calls(m);
	if (call(m, 0, MM_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL,
		 on_objects) < 0)
		log_debug("4/0: ModemManager: cannot ask");
}

/* ---- the bus in the loop ---------------------------------------------- */

/* err 0: we close it ourselves, nothing to say. */
static void drop_bus(struct modem *m, int err);

static void pump(struct modem *m)
{
	uint64_t usec, now;
	uint32_t ev;
	int r;

	while ((r = sd_bus_process(m->bus, NULL)) > 0)
		;
	if (r < 0) {
		drop_bus(m, r);
		return;
	}
	r = sd_bus_get_events(m->bus);
	ev = (r & POLLIN ? EPOLLIN : 0) | (r & POLLOUT ? EPOLLOUT : 0);
	if (r >= 0 && ev != m->lf.events) {
		m->lf.events = ev;
		loop_mod_fd(m->loop, &m->lf);
	}
	if (sd_bus_get_timeout(m->bus, &usec) >= 0 && usec != UINT64_MAX) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
		loop_timer_set(m->loop, &m->bus_timer, usec > now ? (usec - now + 999) / 1000 : 0);
	} else {
		loop_timer_cancel(m->loop, &m->bus_timer);
	}
}

static void on_bus(struct loop_fd *lf, uint32_t revents)
{
	pump(container_of(lf, struct modem, lf));
}

static void on_bus_timer(struct loop_timer *t)
{
	pump(container_of(t, struct modem, bus_timer));
}

static void on_again(struct loop_timer *t)
{
	struct modem *m = container_of(t, struct modem, again);

	if (!m->bus)
		return;
	ask(m);
	pump(m);
}

/* A signal of ModemManager's, or its name changed hands: ask again, once
 * for all that came in this turn. */
static int on_signal(sd_bus_message *msg, void *data, sd_bus_error *e)
{
	struct modem *m = data;

	loop_timer_set(m->loop, &m->again, 0);
	return 0;
}

static void drop_bus(struct modem *m, int err)
{
	if (err)
		log_info("4/0: system bus: %s; cellular modems are not followed", strerror(-err));
	cancel_calls(m);
	m->match_mm = sd_bus_slot_unref(m->match_mm);
	m->match_owner = sd_bus_slot_unref(m->match_owner);
	if (m->lf.cb)
		loop_del_fd(m->loop, &m->lf);
	m->lf.cb = NULL;
	loop_timer_cancel(m->loop, &m->bus_timer);
	loop_timer_cancel(m->loop, &m->again);
	m->bus = sd_bus_flush_close_unref(m->bus);
	if (m->ncur) {
		m->ncur = 0;
		memset(m->cur, 0, sizeof(m->cur));
		if (m->changed)
			m->changed(m->arg);
	}
}

struct modem *modem_open(struct loop *loop, void (*changed)(void *arg), void *arg)
{
	struct modem *m = calloc(1, sizeof(*m));
	size_t i;
	int r;

	if (!m)
		return NULL;
	m->loop = loop;
	m->changed = changed;
	m->arg = arg;
	m->again.cb = on_again;
	m->bus_timer.cb = on_bus_timer;
	for (i = 0; i < MAX_CALLS; i++)
		m->calls[i].m = m;
	r = sd_bus_open_system(&m->bus);
	if (r < 0) {
		log_info("4/0: no system bus (%s): no cellular modems", strerror(-r));
		free(m);
		return NULL;
	}
	r = sd_bus_add_match_async(m->bus, &m->match_mm, "type='signal',sender='" MM_NAME "'",
				   on_signal, NULL, m);
	if (r >= 0)
		r = sd_bus_add_match_async(m->bus, &m->match_owner,
					   "type='signal',sender='org.freedesktop.DBus',"
					   "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
					   "arg0='" MM_NAME "'", on_signal, NULL, m);
	if (r >= 0)
		r = m->lf.fd = sd_bus_get_fd(m->bus);
	if (r >= 0) {
		m->lf.events = EPOLLIN;
		m->lf.cb = on_bus;
		r = loop_add_fd(loop, &m->lf);
		if (r < 0)
			m->lf.cb = NULL;
	}
	if (r < 0) {
		drop_bus(m, r);
		free(m);
		return NULL;
	}
	loop_timer_set(loop, &m->again, 0);
	return m;
}

void modem_close(struct modem *m)
{
	if (!m)
		return;
	m->changed = NULL;
	if (m->bus)
		drop_bus(m, 0);
	free(m);
}
