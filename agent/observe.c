/* observe.c - observations and the decision when to notify.
 *
 * Each observation has one loop timer, set to the next moment something can
 * happen: the end of pmin when a change waits, pmax, or the next epmax
 * evaluation.  A change (obs_changed from a write or a sample) is recorded
 * and decided at once if pmin has passed.  A notification goes out only when
 * its content differs from the last one (or pmax is due), and for a numeric
 * resource with gt/lt/st only when a threshold was crossed or the value
 * moved by st since the last notification.  Observations with nothing to
 * wait for have no timer armed: an idle observation costs no wakeups. */
#include "observe.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "attr.h"
#include "buf.h"
#include "cfg.h"
#include "coap.h"
#include "codec.h"
#include "dm_req.h"
#include "log.h"
#include "loop.h"
#include "reg.h"
#include "send.h"
#include "store.h"

struct obs {
	struct obs_mgr *m;
	struct loop_timer timer;
	uint8_t token[8];
	size_t toklen;
	struct dm_path paths[OBS_MAX_PATHS];
	size_t npaths;
	bool composite;
	int format;
	uint32_t seq;
	uint64_t last_sent, last_eval;
	uint64_t last_hash;             /* of the last notification's payload */
	double last_val[OBS_MAX_PATHS]; /* numeric value of each path last notified */
	bool has_val[OBS_MAX_PATHS];
	uint32_t changed;               /* bit j: paths[j] changed since the last decision */
	bool dirty;                     /* a change waits for pmin */
	bool used;
};

struct obs_mgr {
	struct agent *ag;
	struct obs *o;          /* cap slots, never moved: timers point into them */
	size_t cap;
	size_t hi;              /* slots from hi on are all free */
	size_t n;
};

#define OBS_FILE "observations.json"

static void eval(struct obs *o, bool changed);

/* Rewrites observations.json: a daemon restarted within the registration's
 * lifetime carries on notifying the same tokens. */
static void save(struct obs_mgr *m)
{
	json_t *arr = json_array();
	struct errbuf err;
	char *txt, hex[17], p[32];
	size_t i, j, k;

	if (!arr)
		return;
	for (i = 0; i < m->hi; i++) {
		const struct obs *o = &m->o[i];
		json_t *paths = json_array();

		if (!o->used) {
			json_decref(paths);
			continue;
		}
		for (k = 0; k < o->toklen; k++)
			snprintf(hex + 2 * k, 3, "%02x", o->token[k]);
		hex[2 * o->toklen] = 0;
		for (j = 0; j < o->npaths; j++)
			json_array_append_new(paths, json_string(dm_path_str(&o->paths[j], p,
									      sizeof(p))));
		json_array_append_new(arr, json_pack("{s:s, s:o, s:b, s:i, s:i}", "token", hex,
						     "paths", paths, "composite", o->composite,
						     "format", o->format, "seq", (int)o->seq));
	}
	txt = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (txt && store_write(m->ag->cfg->state_dir, OBS_FILE, txt, strlen(txt), &err))
		log_warn("observations: %s", err.msg);
	free(txt);
}

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	while (len--) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return h;
}

static void describe(const struct obs *o, char *s, size_t size)
{
	size_t i, n = 0;
	char p[32];

	s[0] = 0;
	for (i = 0; i < o->npaths && n < size; i++) {
		dm_path_str(&o->paths[i], p, sizeof(p));
		n += (size_t)snprintf(s + n, size - n, "%s%s", i ? "," : "", p);
	}
}

static struct obs *find(struct obs_mgr *m, const uint8_t *token, size_t toklen)
{
	size_t i;

	for (i = 0; i < m->hi; i++)
		if (m->o[i].used && m->o[i].toklen == toklen &&
		    !memcmp(m->o[i].token, token, toklen))
			return &m->o[i];
	return NULL;
}

static void drop(struct obs *o, const char *why)
{
	char s[128];

	describe(o, s, sizeof(s));
	log_info("observation of %s ended: %s", s, why);
	loop_timer_cancel(o->m->ag->loop, &o->timer);
	o->used = false;
	o->m->n--;
	while (o->m->hi && !o->m->o[o->m->hi - 1].used)
		o->m->hi--;
	save(o->m);
}

/* The attributes of one observed path: its own, inherited, the defaults. */
static void path_attrs(const struct obs *o, size_t j, struct attrs *a)
{
	const struct cfg_server *s = &o->m->ag->cfg->server;

	attr_effective(o->m->ag->attrs, &o->paths[j], s->default_pmin, s->default_pmax, a);
}

/* Folds one path's period v into out: the largest wins (pmin, epmin), or
 * the smallest that is not 0 (pmax, epmax; 0 means none). */
static void fold(struct attrs *out, unsigned bit, const struct attrs *a, uint32_t v,
		 uint32_t *dst, bool largest)
{
	if (!(a->set & bit) || (!largest && !v))
		return;
	if (!(out->set & bit) || (largest ? v > *dst : v < *dst))
		*dst = v;
	out->set |= bit;
}

/* A composite notification carries every path at once, so it honours the
 * attributes of all of them: none sooner than the largest pmin (epmin)
 * allows, one at least every smallest pmax (epmax), confirmable if any
 * path's notifications are (LwM2M 1.2 7.3.2).  A pmax below that pmin
 * waits for it.  gt/lt/st/edge stay with their paths (conditions_met). */
static void effective(struct obs *o, struct attrs *out)
{
	bool con = false;
	struct attrs a;
	size_t j;

	if (!o->composite) {
		path_attrs(o, 0, out);
		return;
	}
	memset(out, 0, sizeof(*out));
	for (j = 0; j < o->npaths; j++) {
		path_attrs(o, j, &a);
		fold(out, ATTR_PMIN, &a, a.pmin, &out->pmin, true);
		fold(out, ATTR_EPMIN, &a, a.epmin, &out->epmin, true);
		fold(out, ATTR_PMAX, &a, a.pmax, &out->pmax, false);
		fold(out, ATTR_EPMAX, &a, a.epmax, &out->epmax, false);
		con = con || ((a.set & ATTR_CON) ? a.con : o->m->ag->cfg->server.confirmable_notifications);
	}
	out->con = con;
	out->set |= ATTR_CON;
	if ((out->set & ATTR_PMAX) && out->pmax < out->pmin)
		out->pmax = out->pmin;
	if ((out->set & ATTR_EPMAX) && out->epmax < out->epmin)
		out->epmax = out->epmin;
}

/* The current value of paths[j] if it is a single numeric resource, for
 * gt/lt/st (and a boolean, for edge). */
static bool numeric_value(struct obs *o, size_t j, double *v)
{
	struct dm_recs recs;
	bool ok = false;

	if (o->paths[j].len < 3)
		return false;
	dm_recs_init(&recs);
	if (!dm_read(o->m->ag->dm, &o->paths[j], false, &recs) && recs.n == 1) {
		const struct dm_value *x = &recs.r[0].v;

		ok = true;
		if (x->type == DM_T_INT || x->type == DM_T_TIME)
			*v = (double)x->i;
		else if (x->type == DM_T_UINT)
			*v = (double)x->u;
		else if (x->type == DM_T_FLOAT)
			*v = x->f;
		else if (x->type == DM_T_BOOL)
			*v = x->b;      /* for edge= */
		else
			ok = false;
	}
	dm_recs_fini(&recs);
	return ok;
}

/* Whether paths[j] lets a change through (LwM2M 1.1 5.1.2): with value
 * conditions only on a crossing or a step since its last notified value;
 * without, when it changed (any: a periodic evaluation, where the content
 * comparison decides). */
static bool path_passes(struct obs *o, size_t j, bool any)
{
	struct attrs a;
	double v;

	path_attrs(o, j, &a);
	if (!(a.set & (ATTR_GT | ATTR_LT | ATTR_ST | ATTR_EDGE)) || !numeric_value(o, j, &v))
		return any || (o->changed & (1u << j));
	if (a.set & ATTR_EDGE) {
		/* 1.2 edge: only the transition to the named state counts, so
		 * every state seen is remembered, notified or not */
		bool pass = o->has_val[j] && o->last_val[j] != v && v == (a.edge ? 1 : 0);

		o->last_val[j] = v;
		o->has_val[j] = true;
		return pass;
	}
	if (!o->has_val[j])
		return true;
	if ((a.set & ATTR_GT) && ((o->last_val[j] > a.gt) != (v > a.gt)))
		return true;
	if ((a.set & ATTR_LT) && ((o->last_val[j] < a.lt) != (v < a.lt)))
		return true;
	return (a.set & ATTR_ST) && fabs(v - o->last_val[j]) >= a.st;
}

/* A composite observation notifies when any of its paths would. */
static bool conditions_met(struct obs *o)
{
	bool pass = false, any = !o->changed;
	size_t j;

	for (j = 0; j < o->npaths; j++)
		pass = path_passes(o, j, any) || pass;  /* every path: edge keeps state */
	return pass;
}

/* What was just notified becomes the base of the next gt/lt/st decision. */
static void remember_values(struct obs *o)
{
	size_t j;
	double v;

	for (j = 0; j < o->npaths; j++) {
		if (numeric_value(o, j, &v)) {
			o->last_val[j] = v;
			o->has_val[j] = true;
		}
	}
}

/* The pending change was decided (sent, unchanged or filtered out). */
static void settled(struct obs *o)
{
	o->dirty = false;
	o->changed = 0;
}

/* Reads and sends; force: send even if the content did not change (pmax). */
static void notify(struct obs *o, const struct attrs *a, bool force)
{
	struct agent *ag = o->m->ag;
	struct errbuf err = { "" };
	struct buf body;
	bool storing, online;
	uint64_t h;
	int rc;

	buf_init(&body);
	rc = dm_read_encode(ag->dm, o->paths, o->npaths, o->composite, o->format, &body, &err);
	if (rc) {
		uint8_t tok[8];
		size_t toklen = o->toklen;
		char s[128];

		/* the observed thing is gone: say so, and stop (RFC 7641 4.2) */
		memcpy(tok, o->token, toklen);
		describe(o, s, sizeof(s));
		coapc_notify(ag->coap, tok, toklen, ++o->seq, false, -rc, LWM_FMT_NONE, NULL, 0);
		drop(o, rc == LWM_ENOTFOUND ? "the path is gone" : "it can no longer be read");
		buf_fini(&body);
		return;
	}
	h = fnv1a(body.p, body.len);
	o->last_eval = loop_now();
	if (!force && h == o->last_hash && o->last_sent) {
		settled(o);
		buf_fini(&body);
		return;
	}
	o->seq = (o->seq + 1) & 0xFFFFFF;
	storing = ag->cfg->server.notification_storing;
	online = reg_state(ag->reg) == REG_REGISTERED || reg_state(ag->reg) == REG_UPDATING;
	if (online && !(storing && send_queued(ag->send))) {
		reg_wake(ag->reg);
		rc = coapc_notify(ag->coap, o->token, o->toklen, o->seq,
				  (a->set & ATTR_CON) ? a->con :
				  ag->cfg->server.confirmable_notifications,
				  COAP_RESPONSE_CODE(205), o->format, body.p, body.len);
		if (rc)         /* no route to the server (a link down): as offline */
			log_warn("notification not sent (%d)%s", rc,
				 storing ? "; queued" : "; lost (Notification Storing is off)");
	}
	/* offline, or behind what is queued (order): keep it if the server
	 * asked for that (1/0/6) */
	if ((!online || rc || send_queued(ag->send)) && storing) {
		send_store_notification(ag->send, o->token, o->toklen, o->seq, o->format, body.p,
					body.len);
		if (online)
			send_flush(ag->send);
	}
	buf_fini(&body);
	/* sent, kept or lost alike: the next one is due pmax from now (a
	 * failed one retried at once would spin the loop) */
	o->last_hash = h;
	o->last_sent = loop_now();
	settled(o);
	remember_values(o);
}

/* When a pending change may be looked at: pmin after the last
 * notification and epmin after the last evaluation. */
static uint64_t change_due(const struct obs *o, const struct attrs *a)
{
	uint64_t t = o->last_sent + (uint64_t)a->pmin * 1000;

	if (a->set & ATTR_EPMIN) {
		uint64_t e = o->last_eval + (uint64_t)a->epmin * 1000;

		t = t > e ? t : e;
	}
	return t;
}

static void rearm(struct obs *o, const struct attrs *a)
{
	uint64_t now = loop_now(), next = UINT64_MAX;

	if (o->dirty)
		next = change_due(o, a);
	if ((a->set & ATTR_PMAX) && a->pmax)
		next = next < o->last_sent + (uint64_t)a->pmax * 1000 ? next :
		       o->last_sent + (uint64_t)a->pmax * 1000;
	if ((a->set & ATTR_EPMAX) && a->epmax) {
		uint64_t e = o->last_eval + (uint64_t)a->epmax * 1000;

		next = next < e ? next : e;
	}
	if (next == UINT64_MAX)
		loop_timer_cancel(o->m->ag->loop, &o->timer);
	else
		loop_timer_set(o->m->ag->loop, &o->timer, next > now ? next - now : 0);
}

static void eval(struct obs *o, bool changed)
{
	uint64_t now = loop_now();
	struct attrs a;

	effective(o, &a);
	if (changed)
		o->dirty = true;        /* looked at once pmin and epmin allow */
	if ((a.set & ATTR_PMAX) && a.pmax && now - o->last_sent >= (uint64_t)a.pmax * 1000) {
		notify(o, &a, true);
	} else if (o->dirty && now >= change_due(o, &a)) {
		o->last_eval = now;
		if (conditions_met(o))
			notify(o, &a, false);
		else
			settled(o);
	} else if ((a.set & ATTR_EPMAX) && a.epmax &&
		   now - o->last_eval >= (uint64_t)a.epmax * 1000) {
		/* a periodic evaluation: values that change unannounced */
		o->last_eval = now;
		if (now - o->last_sent >= (uint64_t)a.pmin * 1000 && conditions_met(o))
			notify(o, &a, false);
	}
	if (o->used)
		rearm(o, &a);
}

static void on_timer(struct loop_timer *t)
{
	eval(container_of(t, struct obs, timer), false);
}

int obs_start(struct obs_mgr *m, const uint8_t *token, size_t toklen, const struct dm_path *paths,
	      size_t n, bool composite, int format, uint32_t *seq)
{
	struct obs *o = find(m, token, toklen);
	struct attrs a;
	size_t i;
	char s[128];

	if (toklen > sizeof(o->token) || n == 0 || n > OBS_MAX_PATHS)
		return LWM_EBADREQ;
	if (!o) {
		for (i = 0; i < m->cap && m->o[i].used; i++)
			;
		if (i == m->cap)
			return LWM_EINTERNAL;
		o = &m->o[i];
		m->n++;
		if (i >= m->hi)
			m->hi = i + 1;
	} else {
		loop_timer_cancel(m->ag->loop, &o->timer);
	}
	memset(o, 0, sizeof(*o));
	o->m = m;
	o->used = true;
	o->timer.cb = on_timer;
	memcpy(o->token, token, toklen);
	o->toklen = toklen;
	memcpy(o->paths, paths, n * sizeof(*paths));
	o->npaths = n;
	o->composite = composite;
	o->format = format;
	o->last_sent = o->last_eval = loop_now();
	o->seq = 2;     /* small but not 0/1, which look like register/deregister */
	*seq = o->seq;
	/* the first response carries the value: it is what was last sent */
	{
		struct buf body;
		struct errbuf err;

		buf_init(&body);
		if (!dm_read_encode(m->ag->dm, paths, n, composite, format, &body, &err))
			o->last_hash = fnv1a(body.p, body.len);
		buf_fini(&body);
	}
	remember_values(o);
	describe(o, s, sizeof(s));
	log_info("observation of %s started", s);
	effective(o, &a);
	rearm(o, &a);
	save(m);
	return 0;
}

void obs_restore(struct obs_mgr *m)
{
	struct errbuf err;
	json_error_t jerr;
	json_t *arr, *it;
	struct buf b;
	size_t i, n = 0;

	buf_init(&b);
	if (store_read(m->ag->cfg->state_dir, OBS_FILE, &b, &err)) {
		buf_fini(&b);
		return;
	}
	arr = json_loadb((const char *)b.p, b.len, 0, &jerr);
	buf_fini(&b);
	if (!json_is_array(arr)) {
		log_warn("observations: %s/%s is damaged; the server must observe again",
			 m->ag->cfg->state_dir, OBS_FILE);
		json_decref(arr);
		return;
	}
	json_array_foreach(arr, i, it) {
		struct dm_path paths[OBS_MAX_PATHS];
		const char *hex;
		json_t *jp, *x;
		int composite, format, seq;
		uint8_t tok[8];
		size_t toklen, j, np = 0;
		uint32_t s0;
		bool ok = true;

		if (json_unpack(it, "{s:s, s:o, s:b, s:i, s:i}", "token", &hex, "paths", &jp,
				"composite", &composite, "format", &format, "seq", &seq) ||
		    !json_is_array(jp) || strlen(hex) % 2 || strlen(hex) > 16) {
			log_warn("observations: entry %zu is damaged; skipped", i);
			continue;
		}
		toklen = strlen(hex) / 2;
		for (j = 0; j < toklen; j++) {
			unsigned v;

			ok = ok && sscanf(hex + 2 * j, "%2x", &v) == 1;
			tok[j] = (uint8_t)v;
		}
		json_array_foreach(jp, j, x)
			if (np < OBS_MAX_PATHS && json_is_string(x) &&
			    !dm_path_parse(json_string_value(x), &paths[np], &err))
				np++;
		if (!ok || !np || obs_start(m, tok, toklen, paths, np, composite, format, &s0))
			continue;
		/* keep the sequence growing for the server's freshness check */
		for (j = 0; j < m->hi; j++)
			if (m->o[j].used && m->o[j].toklen == toklen &&
			    !memcmp(m->o[j].token, tok, toklen))
				m->o[j].seq = (uint32_t)seq + 1;
		n++;
	}
	json_decref(arr);
	if (n)
		log_info("observations: %zu carried over from before the restart", n);
	save(m);
}

bool obs_saved_valid(struct obs_mgr *m)
{
	struct errbuf err;
	json_error_t jerr;
	struct buf b;
	json_t *arr, *it;
	bool ok;
	size_t i;
	int rc;

	buf_init(&b);
	rc = store_read(m->ag->cfg->state_dir, OBS_FILE, &b, &err);
	if (rc) {
		buf_fini(&b);
		return rc == -ENOENT;
	}
	arr = json_loadb((const char *)b.p, b.len, 0, &jerr);
	buf_fini(&b);
	ok = json_is_array(arr);
	json_array_foreach(arr, i, it) {
		json_t *jp;
		const char *hex;
		int composite, format, seq;

		if (json_unpack(it, "{s:s, s:o, s:b, s:i, s:i}", "token", &hex, "paths", &jp,
				"composite", &composite, "format", &format, "seq", &seq) ||
		    !json_is_array(jp))
			ok = false;
	}
	json_decref(arr);
	if (!ok)
		log_warn("observations: %s/%s is damaged", m->ag->cfg->state_dir, OBS_FILE);
	return ok;
}

void obs_forget_saved(struct obs_mgr *m)
{
	store_remove(m->ag->cfg->state_dir, OBS_FILE);
}

void obs_cancel(struct obs_mgr *m, const uint8_t *token, size_t toklen, const char *why)
{
	struct obs *o = find(m, token, toklen);

	if (o)
		drop(o, why);
}

void obs_cancel_all(struct obs_mgr *m, const char *why)
{
	size_t i;

	for (i = 0; i < m->hi; i++)
		if (m->o[i].used)
			drop(&m->o[i], why);
}

static bool overlaps(const struct dm_path *a, const struct dm_path *b)
{
	return dm_path_under(a, b) || dm_path_under(b, a);
}

void obs_changed(struct obs_mgr *m, const struct dm_path *path)
{
	size_t i, j;

	for (i = 0; i < m->hi; i++) {
		struct obs *o = &m->o[i];
		uint32_t hit = 0;

		if (!o->used)
			continue;
		for (j = 0; j < o->npaths; j++)
			if (overlaps(&o->paths[j], path))
				hit |= 1u << j;
		if (!hit)
			continue;
		o->changed |= hit;
		if (o->composite) {
			/* Looked at from the loop, once the code that changed the
			 * value has finished: members sampled in one pass (a
			 * sensor group) make one notification, not one each. */
			o->dirty = true;
			loop_timer_set(m->ag->loop, &o->timer, 0);
		} else {
			/* at once: a change of address is notified from the old
			 * one, before connmon moves the session */
			eval(o, true);
		}
	}
}

size_t obs_count(const struct obs_mgr *m)
{
	return m->n;
}

struct obs_mgr *obs_new(struct agent *ag)
{
	struct obs_mgr *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->ag = ag;
	/* calloc'd in one piece: pages of slots never used stay untouched */
	m->cap = ag->cfg->server.max_observations ? ag->cfg->server.max_observations : OBS_DEFAULT_MAX;
	m->o = calloc(m->cap, sizeof(*m->o));
	if (!m->o) {
		free(m);
		return NULL;
	}
	return m;
}

void obs_free(struct obs_mgr *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->hi; i++)
		if (m->o[i].used)
			loop_timer_cancel(m->ag->loop, &m->o[i].timer);
	free(m->o);
	free(m);
}
