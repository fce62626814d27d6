/* reg.c - the registration state machine.
 *
 * Register (POST /rd?ep=..&lt=..&lwm2m=..&b=..) with the object link list,
 * Update (POST to the location) well before the lifetime runs out and when
 * the link list or the parameters change, De-register (DELETE) on shutdown
 * and on Disable.  A failed Update (4.04, timeout, Reset) leads to a fresh
 * Register.  Failed Registers follow the Server object's Communication Retry
 * resources: retry_count tries with retry_timer * 2^n backoff, then a pause
 * of sequence_delay, sequence_retry_count times; then it keeps trying once
 * per sequence_delay rather than giving up, since a gateway nobody can visit
 * must come back by itself when the server does. */
#include "reg.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "buf.h"
#include "cfg.h"
#include "coap.h"
#include "codec.h"
#include "dm.h"
#include "log.h"
#include "loop.h"
#include "observe.h"
#include "send.h"
#include "attr.h"
#include "store.h"

struct reg {
	struct agent *ag;
	enum reg_state state;
	char location[128];
	struct loop_timer timer;        /* next Update, retry, or end of Disable */
	struct loop_timer change;       /* coalesces links/params changes */
	struct loop_timer stop_timer;
	uint32_t sent_lifetime;
	char sent_binding[4];
	bool links_dirty, params_dirty, update_pending;
	unsigned attempt, sequence;     /* Communication Retry bookkeeping */
	void (*stop_done)(struct agent *ag);
	uint64_t registered_at;         /* last successful Register or Update */
	char last_error[96];
};

#define REG_FILE "registration.json"

static void send_register(struct reg *r);

/* Keeps what a restarted daemon needs to carry on with this registration
 * (LwM2M allows Updates to a location for as long as its lifetime runs). */
static void save(struct reg *r)
{
	const struct cfg_server *srv = &r->ag->cfg->server;
	struct errbuf err;
	json_t *j;
	char *txt;

	j = json_pack("{s:s, s:s, s:s, s:i, s:I, s:i}", "server", srv->uri, "endpoint",
		      srv->endpoint, "location", r->location, "lifetime", (int)r->sent_lifetime,
		      "at", (json_int_t)loop_wall(), "port", (int)coapc_local_port(r->ag->coap));
	txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (txt && store_write(r->ag->cfg->state_dir, REG_FILE, txt, strlen(txt), &err))
		log_warn("registration: %s", err.msg);
	free(txt);
}

static void forget_saved(struct reg *r)
{
	store_remove(r->ag->cfg->state_dir, REG_FILE);
}

uint16_t reg_saved_port(struct agent *ag)
{
	struct errbuf err;
	json_error_t jerr;
	struct buf b;
	json_t *j;
	int port = 0;

	buf_init(&b);
	if (!store_read(ag->cfg->state_dir, REG_FILE, &b, &err)) {
		j = json_loadb((const char *)b.p, b.len, 0, &jerr);
		if (json_unpack(j, "{s:i}", "port", &port) || port < 0 || port > 65535)
			port = 0;
		json_decref(j);
	}
	buf_fini(&b);
	return (uint16_t)port;
}

/* A registration an earlier run left, if it is for this server and
 * endpoint and its lifetime has not run out: 1 if restored. */
static int restore(struct reg *r)
{
	const struct cfg_server *srv = &r->ag->cfg->server;
	const char *server, *ep, *loc;
	json_int_t at;
	struct errbuf err;
	json_error_t jerr;
	struct buf b;
	json_t *j;
	int lt, rc = 0;

	buf_init(&b);
	if (store_read(r->ag->cfg->state_dir, REG_FILE, &b, &err)) {
		buf_fini(&b);
		return 0;
	}
	j = json_loadb((const char *)b.p, b.len, 0, &jerr);
	buf_fini(&b);
	if (!j || json_unpack(j, "{s:s, s:s, s:s, s:i, s:I}", "server", &server, "endpoint", &ep,
			      "location", &loc, "lifetime", &lt, "at", &at) ||
	    !*loc || strlen(loc) >= sizeof(r->location) || lt <= 0) {
		log_warn("registration: %s/%s is damaged; registering anew",
			 r->ag->cfg->state_dir, REG_FILE);
	} else if (strcmp(server, srv->uri) || strcmp(ep, srv->endpoint)) {
		log_info("registration: the saved one is for another server or endpoint");
	} else if (loop_wall() >= at + (json_int_t)lt * 1000 || loop_wall() < at) {
		log_info("registration: the saved one has expired");
	} else {
		snprintf(r->location, sizeof(r->location), "%s", loc);
		r->sent_lifetime = (uint32_t)lt;
		rc = 1;
	}
	json_decref(j);
	if (!rc)
		forget_saved(r);
	return rc;
}
static void send_update(struct reg *r);

const char *reg_state_name(enum reg_state s)
{
	static const char *const n[] = { "idle", "registering", "registered", "updating",
					 "de-registering", "waiting to retry", "disabled" };

	return n[s];
}

enum reg_state reg_state(const struct reg *r)
{
	return r->state;
}

const char *reg_location(const struct reg *r)
{
	return r->location;
}

int64_t reg_lifetime_left(const struct reg *r)
{
	uint64_t end;

	if (r->state != REG_REGISTERED && r->state != REG_UPDATING)
		return -1;
	end = r->registered_at + (uint64_t)r->sent_lifetime * 1000;
	return end > loop_now() ? (int64_t)((end - loop_now()) / 1000) : 0;
}

const char *reg_last_error(const struct reg *r)
{
	return r->last_error;
}

/* The link list of every object and instance but Security (LwM2M 1.1
 * 6.2.1: Security and OSCORE are never in it). */
static int build_links(struct reg *r, struct buf *b)
{
	struct link_attr a[2];
	struct dm_inst *i;
	struct dm_obj *o;
	char uri[16];
	int rc = 0;

	a[0] = (struct link_attr){ "rt", "oma.lwm2m" };
	/* the formats we read and write; LwM2M CBOR is a 1.2 format */
	a[1] = (struct link_attr){ "ct", strcmp(r->ag->cfg->server.lwm2m_version, "1.2") ?
					 "0 42 110 112 11542" : "0 42 110 112 11542 11544" };
	rc |= codec_link_add(b, "/", a, 2);
	for (o = dm_first(r->ag->dm); o; o = o->next) {
		if (o->oid == 0)
			continue;
		a[0] = (struct link_attr){ "ver", o->version };
		snprintf(uri, sizeof(uri), "/%u", o->oid);
		if (o->version && strcmp(o->version, "1.0"))
			rc |= codec_link_add(b, uri, a, 1);
		else if (!o->insts)
			rc |= codec_link_add(b, uri, NULL, 0);
		for (i = o->insts; i; i = i->next) {
			snprintf(uri, sizeof(uri), "/%u/%u", o->oid, i->id);
			rc |= codec_link_add(b, uri, NULL, 0);
		}
	}
	return rc ? -ENOMEM : 0;
}

/* ---- timing ----------------------------------------------------------- */

/* When to send the next Update: halfway for short lifetimes, otherwise
 * early enough that a full CoAP retransmission series (about 93 s) still
 * ends before the lifetime does. */
static uint64_t update_delay_ms(uint32_t lifetime)
{
	uint32_t s = lifetime <= 186 ? lifetime / 2 : lifetime - 93;

	return (uint64_t)(s ? s : 1) * 1000;
}

static void schedule_retry(struct reg *r, const char *why)
{
	const struct cfg_server *srv = &r->ag->cfg->server;
	uint64_t delay;

	r->state = REG_WAIT_RETRY;
	snprintf(r->last_error, sizeof(r->last_error), "registration failed: %s", why);
	r->attempt++;
	if (r->attempt < srv->retry_count) {
		/* exponential backoff within a sequence: timer * 2^(n-1) */
		unsigned shift = r->attempt - 1 > 16 ? 16 : r->attempt - 1;

		delay = (uint64_t)srv->retry_timer * 1000 << shift;
	} else {
		r->attempt = 0;
		r->sequence++;
		delay = (uint64_t)srv->sequence_delay * 1000;
		if (r->sequence == srv->sequence_retry_count)
			log_warn("server %s: %u registration sequences failed; trying again every"
				 " %u s", srv->uri, r->sequence, srv->sequence_delay);
	}
	log_warn("server %s: registration failed: %s; next try in %llu s", srv->uri, why,
		 (unsigned long long)(delay / 1000));
	loop_timer_set(r->ag->loop, &r->timer, delay);
}

static void on_timer(struct loop_timer *t)
{
	struct reg *r = container_of(t, struct reg, timer);

	switch (r->state) {
	case REG_REGISTERED:
		send_update(r);
		break;
	case REG_WAIT_RETRY:
	case REG_DISABLED:
	case REG_IDLE:
		send_register(r);
		break;
	default:
		break;
	}
}

static void on_change(struct loop_timer *t)
{
	struct reg *r = container_of(t, struct reg, change);

	if (r->state == REG_REGISTERED)
		send_update(r);
	else if (r->state == REG_UPDATING || r->state == REG_REGISTERING)
		r->update_pending = true;
	/* otherwise the next Register carries everything anyway */
}

static const char *why(int code, char *buf, size_t size)
{
	if (code < 0)
		snprintf(buf, size, "%s", code == -ETIMEDOUT ? "no answer" :
			 code == -ECONNRESET ? "Reset by the server" :
			 code == -ECONNREFUSED ? "port unreachable" :
			 code == -EPROTO ? "DTLS handshake failed" : strerror(-code));
	else
		snprintf(buf, size, "server answered %d.%02d", code >> 5, code & 31);
	return buf;
}

/* Registered or updated: saves the registration, schedules the next Update
 * (now if a change waited for the answer) and sends what waited. */
static void settled(struct reg *r)
{
	save(r);
	loop_timer_set(r->ag->loop, &r->timer, update_delay_ms(r->sent_lifetime));
	if (r->update_pending) {
		r->update_pending = false;
		loop_timer_set(r->ag->loop, &r->change, 0);
	}
	send_flush(r->ag->send);
}

/* ---- Register --------------------------------------------------------- */

static void registered(void *arg, const struct coapc_answer *ans)
{
	struct reg *r = arg;
	const struct cfg_server *srv = &r->ag->cfg->server;
	char w[64];

	if (r->state != REG_REGISTERING)
		return;
	if (ans->code != COAP_RESPONSE_CODE(201)) {
		schedule_retry(r, why(ans->code, w, sizeof(w)));
		return;
	}
	if (!ans->location[0]) {
		schedule_retry(r, "the server sent no Location-Path");
		return;
	}
	snprintf(r->location, sizeof(r->location), "%s", ans->location);
	r->state = REG_REGISTERED;
	r->attempt = r->sequence = 0;
	r->registered_at = loop_now();
	log_info("registered with %s as %s (location /%s, lifetime %u s)", srv->uri, srv->endpoint,
		 r->location, r->sent_lifetime);
	settled(r);
}

static void send_register(struct reg *r)
{
	const struct cfg_server *srv = &r->ag->cfg->server;
	char query[256];
	struct buf links;
	int rc;

	buf_init(&links);
	loop_timer_cancel(r->ag->loop, &r->timer);
	/* A new registration: the server has forgotten what it observed.  Now,
	 * not on the 2.01: a server that observes at once (ThingsBoard does) may
	 * have its Observe taken in before its 2.01, and it belongs to the new
	 * registration. */
	if (r->ag->obs)
		obs_cancel_all(r->ag->obs, "registering anew");
	r->sent_lifetime = server_obj_lifetime(r->ag);
	snprintf(r->sent_binding, sizeof(r->sent_binding), "%s", server_obj_binding(r->ag));
	/* LwM2M 1.1 moved queue mode out of the binding into its own Q
	 * parameter (6.2.1.1); "b=UQ" is a 1.0 registration and 1.1 servers
	 * refuse it */
	snprintf(query, sizeof(query), "ep=%s&lt=%u&lwm2m=%s&b=U%s", srv->endpoint,
		 r->sent_lifetime, srv->lwm2m_version, strchr(r->sent_binding, 'Q') ? "&Q" : "");
	if (build_links(r, &links)) {
		buf_fini(&links);
		schedule_retry(r, "out of memory");
		return;
	}
	r->links_dirty = r->params_dirty = r->update_pending = false;
	r->location[0] = 0;
	r->state = REG_REGISTERING;
	log_debug("register: %s %s", query, buf_str(&links));
	rc = coapc_request(r->ag->coap, COAP_REQUEST_CODE_POST, "rd", query, LWM_FMT_LINK,
			   links.p, links.len, registered, r);
	buf_fini(&links);
	if (rc) {
		char w[64];

		schedule_retry(r, why(rc, w, sizeof(w)));
	}
}

/* ---- Update ----------------------------------------------------------- */

static void updated(void *arg, const struct coapc_answer *ans)
{
	struct reg *r = arg;
	char w[64];

	if (r->state != REG_UPDATING)
		return;
	if (ans->code == COAP_RESPONSE_CODE(204)) {
		r->state = REG_REGISTERED;
		r->registered_at = loop_now();
		log_info("registration updated (location /%s, lifetime %u s)", r->location,
			 r->sent_lifetime);
		settled(r);
		return;
	}
	/* 4.04 means the server forgot us; a timeout may mean the same: either
	 * way only a fresh Register is sure to put us back (LwM2M 1.1 6.2.2) */
	log_warn("server %s: update failed: %s; registering again", r->ag->cfg->server.uri,
		 why(ans->code, w, sizeof(w)));
	snprintf(r->last_error, sizeof(r->last_error), "update failed: %s", w);
	send_register(r);
}

static void send_update(struct reg *r)
{
	char query[64] = "", path[160];
	struct buf links;
	uint32_t lt = server_obj_lifetime(r->ag);
	const char *b = server_obj_binding(r->ag);
	size_t n = 0;
	int rc;

	buf_init(&links);
	loop_timer_cancel(r->ag->loop, &r->timer);
	if (lt != r->sent_lifetime)
		n += (size_t)snprintf(query + n, sizeof(query) - n, "lt=%u", lt);
	if (strcmp(b, r->sent_binding))
		snprintf(query + n, sizeof(query) - n, "%sb=U%s", n ? "&" : "",
			 strchr(b, 'Q') ? "&Q" : "");
	r->sent_lifetime = lt;
	snprintf(r->sent_binding, sizeof(r->sent_binding), "%s", b);
	if (r->links_dirty && build_links(r, &links)) {
		buf_fini(&links);
		send_register(r);
		return;
	}
	r->links_dirty = r->params_dirty = false;
	r->state = REG_UPDATING;
	snprintf(path, sizeof(path), "%s", r->location);
	rc = coapc_request(r->ag->coap, COAP_REQUEST_CODE_POST, path, query,
			   links.len ? LWM_FMT_LINK : -1, links.p, links.len, updated, r);
	buf_fini(&links);
	if (rc) {
		char w[64];

		log_warn("update: %s", why(rc, w, sizeof(w)));
		send_register(r);
	}
}

void reg_update_now(struct reg *r)
{
	if (r->state == REG_REGISTERED)
		send_update(r);
	else if (r->state == REG_UPDATING || r->state == REG_REGISTERING)
		r->update_pending = true;
}

void reg_wake(struct reg *r)
{
	/* queue mode: after a quiet spell the server holds its requests until
	 * it hears from us; an Update first lets them come in the same window */
	if (!strchr(server_obj_binding(r->ag), 'Q') || r->state != REG_REGISTERED)
		return;
	if (loop_now() - coapc_last_tx(r->ag->coap) >= (uint64_t)r->ag->cfg->server.awake_time * 1000)
		send_update(r);
}

void reg_links_changed(struct reg *r)
{
	r->links_dirty = true;
	loop_timer_set(r->ag->loop, &r->change, 0);
}

void reg_params_changed(struct reg *r)
{
	r->params_dirty = true;
	loop_timer_set(r->ag->loop, &r->change, 0);
}

/* ---- De-register ------------------------------------------------------ */

static void stop_finish(struct reg *r)
{
	void (*done)(struct agent *ag) = r->stop_done;

	loop_timer_cancel(r->ag->loop, &r->stop_timer);
	r->stop_done = NULL;
	if (done)
		done(r->ag);
}

static void deregistered(void *arg, const struct coapc_answer *ans)
{
	struct reg *r = arg;
	char w[64];

	if (ans->code == COAP_RESPONSE_CODE(202))
		log_info("de-registered from %s", r->ag->cfg->server.uri);
	else
		log_warn("de-register: %s", why(ans->code, w, sizeof(w)));
	r->location[0] = 0;
	forget_saved(r);
	if (r->state == REG_DEREGISTERING)
		r->state = REG_IDLE;
	stop_finish(r);
}

static void on_stop_timeout(struct loop_timer *t)
{
	struct reg *r = container_of(t, struct reg, stop_timer);

	log_warn("de-register: no answer from %s; stopping anyway", r->ag->cfg->server.uri);
	coapc_cancel_all(r->ag->coap);
	r->state = REG_IDLE;
	stop_finish(r);
}

static void deregister(struct reg *r)
{
	char path[160];

	loop_timer_cancel(r->ag->loop, &r->timer);
	loop_timer_cancel(r->ag->loop, &r->change);
	coapc_cancel_all(r->ag->coap);
	if (!r->location[0]) {
		r->state = REG_IDLE;
		stop_finish(r);
		return;
	}
	r->state = REG_DEREGISTERING;
	snprintf(path, sizeof(path), "%s", r->location);
	if (coapc_request(r->ag->coap, COAP_REQUEST_CODE_DELETE, path, NULL, -1, NULL, 0,
			  deregistered, r)) {
		r->state = REG_IDLE;
		stop_finish(r);
	}
}

void reg_stop(struct reg *r, uint32_t timeout_ms, void (*done)(struct agent *ag))
{
	r->stop_done = done;
	loop_timer_set(r->ag->loop, &r->stop_timer, timeout_ms);
	if (r->state == REG_REGISTERED || r->state == REG_UPDATING) {
		deregister(r);
		return;
	}
	/* registering, retrying or disabled: nothing to take back */
	loop_timer_cancel(r->ag->loop, &r->timer);
	loop_timer_cancel(r->ag->loop, &r->change);
	coapc_cancel_all(r->ag->coap);
	r->state = REG_IDLE;
	stop_finish(r);
}

static void disabled_done(struct agent *ag)
{
	struct reg *r = ag->reg;

	r->state = REG_DISABLED;
}

void reg_disable(struct reg *r, uint32_t seconds)
{
	log_info("server disabled for %u s", seconds);
	r->stop_done = disabled_done;
	loop_timer_set(r->ag->loop, &r->stop_timer, 10000);
	deregister(r);
	r->state = r->state == REG_IDLE ? REG_DISABLED : r->state;
	loop_timer_set(r->ag->loop, &r->timer, (uint64_t)seconds * 1000);
}

/* ---- life ------------------------------------------------------------- */

bool reg_start(struct reg *r)
{
	r->attempt = r->sequence = 0;
	/* damaged attributes or observations: what the server set up is lost,
	 * so resuming would leave it believing in things we no longer do */
	if ((attr_store_damaged(r->ag->attrs) || !obs_saved_valid(r->ag->obs)) &&
	    restore(r)) {
		log_warn("registration: state folder damaged; registering anew");
		r->location[0] = 0;
		forget_saved(r);
	} else if (restore(r)) {
		/* carry on: an Update (with the links, which may have changed
		 * while we were down) instead of a new Register */
		log_info("registration: resuming location /%s after a restart", r->location);
		r->state = REG_REGISTERED;
		r->registered_at = loop_now();
		snprintf(r->sent_binding, sizeof(r->sent_binding), "%s", server_obj_binding(r->ag));
		r->links_dirty = true;
		send_update(r);
		return true;
	}
	send_register(r);
	return false;
}

struct reg *reg_new(struct agent *ag)
{
	struct reg *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ag = ag;
	r->timer.cb = on_timer;
	r->change.cb = on_change;
	r->stop_timer.cb = on_stop_timeout;
	return r;
}

void reg_free(struct reg *r)
{
	if (!r)
		return;
	loop_timer_cancel(r->ag->loop, &r->timer);
	loop_timer_cancel(r->ag->loop, &r->change);
	loop_timer_cancel(r->ag->loop, &r->stop_timer);
	free(r);
}
