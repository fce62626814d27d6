/* coap.c - libcoap glue: the only file that sees CoAP PDUs.
 *
 * libcoap runs with its own epoll fd, which this file adds to our loop, and a
 * loop timer set to what libcoap's next retransmission needs
 * (coap_io_prepare_epoll), so an idle daemon makes no wakeups.  Requests from
 * the server arrive on our client session; libcoap dispatches them to the
 * "unknown resource" handler or, for DELETE which libcoap would otherwise
 * answer itself, to one resource per object instance.  Block-wise transfers
 * are left to libcoap (COAP_BLOCK_USE_LIBCOAP), but without
 * COAP_BLOCK_SINGLE_BODY, which would have libcoap hold a whole Block1 body
 * (a firmware image) in memory: libcoap 4.3.1 then calls the handler once per
 * block (answering 2.31 Continue itself).  Blocks of a Write that the data
 * model streams (dm_streams(): the Firmware Update Package) go to dm_handle()
 * one by one; every other block-wise body is put together here first. */
#include "coap.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <coap3/coap.h>
#include <mbedtls/base64.h>

#include "agent.h"
#include "cfg.h"
#include "codec.h"
#include "dm.h"
#include "dm_req.h"
#include "log.h"
#include "loop.h"
#include "observe.h"

#define MAX_PENDING 8
#define MAX_AFTER 8
#define DEDUP_SLOTS 8
#define DEDUP_MAX_BODY 1024
#define EXCHANGE_LIFETIME_MS 247000     /* RFC 7252 4.8.2 */
#define BODY_MAX (1024 * 1024)          /* a reassembled Block1 body, not streamed */

struct pending {
	coap_session_t *s;              /* sent on this session */
	coap_binary_t *token;
	coapc_cb cb;
	void *arg;
	char path[64];
};

struct after {
	void (*fn)(struct agent *ag, void *arg);
	void *arg;
};

/* A response we sent, kept so that a retransmitted request (same Message ID)
 * gets the same answer without running twice: an Execute or a Create must
 * not happen again because an ACK was lost. */
struct dedup {
	coap_mid_t mid;
	uint64_t at;
	int code, format;
	char location[32];
	uint8_t body[DEDUP_MAX_BODY];
	size_t len;
	bool used;
};

#define MAX_OLD 4

struct coapc {
	struct agent *ag;
	coap_context_t *ctx;
	coap_session_t *session;        /* NULL after a failed rebind */
	/* DTLS: a session that failed (handshake refused, closed, or a request
	 * unanswered: the server may have restarted and forgotten it) is
	 * stale; the next request of ours starts a new one, and the old one
	 * waits in old[] until libcoap is out of its calls to be released */
	bool stale;
	bool dtls_up;                   /* c->session had an answer: its handshake succeeded */
	bool dtls_reported;             /* its failure is logged */
	coap_session_t *old[MAX_OLD];
	int nold;
	char tls_cause[160];            /* libcoap's last warning: why a handshake failed */
	bool cause_ours;                /* ... or ours (check_cn), which libcoap's must not hide */
	/* security_mode = rpk: our PEM files as read at start (libcoap keeps the
	 * pointers), and the server's public key as DER, to compare */
	struct buf rpk_pub, rpk_priv, rpk_server;
	coap_address_t dst;             /* the server, as resolved at start */
	struct loop_fd lf;
	struct loop_timer timer;
	struct pending pending[MAX_PENDING];
	struct after after[MAX_AFTER];
	int nafter;
	coap_resource_t *unknown;
	coap_resource_t **res;          /* per-instance resources, for DELETE */
	size_t nres;
	struct dedup dedup[DEDUP_SLOTS];
	unsigned dedup_next;
	struct {
		coap_mid_t mid;
		uint8_t token[8];
		size_t toklen;
	} non[32];                      /* recent NON notifications, for Resets */
	unsigned non_next;
	uint64_t last_tx;               /* when we last sent anything of our own */
	struct buf body;                /* a Block1 body being put together */
	char body_path[48];             /* ... for this path */
};

static struct coapc *the_coapc;   /* libcoap's handlers carry no user pointer in 4.3.1 */

/* ---- logging ---------------------------------------------------------- */

static void on_non_reset(struct coapc *c, coap_mid_t mid);

static void coap_log_cb(coap_log_t level, const char *message)
{
	size_t n = strlen(message);
	unsigned mid;

	/* libcoap 4.3.1 reports a Reset to a NON message only in its log: a
	 * Reset to a NON notification is how a server says "stop" (RFC 7641
	 * 3.6), so it is picked up here */
	if (the_coapc && sscanf(message, "got RST for mid=0x%x", &mid) == 1) {
		on_non_reset(the_coapc, (coap_mid_t)mid);
		return;
	}
	while (n && message[n - 1] == '\n')
		n--;
	/* the cause of a failed handshake is only in libcoap's log */
	if (the_coapc && level <= LOG_WARNING && !the_coapc->cause_ours) {
		/* "   local <-> peer DTLS: cause": the cause is what tells */
		const char *m = strstr(message, " DTLS: ");

		m = m && m < message + n ? m + 7 : message;
		snprintf(the_coapc->tls_cause, sizeof(the_coapc->tls_cause), "%.*s",
			 (int)(n - (size_t)(m - message)), m);
	}
	/* libcoap's own chatter stays at debug unless it is an error */
	log_msg(level <= LOG_ERR ? LOG_WARNING : LOG_DEBUG, "coap: %.*s", (int)n, message);
}

/* ---- the loop --------------------------------------------------------- */

static void arm(struct coapc *c)
{
	coap_tick_t now;
	unsigned ms;

	coap_ticks(&now);
	ms = coap_io_prepare_epoll(c->ctx, now);

	if (ms)
		loop_timer_set(c->ag->loop, &c->timer, ms);
	else
		loop_timer_cancel(c->ag->loop, &c->timer);
}

static void bury(struct coapc *c);

static void process(struct coapc *c)
{
	int i, n;

	bury(c);
	coap_io_process(c->ctx, COAP_IO_NO_WAIT);
	bury(c);
	/* responses are out now: run what waited for them */
	n = c->nafter;
	c->nafter = 0;
	for (i = 0; i < n; i++)
		c->after[i].fn(c->ag, c->after[i].arg);
	arm(c);
}

static void on_fd(struct loop_fd *lf, uint32_t revents)
{
	process(container_of(lf, struct coapc, lf));
}

static void on_timer(struct loop_timer *t)
{
	process(container_of(t, struct coapc, timer));
}

/* ---- message sizes, for Connectivity Statistics ------------------------ */

/* The size of pdu as a UDP payload: header, token, the options as libcoap
 * encoded them, payload marker and payload. */
static size_t wire_size(const coap_pdu_t *pdu)
{
	coap_opt_iterator_t it;
	const uint8_t *data;
	coap_opt_t *o;
	size_t n = 4 + coap_pdu_get_token(pdu).length, len;

	coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
	while ((o = coap_option_next(&it)))
		n += coap_opt_size(o);
	if (coap_get_data(pdu, &len, &data) && len)
		n += 1 + len;
	return n;
}

/* Tells the agent's message hook about pdu, as an IP datagram: UDP header
 * and an IPv4 (20 bytes, no options) or IPv6 (40) header added.  Messages
 * libcoap sends or swallows by itself (empty ACKs, Resets, retransmissions,
 * the later blocks of a block-wise response) never pass here. */
static void count(struct coapc *c, const coap_pdu_t *pdu, bool tx)
{
	const struct sockaddr_in6 *p6 = &c->dst.addr.sin6;
	size_t ip = 20;

	if (!c->ag->msg_hook)
		return;
	if (p6->sin6_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr))
		ip = 40;
	c->ag->msg_hook(c->ag->msg_hook_arg, wire_size(pdu) + 8 + ip, tx);
}

uint64_t coapc_last_tx(const struct coapc *c)
{
	return c->last_tx;
}

uint16_t coapc_local_port(const struct coapc *c)
{
	const coap_address_t *a = c->session ? coap_session_get_addr_local(c->session) : NULL;

	if (!a)
		return 0;
	return ntohs(a->addr.sa.sa_family == AF_INET6 ? a->addr.sin6.sin6_port :
		     a->addr.sin.sin_port);
}

int coapc_after_response(struct coapc *c, void (*fn)(struct agent *ag, void *arg), void *arg)
{
	if (c->nafter == MAX_AFTER)
		return -ENOSPC;
	c->after[c->nafter].fn = fn;
	c->after[c->nafter].arg = arg;
	c->nafter++;
	return 0;
}

/* ---- requests from the server ----------------------------------------- */

static const char *method_name(int m)
{
	static const char *const names[] = { "?", "GET", "POST", "PUT", "DELETE", "FETCH",
					     "PATCH", "iPATCH" };

	return m >= 0 && m <= 7 ? names[m] : "?";
}

static int opt_uint(const coap_pdu_t *pdu, uint16_t num)
{
	coap_opt_iterator_t it;
	coap_opt_t *o = coap_check_option(pdu, num, &it);

	if (!o)
		return LWM_FMT_NONE;
	return (int)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

static void add_location(coap_pdu_t *resp, const char *location)
{
	char *save = NULL, *seg, loc[32];

	snprintf(loc, sizeof(loc), "%s", location);
	for (seg = strtok_r(loc, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
		coap_add_option(resp, COAP_OPTION_LOCATION_PATH, strlen(seg), (const uint8_t *)seg);
}

static void add_format(coap_pdu_t *resp, int format)
{
	unsigned char b[4];

	coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
			coap_encode_var_safe(b, sizeof(b), (unsigned)format), b);
}

static struct dedup *dedup_find(struct coapc *c, coap_mid_t mid)
{
	uint64_t now = loop_now();
	int i;

	for (i = 0; i < DEDUP_SLOTS; i++) {
		struct dedup *d = &c->dedup[i];

		if (d->used && d->mid == mid && now - d->at < EXCHANGE_LIFETIME_MS)
			return d;
	}
	return NULL;
}

static void dedup_store(struct coapc *c, coap_mid_t mid, int code, const struct dm_resp *out)
{
	struct dedup *d = &c->dedup[c->dedup_next++ % DEDUP_SLOTS];

	if (out->body.len > DEDUP_MAX_BODY) {
		d->used = false;        /* too big to keep: a read, harmless to redo */
		return;
	}
	d->used = true;
	d->mid = mid;
	d->at = loop_now();
	d->code = code;
	d->format = out->format;
	snprintf(d->location, sizeof(d->location), "%s", out->location);
	d->len = out->body.len;
	if (d->len)
		memcpy(d->body, out->body.p, d->len);
}

/* A read with Observe=0 succeeded: register the observation and put its
 * sequence number in the response.  Observe on a path that cannot be
 * observed just stays a read (RFC 7641 4.1). */
static void start_observe(struct coapc *c, const coap_pdu_t *pdu, const struct dm_req *req,
			  const struct dm_resp *out, int observe, coap_pdu_t *resp)
{
	coap_bin_const_t tok = coap_pdu_get_token(pdu);
	struct dm_path paths[OBS_MAX_PATHS];
	struct errbuf err;
	unsigned char b[4];
	uint32_t seq;
	size_t n = 1;
	bool composite = req->method == DM_M_FETCH;

	if (observe != 0 || req->accept == LWM_FMT_LINK)
		return;
	if (composite) {
		if (dm_composite_paths(req, paths, OBS_MAX_PATHS, &n, &err))
			return;
	} else {
		paths[0] = req->path;
	}
	if (obs_start(c->ag->obs, tok.s, tok.length, paths, n, composite, out->format, &seq)) {
		log_warn("observation refused: as many as [server] max_observations allows");
		return;
	}
	coap_add_option(resp, COAP_OPTION_OBSERVE, coap_encode_var_safe(b, sizeof(b), seq), b);
}

/* Puts the blocks of a Block1 body together (for requests the data model
 * does not stream).  Returns 0 with req pointing at the whole body once the
 * last block is in, 2.31 (libcoap adds the Block1 option) for the others, or
 * an LWM_E* code. */
static int gather_body(struct coapc *c, const char *path, struct dm_req *req,
		       struct errbuf *err)
{
	if (req->offset == 0) {
		buf_reset(&c->body);
		snprintf(c->body_path, sizeof(c->body_path), "%s", path);
	} else if (strcmp(c->body_path, path) || req->offset > c->body.len) {
		return errbuf_set(err, -COAP_RESPONSE_CODE(408), "block at %zu of a body not begun",
				  req->offset);
	}
	if (req->offset + req->len > BODY_MAX)
		return errbuf_set(err, LWM_EENTITY, "body larger than %d bytes", BODY_MAX);
	/* a repeated block overwrites what it had sent before */
	c->body.len = req->offset;
	buf_add(&c->body, req->payload, req->len);
	if (c->body.oom)
		return errbuf_set(err, LWM_EINTERNAL, "out of memory");
	if (req->more)
		return COAP_RESPONSE_CODE(231);
	req->payload = c->body.p;
	req->len = c->body.len;
	req->offset = 0;
	return 0;
}

static void release_body(coap_session_t *s, void *body)
{
	free(body);
}

static void on_request(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *pdu,
		       const coap_string_t *query, coap_pdu_t *resp)
{
	struct coapc *c = the_coapc;
	coap_string_t *uri = coap_get_uri_path(pdu);
	struct dm_req req = { .format = LWM_FMT_NONE, .accept = LWM_FMT_NONE };
	struct dm_resp out;
	struct errbuf err = { "" };
	char pathstr[48], q[256] = "";
	size_t off, total;
	unsigned char buf[8];
	struct dedup *dup;
	size_t body_len;
	coap_block_b_t b1;
	int code, observe = -1;

	dup = dedup_find(c, coap_pdu_get_mid(pdu));
	count(c, pdu, false);
	if (dup) {
		log_debug("duplicate request (Message ID %d): answered again, not run again",
			  coap_pdu_get_mid(pdu));
		coap_pdu_set_code(resp, (coap_pdu_code_t)dup->code);
		add_location(resp, dup->location);
		if (dup->format != LWM_FMT_NONE)
			add_format(resp, dup->format);
		if (dup->len)
			coap_add_data(resp, dup->len, dup->body);
		count(c, resp, true);
		coap_delete_string(uri);
		return;
	}
	buf_init(&out.body);
	out.format = LWM_FMT_NONE;      /* dm_handle() sets them; a gathered block does not */
	out.location[0] = 0;
	snprintf(pathstr, sizeof(pathstr), "/%.*s", uri ? (int)uri->length : 0,
		 uri ? (const char *)uri->s : "");
	req.method = (enum dm_method)coap_pdu_get_code(pdu);
	if (!coap_get_data_large(pdu, &req.len, &req.payload, &off, &total))
		off = 0;
	req.offset = off;
	req.more = coap_get_block_b(s, pdu, COAP_OPTION_BLOCK1, &b1) && b1.m;
	if (query) {
		snprintf(q, sizeof(q), "%.*s", (int)query->length, (const char *)query->s);
		req.query = q;
	}
	req.format = opt_uint(pdu, COAP_OPTION_CONTENT_FORMAT);
	req.accept = opt_uint(pdu, COAP_OPTION_ACCEPT);
	req.v12 = !strcmp(c->ag->cfg->server.lwm2m_version, "1.2");
	if (req.method == DM_M_GET || req.method == DM_M_FETCH)
		observe = opt_uint(pdu, COAP_OPTION_OBSERVE);
	if (observe == 1) {
		coap_bin_const_t tok = coap_pdu_get_token(pdu);

		/* Cancel Observation: answer like a read (RFC 7641 3.6) */
		obs_cancel(c->ag->obs, tok.s, tok.length, "cancelled by the server");
	}
	if (dm_path_parse(pathstr, &req.path, &err) < 0)
		code = LWM_ENOTFOUND;
	else if ((req.offset || req.more) && !dm_streams(c->ag->dm, &req) &&
		 (code = gather_body(c, pathstr, &req, &err)) != 0)
		;       /* 2.31 for a block that is not the last, or an error */
	else
		code = dm_handle(c->ag->dm, &req, &out, &err);

	if (code < 0) {
		if (!err.msg[0])
			snprintf(err.msg, sizeof(err.msg), "%s", code == LWM_ENOTFOUND ? "not found" :
				 code == LWM_EUNAVAIL ? "not available now" :
				 code == LWM_ENOTACCEPT ? "cannot produce that Accept format" :
				 code == LWM_EFORMAT ? "unsupported Content-Format" : "refused");
		coap_pdu_set_code(resp, (coap_pdu_code_t)(-code));
		if (code == LWM_EINTERNAL)
			log_err("%s %s: %d.%02d %s", method_name(req.method), pathstr,
				-code >> 5, -code & 31, err.msg);
		else
			log_info("%s %s: %d.%02d %s", method_name(req.method), pathstr,
				 -code >> 5, -code & 31, err.msg);
		if (err.msg[0] && code != LWM_EINTERNAL)
			/* a diagnostic payload helps whoever debugs the server side */
			coap_add_data(resp, strlen(err.msg), (const uint8_t *)err.msg);
		out.format = LWM_FMT_NONE;
		buf_reset(&out.body);
		buf_adds(&out.body, code != LWM_EINTERNAL ? err.msg : "");
		dedup_store(c, coap_pdu_get_mid(pdu), -code, &out);
		goto out;
	}
	coap_pdu_set_code(resp, (coap_pdu_code_t)code);
	if (observe >= 0 && code == COAP_RESPONSE_CODE(205))
		start_observe(c, pdu, &req, &out, observe, resp);
	log_debug("%s %s: %d.%02d", method_name(req.method), pathstr, code >> 5, code & 31);
	dedup_store(c, coap_pdu_get_mid(pdu), code, &out);
	if (out.location[0]) {
		add_location(resp, out.location);
		coapc_sync_resources(c);
	}
	if (req.method == DM_M_DELETE)
		coapc_sync_resources(c);
	if (out.format == 0 && out.body.len)
		/* libcoap leaves out a Content-Format of 0 (text/plain), which
		 * servers then cannot decode: add it ourselves */
		coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT, 0, buf);
	body_len = out.body.len;
	if (out.format != LWM_FMT_NONE && out.body.len) {
		/* libcoap adds Content-Format and splits into Block2 when needed;
		 * it serves the later blocks from our buffer without copying it,
		 * so the buffer becomes libcoap's, freed by release_body() */
		uint8_t *body = out.body.p;

		buf_init(&out.body);
		coap_add_data_large_response(r, s, pdu, resp, query, (uint16_t)out.format, -1, 0,
					     body_len, body, release_body, body);
	} else if (out.format != LWM_FMT_NONE) {
		add_format(resp, out.format);
	}
out:
	buf_fini(&out.body);
	coap_delete_string(uri);
	count(c, resp, true);
}

static void add_handlers(coap_resource_t *r)
{
	coap_register_request_handler(r, COAP_REQUEST_GET, on_request);
	coap_register_request_handler(r, COAP_REQUEST_PUT, on_request);
	coap_register_request_handler(r, COAP_REQUEST_POST, on_request);
	coap_register_request_handler(r, COAP_REQUEST_DELETE, on_request);
	coap_register_request_handler(r, COAP_REQUEST_FETCH, on_request);
	coap_register_request_handler(r, COAP_REQUEST_IPATCH, on_request);
}

void coapc_sync_resources(struct coapc *c)
{
	struct dm_obj *o;
	struct dm_inst *i;
	size_t n = 0, k;
	coap_resource_t **res;
	char p[16];

	/* few instances exist and they rarely change: rebuilding is simplest */
	for (k = 0; k < c->nres; k++)
		coap_delete_resource(c->ctx, c->res[k]);
	free(c->res);
	c->res = NULL;
	c->nres = 0;
	for (o = dm_first(c->ag->dm); o; o = o->next)
		for (i = o->insts; i; i = i->next)
			n++;
	res = calloc(n ? n : 1, sizeof(*res));
	if (!res)
		return;
	c->res = res;
	for (o = dm_first(c->ag->dm); o; o = o->next) {
		for (i = o->insts; i; i = i->next) {
			coap_resource_t *r;

			snprintf(p, sizeof(p), "%u/%u", o->oid, i->id);
			r = coap_resource_init(coap_new_str_const((const uint8_t *)p, strlen(p)),
					       COAP_RESOURCE_FLAGS_RELEASE_URI);
			if (!r)
				continue;
			add_handlers(r);
			coap_add_resource(c->ctx, r);
			c->res[c->nres++] = r;
		}
	}
}

/* ---- requests of ours ------------------------------------------------- */

static struct pending *find_pending(struct coapc *c, coap_bin_const_t tok)
{
	int i;

	for (i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &c->pending[i];

		if (p->cb && p->token->length == tok.length &&
		    !memcmp(p->token->s, tok.s, tok.length))
			return p;
	}
	return NULL;
}

static void finish(struct pending *p, const struct coapc_answer *ans)
{
	coapc_cb cb = p->cb;
	void *arg = p->arg;

	p->cb = NULL;
	coap_delete_binary(p->token);
	p->token = NULL;
	cb(arg, ans);
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
				   const coap_pdu_t *recv, const coap_mid_t mid)
{
	struct coapc *c = the_coapc;
	struct pending *p = find_pending(c, coap_pdu_get_token(recv));
	struct coapc_answer ans = { 0 };
	coap_opt_iterator_t it;
	coap_opt_t *o;
	size_t off, total, n = 0;

	if (s == c->session) {
		count(c, recv, false);
		c->dtls_up = true;      /* libcoap 4.3.1 has no "connected" event for clients */
	}
	if (!p)
		return COAP_RESPONSE_FAIL;      /* not ours (anymore): libcoap sends a Reset */
	ans.code = coap_pdu_get_code(recv);
	coap_option_iterator_init(recv, &it, COAP_OPT_ALL);
	while ((o = coap_option_next(&it))) {
		if (it.number != COAP_OPTION_LOCATION_PATH)
			continue;
		n += (size_t)snprintf(ans.location + n, sizeof(ans.location) - n, "%s%.*s",
				      n ? "/" : "", (int)coap_opt_length(o),
				      (const char *)coap_opt_value(o));
		if (n >= sizeof(ans.location))
			n = sizeof(ans.location) - 1;
	}
	coap_get_data_large(recv, &ans.len, &ans.payload, &off, &total);
	finish(p, &ans);
	return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t reason,
		    const coap_mid_t mid)
{
	struct coapc *c = the_coapc;
	struct coapc_answer ans = { 0 };
	struct pending *p;

	/* a session given up by coapc_rebind() or renew(): its requests are
	 * answered there */
	if (!sent || s != c->session)
		return;
	if (c->ag->cfg->server.secure &&
	    (reason == COAP_NACK_TOO_MANY_RETRIES || reason == COAP_NACK_TLS_FAILED))
		c->stale = true;
	p = find_pending(c, coap_pdu_get_token(sent));
	if (!p) {
		coap_bin_const_t tok = coap_pdu_get_token(sent);

		/* a notification the server refused or never acknowledged */
		if (coap_pdu_get_code(sent) >= 64 && reason != COAP_NACK_ICMP_ISSUE)
			obs_cancel(c->ag->obs, tok.s, tok.length,
				   reason == COAP_NACK_RST ? "Reset by the server" :
				   "the server did not acknowledge a notification");
		return;
	}
	switch (reason) {
	case COAP_NACK_ICMP_ISSUE:
		/* not an answer: libcoap goes on retransmitting (4.3.1), and a
		 * retransmission may still reach a server that comes back.
		 * Taking this as the end would send the request again later
		 * and have it delivered twice (a Send reading, say). */
		log_debug("%s: port unreachable; still retransmitting", p->path);
		return;
	case COAP_NACK_TOO_MANY_RETRIES:
		ans.code = -ETIMEDOUT;
		break;
	case COAP_NACK_RST:
		ans.code = -ECONNRESET;
		break;
	case COAP_NACK_TLS_FAILED:
		ans.code = -EPROTO;
		break;
	default:
		ans.code = -EIO;
		break;
	}
	finish(p, &ans);
}

static coap_session_t *open_session(struct coapc *c, uint16_t local_port);

/* DTLS events of our session: a refused handshake is logged with libcoap's
 * cause, and any failure makes the session stale. */
static int on_event(coap_session_t *s, const coap_event_t ev)
{
	struct coapc *c = the_coapc;
	const char *uri = c->ag->cfg->server.uri;

	if (s != c->session)
		return 0;
	if ((ev != COAP_EVENT_DTLS_ERROR && ev != COAP_EVENT_DTLS_CLOSED) || c->dtls_reported)
		return 0;
	c->dtls_reported = true;        /* once per session */
	c->stale = true;
	if (!c->dtls_up)
		log_err("server %s: DTLS handshake failed: %s", uri, c->tls_cause[0] ? c->tls_cause :
			c->ag->cfg->server.security_mode == CFG_SEC_PSK ?
			"no answer completed it (a server drops a handshake with an unknown PSK "
			"identity or a wrong key without a word)" :
			"no answer completed it (does the server trust our certificate?)");
	else
		log_warn("server %s: DTLS session %s%s%s", uri,
			 ev == COAP_EVENT_DTLS_CLOSED ? "closed by the server" : "failed",
			 c->tls_cause[0] ? ": " : "", c->tls_cause);
	return 0;
}

/* DTLS: puts a new session (a new handshake) in place of the stale one,
 * which bury() releases later: this may run inside a libcoap callback of
 * that very session. */
static int renew(struct coapc *c)
{
	if (c->nold == MAX_OLD)
		return -EBUSY;
	log_info("server %s: starting a new DTLS session", c->ag->cfg->server.uri);
	c->old[c->nold++] = c->session;
	c->stale = false;
	c->session = open_session(c, 0);
	return c->session ? 0 : -ENOTCONN;
}

/* Releases the sessions renew() replaced, answering what still waited on
 * them (-ENETUNREACH).  Only from the loop, never inside libcoap. */
static void bury(struct coapc *c)
{
	struct coapc_answer ans = { .code = -ENETUNREACH };
	struct pending gone[MAX_PENDING];
	int i, n;

	while (c->nold) {
		coap_session_t *s = c->old[--c->nold];

		for (i = n = 0; i < MAX_PENDING; i++) {
			if (c->pending[i].cb && c->pending[i].s == s) {
				gone[n++] = c->pending[i];
				c->pending[i].cb = NULL;
				c->pending[i].token = NULL;
			}
		}
		coap_session_release(s);
		for (i = 0; i < n; i++) {
			coap_delete_binary(gone[i].token);
			gone[i].cb(gone[i].arg, &ans);
		}
	}
}

/* Adds one option per sep-separated part of s (empty parts skipped). */
static int split_into(coap_optlist_t **opts, uint16_t num, const char *s, char sep)
{
	while (*s) {
		size_t n = strcspn(s, (char[]){ sep, 0 });
		coap_optlist_t *o;

		if (n) {
			o = coap_new_optlist(num, n, (const uint8_t *)s);
			if (!o || !coap_insert_optlist(opts, o))
				return -1;
		}
		s += n;
		if (*s)
			s++;
	}
	return 0;
}

int coapc_request(struct coapc *c, int method, const char *path, const char *query, int fmt,
		  const void *payload, size_t len, coapc_cb cb, void *arg)
{
	uint8_t tok[8];
	size_t toklen;
	coap_optlist_t *opts = NULL;
	struct pending *p = NULL;
	coap_pdu_t *pdu;
	unsigned char b[4];
	int i;

	/* after a failed rebind, the next request tries again */
	if (!c->session && !(c->session = open_session(c, 0)))
		return -ENOTCONN;
	if (c->stale && renew(c))
		return -ENOTCONN;
	for (i = 0; i < MAX_PENDING && !p; i++)
		if (!c->pending[i].cb)
			p = &c->pending[i];
	if (!p)
		return -EBUSY;
	pdu = coap_pdu_init(COAP_MESSAGE_CON, (coap_pdu_code_t)method,
			    coap_new_message_id(c->session), coap_session_max_pdu_size(c->session));
	if (!pdu)
		return -ENOMEM;
	coap_session_new_token(c->session, &toklen, tok);
	coap_add_token(pdu, toklen, tok);
	if (split_into(&opts, COAP_OPTION_URI_PATH, path, '/'))
		goto fail;
	if (fmt >= 0)
		coap_insert_optlist(&opts, coap_new_optlist(COAP_OPTION_CONTENT_FORMAT,
				    coap_encode_var_safe(b, sizeof(b), (unsigned)fmt), b));
	if (query && split_into(&opts, COAP_OPTION_URI_QUERY, query, '&'))
		goto fail;
	if (opts && !coap_add_optlist_pdu(pdu, &opts))
		goto fail;
	coap_delete_optlist(opts);
	opts = NULL;
	if (len && !coap_add_data_large_request(c->session, pdu, len, payload, NULL, NULL))
		goto fail_sent;
	p->token = coap_new_binary(toklen);
	if (!p->token)
		goto fail;
	memcpy(p->token->s, tok, toklen);
	p->s = c->session;
	p->cb = cb;
	p->arg = arg;
	snprintf(p->path, sizeof(p->path), "%s", path);
	c->last_tx = loop_now();
	count(c, pdu, true);
	if (coap_send(c->session, pdu) == COAP_INVALID_MID) {
		/* coap_send() released the pdu; the request is gone */
		p->cb = NULL;
		coap_delete_binary(p->token);
		p->token = NULL;
		arm(c);
		return -EIO;
	}
	arm(c);
	return 0;
fail:
	coap_delete_optlist(opts);
	coap_delete_pdu(pdu);
	return -EINVAL;
fail_sent:
	/* coap_add_data_large_request() released the pdu on failure */
	return -ENOMEM;
}

static void on_non_reset(struct coapc *c, coap_mid_t mid)
{
	size_t i;

	for (i = 0; i < sizeof(c->non) / sizeof(c->non[0]); i++) {
		if (c->non[i].toklen && c->non[i].mid == mid) {
			size_t toklen = c->non[i].toklen;

			c->non[i].toklen = 0;
			obs_cancel(c->ag->obs, c->non[i].token, toklen, "Reset by the server");
			return;
		}
	}
}

int coapc_notify(struct coapc *c, const uint8_t *token, size_t toklen, uint32_t seq, bool con,
		 int code, int format, const uint8_t *payload, size_t len)
{
	coap_pdu_t *pdu;
	unsigned char b[4];
	coap_mid_t mid;

	if (!c->session || c->stale)
		return -ENOTCONN;
	pdu = coap_pdu_init(con ? COAP_MESSAGE_CON : COAP_MESSAGE_NON, (coap_pdu_code_t)code,
			    coap_new_message_id(c->session), coap_session_max_pdu_size(c->session));
	if (!pdu)
		return -ENOMEM;
	coap_add_token(pdu, toklen, token);
	/* an error ends the observation, and says so by having no Observe (RFC 7641 3.2) */
	if (COAP_RESPONSE_CLASS(code) == 2)
		coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(b, sizeof(b), seq), b);
	if (format != LWM_FMT_NONE)
		add_format(pdu, format);
	if (len && !coap_add_data(pdu, len, payload)) {
		coap_delete_pdu(pdu);
		return -EMSGSIZE;
	}
	c->last_tx = loop_now();
	count(c, pdu, true);
	mid = coap_send(c->session, pdu);
	if (mid == COAP_INVALID_MID) {
		arm(c);
		return -EIO;
	}
	if (!con && toklen <= 8) {
		unsigned k = c->non_next++ % (sizeof(c->non) / sizeof(c->non[0]));

		c->non[k].mid = mid;
		memcpy(c->non[k].token, token, toklen);
		c->non[k].toklen = toklen;
	}
	arm(c);
	return 0;
}

void coapc_cancel_all(struct coapc *c)
{
	int i;

	for (i = 0; i < MAX_PENDING; i++) {
		if (c->pending[i].cb) {
			c->pending[i].cb = NULL;
			coap_delete_binary(c->pending[i].token);
			c->pending[i].token = NULL;
		}
	}
}

/* ---- setup ------------------------------------------------------------ */

static int resolve(const struct cfg_server *srv, coap_address_t *dst)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", srv->port);
	rc = getaddrinfo(srv->host, port, &hints, &res);
	if (rc) {
		log_err("server %s: cannot resolve %s: %s", srv->uri, srv->host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	coap_address_init(dst);
	dst->size = res->ai_addrlen;
	memcpy(&dst->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* The server's certificate passed libcoap's checks against the trusted
 * file; it must also name the URI's host.  libcoap gives cn as the first
 * DNS SubjectAltName, else the Common Name. */
static int check_cn(const char *cn, const uint8_t *cert, size_t len, coap_session_t *s,
		    unsigned depth, int validated, void *arg)
{
	struct coapc *c = arg;
	const char *host = c->ag->cfg->server.host;

	c->cause_ours = true;
	if (!validated) {
		snprintf(c->tls_cause, sizeof(c->tls_cause), "the server's certificate (%.60s) is "
			 "not trusted by %.60s", cn, c->ag->cfg->server.server_certificate ?
			 "server_certificate" : "ca_file");
		return 0;
	}
	if (depth == 0 && strcasecmp(cn, host)) {
		snprintf(c->tls_cause, sizeof(c->tls_cause), "the server's certificate is for "
			 "%.60s, not %.60s", cn, host);
		return 0;
	}
	c->cause_ours = false;
	return 1;
}

/* RPK: the server's key must be the configured one (there is no name) */
static int check_rpk(const char *cn, const uint8_t *key, size_t len, coap_session_t *s,
		     unsigned depth, int validated, void *arg)
{
	struct coapc *c = arg;

	c->cause_ours = true;
	if (len != c->rpk_server.len || memcmp(key, c->rpk_server.p, len)) {
		snprintf(c->tls_cause, sizeof(c->tls_cause), "the server's raw public key is not "
			 "the one in server_public_key");
		return 0;
	}
	c->cause_ours = false;
	return 1;
}

/* Reads a PEM file whole (NUL-terminated, as libcoap's PEM_BUF wants). */
static int read_pem(const char *path, struct buf *b)
{
	char chunk[512];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		log_err("%s: cannot open: %s", path, strerror(errno));
		return -errno;
	}
	buf_reset(b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(b, chunk, n);
	fclose(f);
	buf_addc(b, 0);
	return b->oom ? -ENOMEM : 0;
}

/* The DER inside a PEM "PUBLIC KEY" file. */
static int read_public_key_der(const char *path, struct buf *der)
{
	struct buf pem;
	const char *begin, *end;
	size_t n = 0;
	int rc;

	buf_init(&pem);
	rc = read_pem(path, &pem);
	begin = rc ? NULL : strstr((const char *)pem.p, "-----BEGIN PUBLIC KEY-----");
	end = begin ? strstr(begin, "-----END PUBLIC KEY-----") : NULL;
	if (!rc && !end) {
		log_err("%s: no PUBLIC KEY block", path);
		rc = -EINVAL;
	}
	if (!rc) {
		begin += strlen("-----BEGIN PUBLIC KEY-----");
		buf_reset(der);
		mbedtls_base64_decode(NULL, 0, &n, (const unsigned char *)begin,
				      (size_t)(end - begin));
		for (size_t i = 0; i < n; i++)
			buf_addc(der, 0);
		if (der->oom || mbedtls_base64_decode(der->p, n, &der->len,
						      (const unsigned char *)begin,
						      (size_t)(end - begin))) {
			log_err("%s: the PUBLIC KEY block is not base64", path);
			rc = -EINVAL;
		}
	}
	buf_fini(&pem);
	return rc;
}

static coap_session_t *new_rpk_session(struct coapc *c, coap_address_t *local)
{
	coap_dtls_pki_t pki = {
		.version = COAP_DTLS_PKI_SETUP_VERSION,
		.verify_peer_cert = 1,
		.is_rpk_not_cert = 1,
		.validate_cn_call_back = check_rpk,
		.cn_call_back_arg = c,
		.pki_key = {
			.key_type = COAP_PKI_KEY_PEM_BUF,
			.key.pem_buf = {
				.public_cert = c->rpk_pub.p,
				.public_cert_len = c->rpk_pub.len,
				.private_key = c->rpk_priv.p,
				.private_key_len = c->rpk_priv.len,
			},
		},
	};

	return coap_new_client_session_pki(c->ctx, local, &c->dst, COAP_PROTO_DTLS, &pki);
}

#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"     /* Debian's ca-certificates */

static coap_session_t *new_pki_session(struct coapc *c, coap_address_t *local)
{
	const struct cfg_server *srv = &c->ag->cfg->server;
	const char *trust = srv->server_certificate ? srv->server_certificate :
			    srv->ca_file ? srv->ca_file : SYSTEM_CA_FILE;
	struct in6_addr a;
	coap_dtls_pki_t pki = {
		.version = COAP_DTLS_PKI_SETUP_VERSION,
		.verify_peer_cert = 1,
		.check_common_ca = 1,
		.cert_chain_validation = 1,
		.cert_chain_verify_depth = 3,
		.allow_no_crl = 1,
		.allow_expired_crl = 1,
		.validate_cn_call_back = check_cn,
		.cn_call_back_arg = c,
		/* SNI is a host name, never an address */
		.client_sni = inet_pton(AF_INET, srv->host, &a) == 1 ||
			      inet_pton(AF_INET6, srv->host, &a) == 1 ? NULL : srv->host,
		.pki_key = {
			.key_type = COAP_PKI_KEY_PEM,
			.key.pem = {
				.ca_file = trust,
				.public_cert = srv->certificate,
				.private_key = srv->private_key,
			},
		},
	};

	return coap_new_client_session_pki(c->ctx, local, &c->dst, COAP_PROTO_DTLS, &pki);
}

/* A UDP session, or a DTLS one for coaps:// (its handshake starts now;
 * the first request waits in libcoap until it is done). */
static coap_session_t *new_session(struct coapc *c, coap_address_t *local)
{
	const struct cfg_server *srv = &c->ag->cfg->server;
	coap_dtls_cpsk_t psk = {
		.version = COAP_DTLS_CPSK_SETUP_VERSION,
		.psk_info = {
			.identity = { srv->psk_identity ? strlen(srv->psk_identity) : 0,
				      (const uint8_t *)srv->psk_identity },
			.key = { srv->psk_key_len, srv->psk_key },
		},
	};

	c->dtls_up = c->dtls_reported = c->cause_ours = false;
	c->tls_cause[0] = 0;
	if (!srv->secure)
		return coap_new_client_session(c->ctx, local, &c->dst, COAP_PROTO_UDP);
	if (srv->security_mode == CFG_SEC_CERT)
		return new_pki_session(c, local);
	if (srv->security_mode == CFG_SEC_RPK)
		return new_rpk_session(c, local);
	return coap_new_client_session_psk2(c->ctx, local, &c->dst, COAP_PROTO_DTLS, &psk);
}

/* A client session to c->dst from local_port (0: any port; any port too
 * when that one is taken). */
static coap_session_t *open_session(struct coapc *c, uint16_t local_port)
{
	coap_session_t *s = NULL;
	coap_address_t local;

	if (local_port) {
		/* the port of the registration being resumed: the server keeps
		 * its observations for that address */
		coap_address_init(&local);
		local.size = c->dst.size;
		local.addr.sa.sa_family = c->dst.addr.sa.sa_family;
		if (c->dst.addr.sa.sa_family == AF_INET6)
			local.addr.sin6.sin6_port = htons(local_port);
		else
			local.addr.sin.sin_port = htons(local_port);
		s = new_session(c, &local);
		if (!s)
			log_info("cannot bind UDP port %u again; using another", local_port);
	}
	if (!s)
		s = new_session(c, NULL);
	return s;
}

int coapc_addrs(const struct coapc *c, struct sockaddr_storage *peer,
		struct sockaddr_storage *local)
{
	const coap_address_t *p, *l;

	if (!c || !c->session)
		return -ENOTCONN;
	p = coap_session_get_addr_remote(c->session);
	l = coap_session_get_addr_local(c->session);
	if (!p || !l || p->size > sizeof(*peer) || l->size > sizeof(*local))
		return -ENOTCONN;
	memset(peer, 0, sizeof(*peer));
	memset(local, 0, sizeof(*local));
	memcpy(peer, &p->addr, p->size);
	memcpy(local, &l->addr, l->size);
	return 0;
}

int coapc_rebind(struct coapc *c)
{
	struct coapc_answer ans = { .code = -ENETUNREACH };
	struct pending gone[MAX_PENDING];
	uint16_t port = coapc_local_port(c);
	int i;

	/* the socket is connected, so its source address is fixed: only a new
	 * one follows the route.  What waits for an answer on the old session
	 * will not get one; its callers hear so once the new session is up. */
	memcpy(gone, c->pending, sizeof(gone));
	memset(c->pending, 0, sizeof(c->pending));
	if (c->session)
		coap_session_release(c->session);
	c->stale = false;
	c->session = open_session(c, port);
	for (i = 0; i < MAX_PENDING; i++) {
		if (!gone[i].cb)
			continue;
		coap_delete_binary(gone[i].token);
		gone[i].cb(gone[i].arg, &ans);
	}
	arm(c);
	if (!c->session) {
		log_err("server %s: cannot open a new UDP session", c->ag->cfg->server.uri);
		return -EIO;
	}
	return 0;
}

struct coapc *coapc_new(struct agent *ag, uint16_t local_port)
{
	struct coapc *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ag = ag;
	buf_init(&c->body);
	buf_init(&c->rpk_pub);
	buf_init(&c->rpk_priv);
	buf_init(&c->rpk_server);
	the_coapc = c;
	coap_startup();
	coap_set_log_handler(coap_log_cb);
	coap_set_log_level(log_level() >= LOG_DEBUG ? LOG_INFO : LOG_WARNING);
	if (ag->cfg->server.secure && !coap_dtls_is_supported()) {
		log_err("server %s: this libcoap has no DTLS; coaps:// needs libcoap-3-gnutls",
			ag->cfg->server.uri);
		goto fail;
	}
	if (ag->cfg->server.security_mode == CFG_SEC_RPK &&
	    (read_pem(ag->cfg->server.public_key, &c->rpk_pub) ||
	     read_pem(ag->cfg->server.private_key, &c->rpk_priv) ||
	     read_public_key_der(ag->cfg->server.server_public_key, &c->rpk_server)))
		goto fail;
	if (resolve(&ag->cfg->server, &c->dst))
		goto fail;
	c->ctx = coap_new_context(NULL);
	if (!c->ctx)
		goto fail;
	coap_context_set_block_mode(c->ctx, COAP_BLOCK_USE_LIBCOAP);
	coap_register_response_handler(c->ctx, on_response);
	coap_register_nack_handler(c->ctx, on_nack);
	coap_register_event_handler(c->ctx, on_event);
	c->session = open_session(c, local_port);
	if (!c->session) {
		log_err("server %s: cannot open a UDP session", ag->cfg->server.uri);
		goto fail;
	}
	c->unknown = coap_resource_unknown_init2(on_request, 0);
	add_handlers(c->unknown);
	coap_add_resource(c->ctx, c->unknown);
	c->lf.fd = coap_context_get_coap_fd(c->ctx);
	c->lf.events = EPOLLIN;
	c->lf.cb = on_fd;
	c->timer.cb = on_timer;
	if (c->lf.fd < 0 || loop_add_fd(ag->loop, &c->lf) < 0) {
		log_err("libcoap was built without epoll support");
		goto fail;
	}
	coapc_sync_resources(c);
	return c;
fail:
	coapc_free(c);
	return NULL;
}

void coapc_free(struct coapc *c)
{
	if (!c)
		return;
	loop_timer_cancel(c->ag->loop, &c->timer);
	if (c->lf.fd > 0)
		loop_del_fd(c->ag->loop, &c->lf);
	for (int i = 0; i < MAX_PENDING; i++)
		coap_delete_binary(c->pending[i].token);
	if (c->ctx)
		coap_register_event_handler(c->ctx, NULL);     /* our own close is no news */
	while (c->nold)
		coap_session_release(c->old[--c->nold]);
	free(c->res);
	buf_fini(&c->body);
	if (c->session)
		coap_session_release(c->session);
	if (c->ctx)
		coap_free_context(c->ctx);
	coap_cleanup();
	buf_fini(&c->rpk_pub);
	buf_fini(&c->rpk_priv);
	buf_fini(&c->rpk_server);
	the_coapc = NULL;
	free(c);
}
