/* connstat.c - Connectivity Statistics (7), version 1.0: what went over the
 * network between Start (6) and Stop (7) or the end of the Collection
 * Period (8).
 *
 * Tx Data and Rx Data (kB of 1024 bytes, rounded down) come from the kernel's
 * counters of the interface that reaches the server (the one Connectivity
 * Monitoring shows), relative to their values at Start and less the
 * link-layer headers, since the spec counts "all protocol header bytes up to
 * and including the IP header".  When another interface starts reaching the
 * server, what the old one carried is kept and counting goes on with the new
 * one.  Max Message Size and Average Message Size are about the IP datagrams
 * of lwm2md's own CoAP messages, both ways, headers included: the kernel
 * keeps no packet sizes for an interface, and an interface average
 * (bytes / packets) next to a maximum of ours could exceed it.  The SMS
 * counters are 0: lwm2md has no SMS binding.
 *
 * Start sets 0-5 to 0 and starts collecting; with a Collection Period of 0 it
 * runs until Stop, otherwise it stops by itself that many seconds later (the
 * period as it was at Start: a write applies to the next collection).  Stop
 * keeps the values.  Before the first Start everything is 0.
 *
 * The collection survives restarts: STATE_DIR/connstat.json is written at
 * Start, Stop, a write, a change of interface and exit.  Within one boot the
 * kernel's counters go on while lwm2md is down, so nothing is missed; after a
 * reboot (another boot_id) the interface is counted from zero and what the
 * old boot carried after the last save is lost. */
#include "objects.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "buf.h"
#include "cfg.h"
#include "dm.h"
#include "log.h"
#include "loop.h"
#include "oma/oma_7.h"
#include "store.h"

#define STATE_FILE "connstat.json"
#define BOOT_ID "/proc/sys/kernel/random/boot_id"

struct totals {
	uint64_t tx, rx;                /* IP bytes counted so far */
	uint64_t msgs, msg_bytes, msg_max;
};

struct connstat {
	struct dm_obj obj;
	struct dm_inst inst;
	struct agent *ag;
	struct dm_obj *connmon;         /* borrowed: registered before us, freed after */
	struct loop_timer timer;        /* the end of the collection period */
	int64_t period;                 /* resource 8, s */
	bool collecting;
	int64_t until;                  /* wall ms the collection ends; 0: at Stop */
	struct totals acc;              /* up to base (earlier interfaces, runs) */
	struct connmon_link base;       /* the interface's counters when its share began */
	bool from_zero;                 /* a reboot: count the next interface from 0 */
	char boot_id[40];
};

/* ---- counting --------------------------------------------------------- */

static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* The interface's share since base, with its counters now. */
static void add_share(struct totals *t, const struct connmon_link *base,
		      const struct connmon_link *now)
{
	if (!base->ifindex || now->ifindex != base->ifindex)
		return;
	t->tx += since(now->tx_bytes, base->tx_bytes);
	t->rx += since(now->rx_bytes, base->rx_bytes);
}

/* What resources 2-5 show now. */
static void current(struct connstat *cs, struct totals *t)
{
	struct connmon_link now;

	*t = cs->acc;
	if (!cs->collecting || !cs->connmon)
		return;
	connmon_link(cs->connmon, &now);
	add_share(t, &cs->base, &now);
}

/* ---- state file ------------------------------------------------------- */

static void read_boot_id(char *out, size_t size)
{
	ssize_t n = -1;
	int fd = open(BOOT_ID, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, out, size - 1);
		close(fd);
	}
	out[n > 0 ? n : 0] = 0;
	out[strcspn(out, "\n")] = 0;
}

static void save(struct connstat *cs)
{
	struct errbuf err;
	json_t *j;
	char *txt;

	j = json_pack("{s:I, s:b, s:I, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		      "period", (json_int_t)cs->period, "collecting", cs->collecting,
		      "until", (json_int_t)cs->until, "boot_id", cs->boot_id,
		      "ifindex", cs->base.ifindex,
		      "base_tx", (json_int_t)cs->base.tx_bytes, "base_rx", (json_int_t)cs->base.rx_bytes,
		      "tx", (json_int_t)cs->acc.tx, "rx", (json_int_t)cs->acc.rx,
		      "msgs", (json_int_t)cs->acc.msgs, "msg_bytes", (json_int_t)cs->acc.msg_bytes,
		      "msg_max", (json_int_t)cs->acc.msg_max);
	txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!txt || store_write(cs->ag->cfg->state_dir, STATE_FILE, txt, strlen(txt), &err))
		log_warn("7/0: not saved: %s", txt ? err.msg : "out of memory");
	free(txt);
}

/* Applies a parsed connstat.json to cs, or says what is wrong in err. */
static int state_apply(struct connstat *cs, json_t *j, struct errbuf *err)
{
	json_int_t period, until, ifindex, v[7];
	const char *boot;
	int collecting, i;

	if (json_unpack(j, "{s:I, s:b, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"period", &period, "collecting", &collecting, "until", &until,
			"boot_id", &boot, "ifindex", &ifindex, "base_tx", &v[0], "base_rx", &v[1],
			"tx", &v[2], "rx", &v[3], "msgs", &v[4], "msg_bytes", &v[5],
			"msg_max", &v[6]))
		return errbuf_set(err, -EINVAL, "a member is missing or of the wrong type");
	for (i = 0; i < 7; i++)
		if (v[i] < 0)
			return errbuf_set(err, -EINVAL, "a negative counter");
	if (period < 0 || until < 0 || ifindex < 0 || ifindex > 0x7fffffff)
		return errbuf_set(err, -EINVAL, "period, until or ifindex out of range");
	cs->period = period;
	cs->collecting = collecting;
	cs->until = until;
	cs->acc = (struct totals){ (uint64_t)v[2], (uint64_t)v[3], (uint64_t)v[4],
				   (uint64_t)v[5], (uint64_t)v[6] };
	if (collecting && *cs->boot_id && !strcmp(boot, cs->boot_id)) {
		/* same boot: the kernel kept counting from base meanwhile */
		cs->base = (struct connmon_link){ (int)ifindex, (uint64_t)v[0], (uint64_t)v[1] };
	} else if (collecting) {
		cs->from_zero = true;
	}
	return 0;
}

static void load(struct connstat *cs)
{
	struct errbuf err;
	json_error_t jerr;
	struct buf b;
	json_t *j;

	buf_init(&b);
	if (store_read(cs->ag->cfg->state_dir, STATE_FILE, &b, &err)) {
		buf_fini(&b);
		return;
	}
	j = json_loadb((const char *)b.p, b.len, 0, &jerr);
	buf_fini(&b);
	if (!j)
		log_warn("7/0: %s/%s: %s; statistics start afresh", cs->ag->cfg->state_dir,
			 STATE_FILE, jerr.text);
	else if (state_apply(cs, j, &err))
		log_warn("7/0: %s/%s: %s; statistics start afresh", cs->ag->cfg->state_dir,
			 STATE_FILE, err.msg);
	json_decref(j);
}

/* ---- collecting ------------------------------------------------------- */

static void changed(struct connstat *cs)
{
	struct dm_path p = dm_path_make(2, 7, 0);

	if (cs->ag->dm)
		dm_changed(cs->ag->dm, &p);
}

static void stop(struct connstat *cs, const char *why)
{
	struct totals t;

	if (!cs->collecting)
		return;
	current(cs, &t);
	cs->acc = t;
	cs->collecting = false;
	cs->until = 0;
	memset(&cs->base, 0, sizeof(cs->base));
	if (cs->ag->loop)
		loop_timer_cancel(cs->ag->loop, &cs->timer);
	log_info("7/0: collection stopped (%s): tx %llu B, rx %llu B, %llu messages", why,
		 (unsigned long long)t.tx, (unsigned long long)t.rx, (unsigned long long)t.msgs);
	save(cs);
	changed(cs);
}

static void arm(struct connstat *cs)
{
	int64_t left;

	if (!cs->ag->loop || !cs->collecting || !cs->until)
		return;
	left = cs->until - loop_wall();
	loop_timer_set(cs->ag->loop, &cs->timer, left > 0 ? (uint64_t)left : 0);
}

static void start(struct connstat *cs)
{
	memset(&cs->acc, 0, sizeof(cs->acc));
	memset(&cs->base, 0, sizeof(cs->base));
	if (cs->connmon)
		connmon_link(cs->connmon, &cs->base);
	cs->from_zero = false;
	cs->collecting = true;
	cs->until = cs->period > 0 ? loop_wall() + cs->period * 1000 : 0;
	if (cs->ag->loop)
		loop_timer_cancel(cs->ag->loop, &cs->timer);
	arm(cs);
	if (cs->period > 0)
		log_info("7/0: collecting for %lld s", (long long)cs->period);
	else
		log_info("7/0: collecting until Stop");
	save(cs);
	changed(cs);
}

static void on_period_end(struct loop_timer *t)
{
	stop(container_of(t, struct connstat, timer), "collection period over");
}

/* connmon: another interface (or none) reaches the server now. */
static void on_link(void *arg, const struct connmon_link *old, const struct connmon_link *now)
{
	struct connstat *cs = arg;
	struct totals t = { 0 };

	if (!cs->collecting)
		return;
	if (cs->base.ifindex && old->ifindex == cs->base.ifindex) {
		add_share(&t, &cs->base, old);
		cs->acc.tx += t.tx;
		cs->acc.rx += t.rx;
		cs->base = *now;
	} else if (now->ifindex != cs->base.ifindex) {
		/* at start after a reboot (from zero) or an interface that
		 * vanished while we were down */
		cs->base = *now;
		if (cs->from_zero)
			cs->base.tx_bytes = cs->base.rx_bytes = 0;
	}
	cs->from_zero = false;
	save(cs);
}

/* coap.c: one of our CoAP messages went out or came in. */
static void on_msg(void *arg, size_t ip_len, bool tx)
{
	struct connstat *cs = arg;

	if (!cs->collecting)
		return;
	cs->acc.msgs++;
	cs->acc.msg_bytes += ip_len;
	if (ip_len > cs->acc.msg_max)
		cs->acc.msg_max = ip_len;
}

/* ---- the object ------------------------------------------------------- */

static int connstat_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
			 struct dm_out *out)
{
	struct connstat *cs = container_of(obj, struct connstat, obj);
	struct dm_value v;
	struct totals t;

	current(cs, &t);
	switch (rid) {
	case OMA_7_SMS_TX_COUNTER:
	case OMA_7_SMS_RX_COUNTER:
		v = dm_int(0);
		break;
	case OMA_7_TX_DATA:
		v = dm_int((int64_t)(t.tx / 1024));
		break;
	case OMA_7_RX_DATA:
		v = dm_int((int64_t)(t.rx / 1024));
		break;
	case OMA_7_MAX_MESSAGE_SIZE:
		v = dm_int((int64_t)t.msg_max);
		break;
	case OMA_7_AVERAGE_MESSAGE_SIZE:
		v = dm_int(t.msgs ? (int64_t)(t.msg_bytes / t.msgs) : 0);
		break;
	case OMA_7_COLLECTION_PERIOD:
		v = dm_int(cs->period);
		break;
	default:
		return LWM_ENOTFOUND;
	}
	return dm_out_value(out, &v);
}

static int connstat_write(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, uint16_t riid,
			  const struct dm_value *v)
{
	struct connstat *cs = container_of(obj, struct connstat, obj);

	if (rid != OMA_7_COLLECTION_PERIOD)
		return LWM_ENOTALLOWED;
	if (v->i < 0 || v->i > INT32_MAX)
		return LWM_EBADREQ;
	cs->period = v->i;
	save(cs);
	return 0;
}

static int connstat_execute(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
			    const char *args, size_t len)
{
	struct connstat *cs = container_of(obj, struct connstat, obj);

	switch (rid) {
	case OMA_7_START:
		start(cs);
		return 0;
	case OMA_7_STOP:
		stop(cs, "Stop");
		return 0;
	}
	return LWM_ENOTALLOWED;
}

static const struct dm_ops connstat_ops = {
	.read = connstat_read,
	.write = connstat_write,
	.execute = connstat_execute,
};

struct dm_obj *connstat_obj_new(struct agent *ag)
{
	struct connstat *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return NULL;
	cs->ag = ag;
	cs->obj = (struct dm_obj){
		.oid = 7,
		.version = OMA_7_VERSION,
		.multi_inst = OMA_7_MULTI,
		.res = oma_7_res,
		.nres = sizeof(oma_7_res) / sizeof(oma_7_res[0]),
		.ops = &connstat_ops,
	};
	cs->inst.id = 0;
	dm_inst_add(&cs->obj, &cs->inst);
	cs->timer.cb = on_period_end;
	read_boot_id(cs->boot_id, sizeof(cs->boot_id));
	cs->connmon = ag->dm ? dm_find_obj(ag->dm, 4) : NULL;
	if (cs->connmon)
		connmon_set_link_hook(cs->connmon, on_link, cs);
	else
		log_warn("7/0: no Connectivity Monitoring object: Tx/Rx Data stay 0");
	load(cs);
	if (cs->collecting && cs->until && cs->until <= loop_wall()) {
		/* what the interface carried between our exit and the end of
		 * the period cannot be told from what came after: left out */
		cs->collecting = false;
		cs->until = 0;
		memset(&cs->base, 0, sizeof(cs->base));
		log_info("7/0: the collection period ended while lwm2md was not running");
		save(cs);
	}
	arm(cs);
	ag->msg_hook = on_msg;
	ag->msg_hook_arg = cs;
	return &cs->obj;
}

void connstat_obj_free(struct dm_obj *obj)
{
	struct connmon_link now;
	struct connstat *cs;

	if (!obj)
		return;
	cs = container_of(obj, struct connstat, obj);
	if (cs->collecting) {
		/* fold what the interface carried; the next run goes on from here */
		if (cs->connmon) {
			connmon_link(cs->connmon, &now);
			add_share(&cs->acc, &cs->base, &now);
			cs->base = now;
		}
		save(cs);
	}
	if (cs->ag->loop)
		loop_timer_cancel(cs->ag->loop, &cs->timer);
	if (cs->connmon)
		connmon_set_link_hook(cs->connmon, NULL, NULL);
	if (cs->ag->msg_hook_arg == cs) {
		cs->ag->msg_hook = NULL;
		cs->ag->msg_hook_arg = NULL;
	}
	free(cs);
}
