/* attr.c - notification attributes (LwM2M 1.1 5.1.2, 1.2 additions).
 *
 * A short list of (path, attributes) pairs: one server writes few of them.
 * Validation happens on a copy of the merged result, so a request that fails
 * leaves the stored attributes untouched. */
#include "attr.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "store.h"

struct entry {
	struct entry *next;
	struct dm_path path;
	struct attrs a;
};

struct attr_store {
	struct entry *list;
	char *dir;
	bool damaged;
};

#define ATTR_FILE "attributes.json"

static const struct {
	const char *name;
	unsigned bit;
	bool num;               /* a float value, else an unsigned integer */
} names[] = {
	{ "pmin", ATTR_PMIN, false }, { "pmax", ATTR_PMAX, false },
	{ "gt", ATTR_GT, true },      { "lt", ATTR_LT, true },
	{ "st", ATTR_ST, true },      { "epmin", ATTR_EPMIN, false },
	{ "epmax", ATTR_EPMAX, false }, { "con", ATTR_CON, false },
	{ "hqmax", ATTR_HQMAX, false }, { "edge", ATTR_EDGE, false },
};

static void persist(struct attr_store *s)
{
	struct errbuf err;
	struct buf b;

	if (!s->dir)
		return;
	buf_init(&b);
	if (!attr_save(s, &b) && store_write(s->dir, ATTR_FILE, b.p, b.len, &err))
		log_warn("attributes: %s", err.msg);
	buf_fini(&b);
}

struct attr_store *attr_store_new(const char *dir)
{
	struct attr_store *s = calloc(1, sizeof(struct attr_store));
	struct errbuf err;
	struct buf b;
	int rc;

	if (!s || !dir)
		return s;
	s->dir = strdup(dir);
	buf_init(&b);
	rc = store_read(dir, ATTR_FILE, &b, &err);
	if (!rc && attr_load(s, (const char *)b.p, b.len, &err)) {
		log_warn("attributes: %s/%s: %s; starting without attributes", dir, ATTR_FILE,
			 err.msg);
		attr_forget(s, &(struct dm_path){ .len = 0 });
		s->damaged = true;
	}
	else if (rc && rc != -ENOENT)
		log_warn("attributes: %s", err.msg);
	buf_fini(&b);
	return s;
}

bool attr_store_damaged(const struct attr_store *s)
{
	return s && s->damaged;
}

void attr_store_free(struct attr_store *s)
{
	struct entry *e, *n;

	if (!s)
		return;
	for (e = s->list; e; e = n) {
		n = e->next;
		free(e);
	}
	free(s->dir);
	free(s);
}

static bool path_eq(const struct dm_path *a, const struct dm_path *b)
{
	return a->len == b->len && !memcmp(a->id, b->id, a->len * sizeof(a->id[0]));
}

static struct entry *find(const struct attr_store *s, const struct dm_path *p)
{
	struct entry *e;

	for (e = s->list; e; e = e->next)
		if (path_eq(&e->path, p))
			return e;
	return NULL;
}

const struct attrs *attr_get(const struct attr_store *s, const struct dm_path *path)
{
	struct entry *e = find(s, path);

	return e ? &e->a : NULL;
}

static void merge(struct attrs *out, const struct attrs *a)
{
	unsigned add = a->set & ~out->set;

	if (add & ATTR_PMIN)
		out->pmin = a->pmin;
	if (add & ATTR_PMAX)
		out->pmax = a->pmax;
	if (add & ATTR_GT)
		out->gt = a->gt;
	if (add & ATTR_LT)
		out->lt = a->lt;
	if (add & ATTR_ST)
		out->st = a->st;
	if (add & ATTR_EPMIN)
		out->epmin = a->epmin;
	if (add & ATTR_EPMAX)
		out->epmax = a->epmax;
	if (add & ATTR_CON)
		out->con = a->con;
	if (add & ATTR_HQMAX)
		out->hqmax = a->hqmax;
	if (add & ATTR_EDGE)
		out->edge = a->edge;
	out->set |= add;
}

void attr_effective(const struct attr_store *s, const struct dm_path *path, uint32_t def_pmin,
		    uint32_t def_pmax, struct attrs *out)
{
	struct dm_path p = *path;
	const struct attrs *a;

	memset(out, 0, sizeof(*out));
	for (;;) {
		if ((a = attr_get(s, &p))) {
			struct attrs x = *a;

			/* value conditions belong to the resource they were set on */
			if (p.len < 3)
				x.set &= ~(unsigned)(ATTR_GT | ATTR_LT | ATTR_ST);
			merge(out, &x);
		}
		if (!p.len)
			break;
		p.len--;
	}
	if (!(out->set & ATTR_PMIN) && def_pmin) {
		out->pmin = def_pmin;
		out->set |= ATTR_PMIN;
	}
	if (!(out->set & ATTR_PMAX) && def_pmax) {
		out->pmax = def_pmax;
		out->set |= ATTR_PMAX;
	}
}

/* Parses one "name=value" or "name" of a Write-Attributes query into a. */
static int parse_one(char *item, struct attrs *a, unsigned *unset, bool v12, struct errbuf *err)
{
	char *eq = strchr(item, '='), *end;
	size_t i;

	if (eq)
		*eq++ = 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(item, names[i].name))
			break;
	if (i == sizeof(names) / sizeof(names[0]))
		return errbuf_set(err, LWM_EBADREQ, "unknown attribute \"%s\"", item);
	if ((names[i].bit & (ATTR_CON | ATTR_HQMAX | ATTR_EDGE)) && !v12)
		return errbuf_set(err, LWM_EBADREQ, "attribute %s is LwM2M 1.2; this registration is 1.1",
				  item);
	if (!eq) {
		*unset |= names[i].bit;
		return 0;
	}
	errno = 0;
	if (names[i].num) {
		double d = strtod(eq, &end);

		if (!*eq || *end || errno || !isfinite(d))
			return errbuf_set(err, LWM_EBADREQ, "%s=%s: expected a number", item, eq);
		if (names[i].bit == ATTR_ST && d < 0)
			return errbuf_set(err, LWM_EBADREQ, "st=%s: must not be negative", eq);
		if (names[i].bit == ATTR_GT)
			a->gt = d;
		else if (names[i].bit == ATTR_LT)
			a->lt = d;
		else
			a->st = d;
	} else {
		unsigned long v = strtoul(eq, &end, 10);

		if (!*eq || *eq == '-' || *end || errno || v > UINT32_MAX)
			return errbuf_set(err, LWM_EBADREQ, "%s=%s: expected a whole number", item, eq);
		switch (names[i].bit) {
		case ATTR_PMIN: a->pmin = (uint32_t)v; break;
		case ATTR_PMAX: a->pmax = (uint32_t)v; break;
		case ATTR_EPMIN: a->epmin = (uint32_t)v; break;
		case ATTR_EPMAX: a->epmax = (uint32_t)v; break;
		case ATTR_HQMAX: a->hqmax = (uint32_t)v; break;
		case ATTR_CON:
		case ATTR_EDGE:
			if (v > 1)
				return errbuf_set(err, LWM_EBADREQ, "%s=%s: expected 0 or 1", item, eq);
			if (names[i].bit == ATTR_CON)
				a->con = v;
			else
				a->edge = v;
			break;
		}
	}
	a->set |= names[i].bit;
	*unset &= ~names[i].bit;
	return 0;
}

static enum dm_type res_type(struct dm *dm, const struct dm_path *p)
{
	const struct dm_res_def *def;
	struct dm_obj *o;

	if (p->len < 3 || !(o = dm_find_obj(dm, p->id[0])) || !(def = dm_find_res(o, p->id[2])))
		return DM_T_NONE;
	return def->type;
}

static bool numeric_res(struct dm *dm, const struct dm_path *p)
{
	enum dm_type t = res_type(dm, p);

	return t == DM_T_INT || t == DM_T_UINT || t == DM_T_FLOAT;
}

int attr_write(struct attr_store *s, struct dm *dm, const struct dm_path *path,
	       const char *query, bool v12, struct errbuf *err)
{
	struct attrs nw = { 0 }, cur = { 0 };
	struct entry *e = find(s, path);
	char *q = strdup(query ? query : ""), *save = NULL, *item;
	unsigned unset = 0;
	int rc = 0;

	if (!q)
		return LWM_EINTERNAL;
	for (item = strtok_r(q, "&", &save); item && !rc; item = strtok_r(NULL, "&", &save))
		rc = parse_one(item, &nw, &unset, v12, err);
	free(q);
	if (rc)
		return rc;
	if (!nw.set && !unset)
		return errbuf_set(err, LWM_EBADREQ, "no attributes in the request");
	if ((nw.set & (ATTR_GT | ATTR_LT | ATTR_ST)) && !numeric_res(dm, path))
		return errbuf_set(err, LWM_EBADREQ, "gt, lt and st need a numeric resource");
	if ((nw.set & ATTR_EDGE) && res_type(dm, path) != DM_T_BOOL)
		return errbuf_set(err, LWM_EBADREQ, "edge needs a boolean resource");
	/* the result: what the request sets over what was there, less what
	 * it unsets */
	if (e)
		cur = e->a;
	cur.set &= ~unset;
	nw.set &= ~unset;
	merge(&nw, &cur);
	if ((nw.set & ATTR_PMIN) && (nw.set & ATTR_PMAX) && nw.pmax && nw.pmin > nw.pmax)
		return errbuf_set(err, LWM_EBADREQ, "pmin (%u) is greater than pmax (%u)", nw.pmin,
				  nw.pmax);
	if ((nw.set & ATTR_EPMIN) && (nw.set & ATTR_EPMAX) && nw.epmin > nw.epmax)
		return errbuf_set(err, LWM_EBADREQ, "epmin (%u) is greater than epmax (%u)",
				  nw.epmin, nw.epmax);
	if ((nw.set & ATTR_LT) && (nw.set & ATTR_GT)) {
		double st = nw.set & ATTR_ST ? nw.st : 0;

		if (!(nw.lt + 2 * st < nw.gt))
			return errbuf_set(err, LWM_EBADREQ,
					  "lt (%g) + 2 * st (%g) must be less than gt (%g)", nw.lt,
					  st, nw.gt);
	}
	if (!nw.set) {
		attr_forget(s, path);
		persist(s);
		return 0;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return LWM_EINTERNAL;
		e->path = *path;
		e->next = s->list;
		s->list = e;
	}
	e->a = nw;
	persist(s);
	return 0;
}

void attr_forget(struct attr_store *s, const struct dm_path *path)
{
	struct entry **pp = &s->list, *e;

	bool any = false;

	while ((e = *pp)) {
		if (dm_path_under(&e->path, path)) {
			*pp = e->next;
			free(e);
			any = true;
		} else {
			pp = &e->next;
		}
	}
	if (any)
		persist(s);
}

void attr_format(const struct attr_store *s, const struct dm_path *path, struct buf *out)
{
	const struct attrs *a = attr_get(s, path);

	if (!a)
		return;
	if (a->set & ATTR_PMIN)
		buf_printf(out, ";pmin=%u", a->pmin);
	if (a->set & ATTR_PMAX)
		buf_printf(out, ";pmax=%u", a->pmax);
	if (a->set & ATTR_GT)
		buf_printf(out, ";gt=%.*g", codec_float_digits(a->gt), a->gt);
	if (a->set & ATTR_LT)
		buf_printf(out, ";lt=%.*g", codec_float_digits(a->lt), a->lt);
	if (a->set & ATTR_ST)
		buf_printf(out, ";st=%.*g", codec_float_digits(a->st), a->st);
	if (a->set & ATTR_EPMIN)
		buf_printf(out, ";epmin=%u", a->epmin);
	if (a->set & ATTR_EPMAX)
		buf_printf(out, ";epmax=%u", a->epmax);
	if (a->set & ATTR_CON)
		buf_printf(out, ";con=%d", a->con);
	if (a->set & ATTR_HQMAX)
		buf_printf(out, ";hqmax=%u", a->hqmax);
	if (a->set & ATTR_EDGE)
		buf_printf(out, ";edge=%d", a->edge);
}

int attr_save(const struct attr_store *s, struct buf *out)
{
	json_t *arr = json_array();
	struct entry *e;
	char p[32], *txt;
	int rc = 0;

	if (!arr)
		return -ENOMEM;
	for (e = s->list; e; e = e->next) {
		struct buf q;

		buf_init(&q);
		attr_format(s, &e->path, &q);
		dm_path_str(&e->path, p, sizeof(p));
		/* stored as the Write-Attributes query that recreates them */
		for (size_t i = 0; i < q.len; i++)
			if (q.p[i] == ';')
				q.p[i] = '&';
		json_array_append_new(arr, json_pack("{s:s, s:s}", "path", p, "query",
						     q.len ? buf_str(&q) + 1 : ""));
		buf_fini(&q);
	}
	txt = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!txt)
		return -ENOMEM;
	buf_reset(out);
	if (buf_adds(out, txt))
		rc = -ENOMEM;
	free(txt);
	return rc;
}

int attr_load(struct attr_store *s, const char *json, size_t len, struct errbuf *err)
{
	json_error_t jerr;
	json_t *arr = json_loadb(json, len, 0, &jerr), *it;
	size_t i;

	if (!json_is_array(arr)) {
		json_decref(arr);
		return errbuf_set(err, LWM_EBADREQ, "not a JSON array (%s)", jerr.text);
	}
	json_array_foreach(arr, i, it) {
		const char *p = NULL, *q = NULL;
		struct dm_path path;
		struct entry *e;
		struct attrs a = { 0 };
		unsigned unset = 0;
		char *copy, *save = NULL, *item;
		int rc = 0;

		if (json_unpack(it, "{s:s, s:s}", "path", &p, "query", &q) ||
		    dm_path_parse(p, &path, err)) {
			json_decref(arr);
			return errbuf_set(err, LWM_EBADREQ, "entry %zu is damaged", i);
		}
		copy = strdup(q);
		for (item = strtok_r(copy, "&", &save); item && !rc;
		     item = strtok_r(NULL, "&", &save))
			rc = parse_one(item, &a, &unset, true, err);
		free(copy);
		if (rc || !a.set)
			continue;
		e = calloc(1, sizeof(*e));
		if (!e)
			break;
		e->path = path;
		e->a = a;
		e->next = s->list;
		s->list = e;
	}
	json_decref(arr);
	return 0;
}
