/* send.c - Send (POST /dp) and the store-and-forward queue.
 *
 * Every Send payload and every notification kept offline is first written
 * to its own file under <state>/queue (store_write: tmp, fsync, rename), then
 * delivered oldest first, one request in flight, and removed only once the
 * server acknowledged it.  A crash, a restart or a reboot therefore loses
 * nothing that was queued, and order is kept by the file names (a counter).
 * The queue is bounded by [state] queue_max entries; past it, or when the
 * disk is full, the oldest entries are dropped, counted and logged. */
#include "send.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "buf.h"
#include "cfg.h"
#include "coap.h"
#include "codec.h"
#include "dm_req.h"
#include "log.h"
#include "loop.h"
#include "reg.h"
#include "store.h"

#define MAGIC "LWQ1"
#define KIND_SEND 1
#define KIND_NOTIFY 2
#define MAX_PATHS 32

/* On disk: MAGIC, kind, format (2 bytes), token length, token (8),
 * sequence (4), payload length (4), FNV-1a of the payload (4), payload. */
struct hdr {
	char magic[4];
	uint8_t kind;
	uint8_t format[2];
	uint8_t toklen;
	uint8_t token[8];
	uint8_t seq[4];
	uint8_t len[4];
	uint8_t sum[4];
} __attribute__((packed));

struct group {
	struct sendq *q;
	struct loop_timer timer;
	struct dm_path paths[MAX_PATHS];
	size_t n;
	uint32_t period;
	char name[64];
};

struct sendq {
	struct agent *ag;
	char dir[512];
	uint64_t *ids;                  /* queued entries, oldest first */
	size_t n, cap;
	uint64_t next_id;
	uint64_t dropped;
	bool busy;                      /* a request is in flight */
	uint64_t busy_id;
	uint64_t refused_id;            /* refused once; dropped if refused again */
	struct group groups[CFG_MAX_SEND];
	int ngroups;
};

static void flush(struct sendq *q);

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t fnv32(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--) {
		h ^= *p++;
		h *= 16777619u;
	}
	return h;
}

static void name_of(uint64_t id, char *s, size_t size)
{
	snprintf(s, size, "%016llu", (unsigned long long)id);
}

size_t send_queued(const struct sendq *q)
{
	return q ? q->n : 0;
}

uint64_t send_dropped(const struct sendq *q)
{
	return q ? q->dropped : 0;
}

/* Drops the oldest entry (not the one in flight). */
static bool drop_oldest(struct sendq *q, const char *why)
{
	size_t i = 0;
	char name[24];

	/* the entry in flight is protected only while we are registered: in
	 * an outage it is as stale as any other (and if it still gets through,
	 * it was delivered after all) */
	if (q->busy && q->n && q->ids[0] == q->busy_id && reg_state(q->ag->reg) == REG_REGISTERED)
		i = 1;
	if (i >= q->n)
		return false;
	name_of(q->ids[i], name, sizeof(name));
	store_remove(q->dir, name);
	memmove(&q->ids[i], &q->ids[i + 1], (q->n - i - 1) * sizeof(q->ids[0]));
	q->n--;
	q->dropped++;
	log_warn("send queue: dropped the oldest entry (%s); %llu dropped so far", why,
		 (unsigned long long)q->dropped);
	return true;
}

static int enqueue(struct sendq *q, uint8_t kind, int format, const uint8_t *token, size_t toklen,
		   uint32_t seq, const uint8_t *payload, size_t len)
{
	struct hdr h = { .kind = kind, .toklen = (uint8_t)toklen };
	struct errbuf err;
	struct buf b;
	char name[24];
	uint64_t id;
	int rc;

	memcpy(h.magic, MAGIC, 4);
	h.format[0] = (uint8_t)(format >> 8);
	h.format[1] = (uint8_t)format;
	if (toklen)
		memcpy(h.token, token, toklen);
	put32(h.seq, seq);
	put32(h.len, (uint32_t)len);
	put32(h.sum, fnv32(payload, len));
	buf_init(&b);
	buf_add(&b, &h, sizeof(h));
	buf_add(&b, payload, len);
	if (b.oom) {
		buf_fini(&b);
		return LWM_EINTERNAL;
	}
	while (q->n >= q->ag->cfg->queue_max && drop_oldest(q, "the queue is full"))
		;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		uint64_t *ids = realloc(q->ids, cap * sizeof(*ids));

		if (!ids) {
			buf_fini(&b);
			return LWM_EINTERNAL;
		}
		q->ids = ids;
		q->cap = cap;
	}
	id = q->next_id++;
	name_of(id, name, sizeof(name));
	/* a full disk: make room by dropping the oldest, as the bound does */
	while ((rc = store_write(q->dir, name, b.p, b.len, &err)) == -ENOSPC &&
	       drop_oldest(q, "the disk is full"))
		;
	buf_fini(&b);
	if (rc) {
		q->dropped++;
		log_err("send queue: %s; this reading is lost (%llu dropped so far)", err.msg,
			(unsigned long long)q->dropped);
		return LWM_EINTERNAL;
	}
	q->ids[q->n++] = id;
	return 0;
}

static void forget(struct sendq *q, uint64_t id)
{
	char name[24];
	size_t i;

	name_of(id, name, sizeof(name));
	store_remove(q->dir, name);
	for (i = 0; i < q->n; i++) {
		if (q->ids[i] == id) {
			memmove(&q->ids[i], &q->ids[i + 1], (q->n - i - 1) * sizeof(q->ids[0]));
			q->n--;
			break;
		}
	}
}

static void sent(void *arg, const struct coapc_answer *ans)
{
	struct sendq *q = arg;
	uint64_t id = q->busy_id;

	q->busy = false;
	if (ans->code == COAP_RESPONSE_CODE(204) || ans->code == COAP_RESPONSE_CODE(201)) {
		q->refused_id = UINT64_MAX;
		forget(q, id);
		flush(q);
		return;
	}
	if (ans->code > 0 && q->refused_id == id) {
		/* refused again right after the registration was confirmed: it
		 * is this entry the server does not want; retrying is useless */
		log_warn("send: the server answered %d.%02d again; dropping the entry",
			 ans->code >> 5, ans->code & 31);
		forget(q, id);
		q->dropped++;
		flush(q);
		return;
	}
	if (ans->code > 0) {
		/* a server that lost our registration refuses a Send too (Leshan
		 * says 4.00): keep the entry, confirm the registration (an
		 * Update, or a new Register if it is gone), which flushes again */
		log_warn("send: the server answered %d.%02d; checking the registration",
			 ans->code >> 5, ans->code & 31);
		q->refused_id = id;
		reg_update_now(q->ag->reg);
		return;
	}
	/* no answer: keep it, and find out whether we are still registered */
	log_warn("send: no answer from the server; %zu entries wait", q->n);
	reg_update_now(q->ag->reg);
}

static void flush(struct sendq *q)
{
	struct agent *ag = q->ag;
	struct errbuf err;
	struct buf b;
	const struct hdr *h;
	char name[24];
	uint32_t len;
	int rc;

	while (!q->busy && q->n) {
		enum reg_state st = reg_state(ag->reg);

		/* not while an Update is out: it may yet tell us to register anew
		 * (updated() and registered() flush) */
		if (st != REG_REGISTERED)
			return;
		name_of(q->ids[0], name, sizeof(name));
		buf_init(&b);
		if (store_read(q->dir, name, &b, &err) || b.len < sizeof(*h) ||
		    memcmp(b.p, MAGIC, 4) ||
		    (len = get32(((const struct hdr *)b.p)->len)) != b.len - sizeof(*h) ||
		    get32(((const struct hdr *)b.p)->sum) != fnv32(b.p + sizeof(*h), len)) {
			log_warn("send queue: %s/%s is damaged; removed", q->dir, name);
			buf_fini(&b);
			forget(q, q->ids[0]);
			q->dropped++;
			continue;
		}
		h = (const struct hdr *)b.p;
		if (h->kind == KIND_NOTIFY) {
			/* stored notifications go out as CON: they matter */
			rc = coapc_notify(ag->coap, h->token, h->toklen, get32(h->seq), true,
					  COAP_RESPONSE_CODE(205), h->format[0] << 8 | h->format[1],
					  b.p + sizeof(*h), len);
			buf_fini(&b);
			if (rc)         /* no route yet (a link down): kept for later */
				return;
			forget(q, q->ids[0]);
			continue;
		}
		reg_wake(ag->reg);
		q->busy = true;
		q->busy_id = q->ids[0];
		rc = coapc_request(ag->coap, COAP_REQUEST_CODE_POST, "dp", NULL, LWM_FMT_SENML_CBOR,
				   b.p + sizeof(*h), len, sent, q);
		buf_fini(&b);
		if (rc) {
			q->busy = false;
			return;
		}
	}
}

void send_flush(struct sendq *q)
{
	if (q)
		flush(q);
}

int send_paths(struct sendq *q, const struct dm_path *paths, size_t n, struct errbuf *err)
{
	struct dm_path root = { .len = 0 };
	struct dm_recs recs;
	struct buf body;
	int64_t now = loop_wall() / 1000;
	size_t i;
	int rc = 0;

	if (server_obj_mute_send(q->ag))
		return errbuf_set(err, LWM_ENOTALLOWED, "Send is muted by the server (1/0/23)");
	dm_recs_init(&recs);
	for (i = 0; i < n && !rc; i++) {
		rc = dm_read(q->ag->dm, &paths[i], false, &recs);
		if (rc == LWM_ENOTFOUND || rc == LWM_EUNAVAIL) {
			char p[32];

			dm_path_str(&paths[i], p, sizeof(p));
			log_info("send: %s: %s; left out", p,
				 rc == LWM_ENOTFOUND ? "no such path" : "not available now");
			rc = 0;
		}
	}
	if (!rc && !recs.n)
		rc = errbuf_set(err, LWM_ENOTFOUND, "none of the paths can be read");
	/* readings carry the time they were taken: they may arrive much later */
	for (i = 0; !rc && i < recs.n; i++)
		recs.r[i].time = now;
	buf_init(&body);
	if (!rc)
		rc = codec_encode(LWM_FMT_SENML_CBOR, &root, &recs, &body, err);
	if (!rc)
		rc = enqueue(q, KIND_SEND, LWM_FMT_SENML_CBOR, NULL, 0, 0, body.p, body.len);
	buf_fini(&body);
	dm_recs_fini(&recs);
	if (!rc)
		flush(q);
	return rc;
}

int send_store_notification(struct sendq *q, const uint8_t *token, size_t toklen, uint32_t seq,
			    int format, const uint8_t *payload, size_t len)
{
	if (toklen > 8)
		return LWM_EBADREQ;
	return enqueue(q, KIND_NOTIFY, format, token, toklen, seq, payload, len);
}

static void on_group(struct loop_timer *t)
{
	struct group *g = container_of(t, struct group, timer);
	struct errbuf err;
	int rc;

	loop_timer_set(g->q->ag->loop, &g->timer, (uint64_t)g->period * 1000);
	rc = send_paths(g->q, g->paths, g->n, &err);
	if (rc == LWM_ENOTALLOWED)
		log_debug("send.%s: muted by the server", g->name);
	else if (rc)
		log_warn("send.%s: %s", g->name, err.msg);
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Picks up what an earlier run left in the queue folder. */
static void load(struct sendq *q)
{
	DIR *d = opendir(q->dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		unsigned long long id = strtoull(e->d_name, &end, 10);

		if (strlen(e->d_name) != 16 || *end) {
			if (strstr(e->d_name, ".tmp"))
				store_remove(q->dir, e->d_name);        /* a write cut short */
			continue;
		}
		if (q->n == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 64;
			uint64_t *ids = realloc(q->ids, cap * sizeof(*ids));

			if (!ids)
				break;
			q->ids = ids;
			q->cap = cap;
		}
		q->ids[q->n++] = id;
		if (id >= q->next_id)
			q->next_id = id + 1;
	}
	closedir(d);
	if (q->n)
		qsort(q->ids, q->n, sizeof(q->ids[0]), cmp_id);
	if (q->n)
		log_info("send queue: %zu entries from before the restart wait for the server", q->n);
}

void send_reconfigure(struct sendq *q)
{
	struct agent *ag = q->ag;
	struct errbuf err;
	int i;

	for (i = 0; i < q->ngroups; i++)
		loop_timer_cancel(ag->loop, &q->groups[i].timer);
	q->ngroups = 0;
	for (i = 0; i < ag->cfg->nsend; i++) {
		const struct cfg_send *cs = &ag->cfg->send[i];
		struct group *g = &q->groups[q->ngroups];
		char *copy = strdup(cs->paths), *save = NULL, *tok;

		memset(g, 0, sizeof(*g));
		g->q = q;
		snprintf(g->name, sizeof(g->name), "%s", cs->name);
		g->period = cs->period;
		g->timer.cb = on_group;
		for (tok = copy ? strtok_r(copy, " \t,", &save) : NULL; tok && g->n < MAX_PATHS;
		     tok = strtok_r(NULL, " \t,", &save))
			if (!dm_path_parse(tok, &g->paths[g->n], &err))
				g->n++;
		free(copy);
		loop_timer_set(ag->loop, &g->timer, (uint64_t)g->period * 1000);
		q->ngroups++;
	}
}

struct sendq *send_new(struct agent *ag)
{
	struct sendq *q = calloc(1, sizeof(*q));
	struct errbuf err;

	if (!q)
		return NULL;
	q->ag = ag;
	q->refused_id = UINT64_MAX;
	snprintf(q->dir, sizeof(q->dir), "%s/queue", ag->cfg->state_dir);
	if (store_mkdir(q->dir, &err))
		log_warn("send queue: %s; queued data will not survive a restart", err.msg);
	load(q);
	send_reconfigure(q);
	return q;
}

void send_free(struct sendq *q)
{
	int i;

	if (!q)
		return;
	for (i = 0; i < q->ngroups; i++)
		loop_timer_cancel(q->ag->loop, &q->groups[i].timer);
	free(q->ids);
	free(q);
}
