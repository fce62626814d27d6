/* codec_lwm2m_cbor.c - LwM2M CBOR (content format 11544, TS Core 1.2 7.4.6).
 *
 * One CBOR map, nested maps below it, whose keys are path components: a key
 * is an id or an array of ids that stands for several levels at once, and
 * the ids from the root map down to a value make the value's full path, as
 * in {[3, 0]: {0: "Acme", 6: {0: 1, 1: 5}}} for a Read of /3/0.  Values are
 * plain CBOR items: integers (negative or not), floats of any width, true
 * and false, text (String, Corelnk, and Objlnk as "3:0"), byte strings
 * (Opaque), and an integer or float with tag 1 for a Time.  The encoding does
 * not say which LwM2M type a value has: dm_value_coerce() gives it the type
 * of the resource, as for SenML.
 *
 * Encoding sorts the records by path and folds every chain of single-child
 * levels into one array key, so a lone value costs one key ({[3, 0, 0]: v})
 * and siblings share their parents.  Integers take the fewest bytes CBOR
 * allows, floats the narrowest of half, single or double that holds them
 * exactly, and a Time is a plain integer (Anjay and our decoder read it so,
 * and the type comes from the resource anyway).  Value-less records are
 * left out, as in SenML.
 *
 * Decoding accepts every way of splitting a path into keys, definite and
 * indefinite lengths, and strings in chunks.  A null is a record without a
 * value (LwM2M 1.2: a Write-Composite deletes that resource instance; a
 * composite request names a path with it), and so is an empty map below the
 * root (a node that holds nothing, like TLV's empty Multiple Resource).  It
 * refuses what is not a tree of paths: keys that are not ids, ids above
 * 65534, paths deeper than four levels or outside the request path, a path
 * given twice or both as a leaf and above other values, and tags other than 1.
 * Like codec_senml_cbor.c it uses libcbor's streaming decoder, so a hostile
 * payload cannot make a deep item tree to build and free: path depth bounds
 * the nesting, and arrays are refused everywhere but in keys. */
#include "codec.h"
#include "codec_cbor_stream.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

/* ---- encoding ---------------------------------------------------------- */

struct enc {
	const struct dm_rec **r;        /* value records, sorted by path, no duplicates */
	struct buf *out;
};

static void put_head(struct buf *out, size_t (*fn)(size_t, unsigned char *, size_t), size_t n)
{
	unsigned char b[9];

	buf_add(out, b, fn(n, b, sizeof(b)));
}

static void put_uint(struct buf *out, uint64_t u)
{
	unsigned char b[9];

	buf_add(out, b, cbor_encode_uint(u, b, sizeof(b)));
}

static void put_int(struct buf *out, int64_t i)
{
	unsigned char b[9];

	if (i >= 0)
		put_uint(out, (uint64_t)i);
	else
		buf_add(out, b, cbor_encode_negint((uint64_t)(-1 - i), b, sizeof(b)));
}

/* The IEEE half-precision bits of f, if a half holds f exactly. */
static bool half_exact(double f, uint16_t *h)
{
	uint16_t sign = signbit(f) ? 0x8000 : 0;
	double a = fabs(f), m;
	int e;

	if (isnan(f)) {
		*h = 0x7E00;
		return true;
	}
	if (isinf(f) || a == 0) {
		*h = sign | (isinf(f) ? 0x7C00 : 0);
		return true;
	}
	if (a > 65504.0 || a < 0x1p-24)
		return false;
	if (a < 0x1p-14) {
		/* subnormal: a multiple of 2^-24 (scaling by 2^24 is exact) */
		m = a * 0x1p24;
		if (m != floor(m))
			return false;
		*h = sign | (uint16_t)m;
		return true;
	}
	m = frexp(a, &e) * 2048;        /* 11 significant bits: [1024, 2048) */
	if (m != floor(m))
		return false;
	*h = sign | (uint16_t)((e + 14) << 10) | (uint16_t)((uint16_t)m - 1024);
	return true;
}

static void put_float(struct buf *out, double f)
{
	unsigned char b[9];
	uint16_t h;

	if (half_exact(f, &h)) {
		b[0] = 0xF9;
		b[1] = (unsigned char)(h >> 8);
		b[2] = (unsigned char)h;
		buf_add(out, b, 3);
	} else if (fabs(f) <= FLT_MAX && (double)(float)f == f) {
		/* (float)f is undefined outside float's range: tested first */
		buf_add(out, b, cbor_encode_single((float)f, b, sizeof(b)));
	} else {
		buf_add(out, b, cbor_encode_double(f, b, sizeof(b)));
	}
}

static void put_value(struct buf *out, const struct dm_value *v)
{
	unsigned char b[9];
	char lnk[12];

	switch (v->type) {
	case DM_T_INT:
	case DM_T_TIME:
		put_int(out, v->i);
		break;
	case DM_T_UINT:
		put_uint(out, v->u);
		break;
	case DM_T_FLOAT:
		put_float(out, v->f);
		break;
	case DM_T_BOOL:
		buf_add(out, b, cbor_encode_bool(v->b, b, sizeof(b)));
		break;
	case DM_T_STRING:
	case DM_T_CORELNK:
		put_head(out, cbor_encode_string_start, v->bytes.len);
		buf_add(out, v->bytes.p, v->bytes.len);
		break;
	case DM_T_OPAQUE:
		put_head(out, cbor_encode_bytestring_start, v->bytes.len);
		buf_add(out, v->bytes.p, v->bytes.len);
		break;
	case DM_T_OBJLNK:
		snprintf(lnk, sizeof(lnk), "%u:%u", v->lnk.oid, v->lnk.iid);
		put_head(out, cbor_encode_string_start, strlen(lnk));
		buf_add(out, lnk, strlen(lnk));
		break;
	case DM_T_NONE:
		break;
	}
}

static int path_cmp(const struct dm_path *a, const struct dm_path *b)
{
	int i;

	for (i = 0; i < a->len && i < b->len; i++)
		if (a->id[i] != b->id[i])
			return a->id[i] < b->id[i] ? -1 : 1;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* a is b or one of its parents */
static bool path_prefix(const struct dm_path *a, const struct dm_path *b)
{
	return a->len <= b->len && !memcmp(a->id, b->id, a->len * sizeof(a->id[0]));
}

/* By path, and by position for equal paths (the pointers share one array). */
static int rec_cmp(const void *x, const void *y)
{
	const struct dm_rec *a = *(const struct dm_rec *const *)x;
	const struct dm_rec *b = *(const struct dm_rec *const *)y;
	int c = path_cmp(&a->path, &b->path);

	return c ? c : (a > b) - (a < b);
}

/* Writes the map for r[lo..hi), whose paths share their first d ids and are
 * all longer than d.  Recurses once per path level, so at most four deep. */
static void put_map(struct enc *e, size_t lo, size_t hi, int d)
{
	const struct dm_path *p, *q;
	size_t i, j, count = 0;
	int k, end;

	for (i = lo; i < hi; i++)
		count += i == lo || e->r[i]->path.id[d] != e->r[i - 1]->path.id[d];
	put_head(e->out, cbor_encode_map_start, count);
	for (i = lo; i < hi; i = j) {
		for (j = i + 1; j < hi && e->r[j]->path.id[d] == e->r[i]->path.id[d]; j++)
			;
		/* r[i..j) share id[d]: fold the levels they all share into one key.
		 * Paths are sorted and none is a prefix of another, so comparing
		 * the first and the last is enough. */
		p = &e->r[i]->path;
		q = &e->r[j - 1]->path;
		for (end = d + 1; end < p->len && end < q->len && p->id[end] == q->id[end]; end++)
			;
		if (end - d == 1) {
			put_uint(e->out, p->id[d]);
		} else {
			put_head(e->out, cbor_encode_array_start, (size_t)(end - d));
			for (k = d; k < end; k++)
				put_uint(e->out, p->id[k]);
		}
		if (j - i == 1 && end == p->len)
			put_value(e->out, &e->r[i]->v);
		else
			put_map(e, i, j, end);
	}
}

int codec_lwm2m_cbor_encode(const struct dm_path *base, const struct dm_recs *recs,
			    struct buf *out, struct errbuf *err)
{
	char a[DM_PATH_STR_MAX];
	struct enc e = { .out = out };
	size_t i, n = 0, m = 0;
	int rc;

	rc = codec_check_recs(base, recs, err);
	if (rc)
		return rc;
	if (recs->n) {
		e.r = malloc(recs->n * sizeof(*e.r));
		if (!e.r)
			return errbuf_set(err, LWM_EINTERNAL, "out of memory");
	}
	for (i = 0; i < recs->n; i++)
		if (recs->r[i].v.type != DM_T_NONE)
			e.r[n++] = &recs->r[i];
	if (n)
		qsort(e.r, n, sizeof(*e.r), rec_cmp);
	for (i = 0; i < n; i++) {
		/* a Read-Composite of overlapping paths reads a value twice; a
		 * map holds it once, and the first read stands */
		if (m && !path_cmp(&e.r[m - 1]->path, &e.r[i]->path))
			continue;
		if (m && path_prefix(&e.r[m - 1]->path, &e.r[i]->path)) {
			rc = errbuf_set(err, LWM_EINTERNAL, "%s has a value and values below it",
					dm_path_str(&e.r[m - 1]->path, a, sizeof(a)));
			free(e.r);
			return rc;
		}
		e.r[m++] = e.r[i];
	}
	put_map(&e, 0, m, 0);
	free(e.r);
	return out->oom ? errbuf_set(err, LWM_EINTERNAL, "out of memory") : 0;
}

/* ---- decoding ---------------------------------------------------------- */

/* The root map and one map per path level below it. */
#define MAX_MAPS 5

struct map {
	int64_t left;           /* keys and values left; -1: indefinite */
	uint8_t plen;           /* path length above this map's keys */
	bool empty;             /* no key seen yet */
};

struct ldec {
	const struct dm_path *base;
	struct dm_recs *recs;
	struct errbuf *err;
	int rc;
	size_t off;             /* offset of the item being decoded */
	int depth;              /* maps open */
	bool done;              /* the root map is complete */
	struct map map[MAX_MAPS];
	struct dm_path path;    /* where the current key leads */
	bool want_key;
	bool in_key;            /* inside an array key */
	int64_t key_left;       /* its ids left; -1: indefinite */
	bool tagged;            /* tag 1 came: a Time follows */
	struct cbor_stream s;   /* the callbacks' context, indefinite strings */
};

static void fail(struct ldec *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct ldec *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->rc)
		return;
	c->rc = LWM_EBADREQ;
	if (!c->err)
		return;
	n = snprintf(c->err->msg, sizeof(c->err->msg), "LwM2M CBOR at offset %zu: ", c->off);
	if (n < 0 || (size_t)n >= sizeof(c->err->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(c->err->msg + n, sizeof(c->err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

static const char *pstr(const struct dm_path *p, char *s)
{
	return dm_path_str(p, s, DM_PATH_STR_MAX);
}

static struct map *top(struct ldec *c)
{
	return &c->map[c->depth - 1];
}

static void add_rec(struct ldec *c, const struct dm_value *v)
{
	char a[DM_PATH_STR_MAX], b[DM_PATH_STR_MAX];
	struct dm_path p = c->path;
	int i;

	if (p.len < c->base->len)
		return fail(c, "%s is not under %s", pstr(&p, a), pstr(c->base, b));
	if (v->type != DM_T_NONE && p.len < 3)
		return fail(c, "a value for %s, which is not a resource", pstr(&p, a));
	for (i = p.len; i < 4; i++)
		p.id[i] = DM_NONE;      /* as dm_path_parse() leaves them */
	if (dm_recs_add(c->recs, &p, v) && !c->rc)
		c->rc = errbuf_set(c->err, LWM_EINTERNAL, "out of memory");
}

static void value_done(struct ldec *c);

/* The innermost map has ended. */
static void map_close(struct ldec *c)
{
	struct map *m = top(c);

	c->path.len = m->plen;
	if (c->depth > 1 && m->empty)
		add_rec(c, &(struct dm_value){ .type = DM_T_NONE });
	if (c->rc)
		return;
	if (--c->depth == 0) {
		c->done = true;
		return;
	}
	value_done(c);          /* the map was a value in its parent */
}

/* One key or value of the innermost map is complete. */
static void map_item(struct ldec *c)
{
	struct map *m = top(c);

	if (m->left > 0 && --m->left == 0)
		map_close(c);
}

static void key_done(struct ldec *c)
{
	c->in_key = false;
	c->want_key = false;
	top(c)->empty = false;
	map_item(c);
}

static void value_done(struct ldec *c)
{
	c->want_key = true;
	c->path.len = top(c)->plen;
	map_item(c);
}

static void key_id(struct ldec *c, const struct cbor_item *it)
{
	char a[DM_PATH_STR_MAX], b[DM_PATH_STR_MAX];
	uint8_t i = c->path.len;

	if (it->kind != I_UINT)
		return fail(c, c->in_key ? "a path element must be an unsigned integer" :
			    "a key must be an id or an array of ids");
	if (it->u > DM_MAX_ID)
		return fail(c, "id %llu is above %u", (unsigned long long)it->u, DM_MAX_ID);
	if (i == 4)
		return fail(c, "%s/%llu is deeper than a resource instance", pstr(&c->path, a),
			    (unsigned long long)it->u);
	c->path.id[i] = (uint16_t)it->u;
	c->path.len++;
	if (i < c->base->len && c->base->id[i] != it->u)
		return fail(c, "%s is not under %s", pstr(&c->path, a), pstr(c->base, b));
}

static bool take_time(struct ldec *c, const struct cbor_item *it, struct dm_value *v)
{
	int64_t t;
	int rc = cbor_item_time(it, &t);

	if (rc) {
		fail(c, rc == -EINVAL ? "tag 1 (a time) must mark a number" : "time out of range");
		return false;
	}
	*v = dm_time(t);
	return true;
}

static void value(struct ldec *c, const struct cbor_item *it)
{
	struct dm_value v;

	if (c->tagged) {
		c->tagged = false;
		if (!take_time(c, it, &v))
			return;
	} else {
		switch (it->kind) {
		case I_UINT:
			v = it->u > INT64_MAX ? dm_uint(it->u) : dm_int((int64_t)it->u);
			break;
		case I_NEGINT:
			if (it->u > INT64_MAX)
				return fail(c, "integer below the 64-bit range");
			v = dm_int(-1 - (int64_t)it->u);
			break;
		case I_FLOAT:
			v = dm_float(it->f);
			break;
		case I_BOOL:
			v = dm_bool(it->b);
			break;
		case I_TEXT:
		case I_BYTES:
			v = (struct dm_value){ .type = it->kind == I_TEXT ? DM_T_STRING : DM_T_OPAQUE,
					       .bytes = { it->p, it->len } };
			break;
		case I_NULL:
			v = (struct dm_value){ .type = DM_T_NONE };
			break;
		default:
			return fail(c, "undefined is no value");
		}
	}
	add_rec(c, &v);
	if (!c->rc)
		value_done(c);
}

/* Every state but the root's content refuses an item the same way. */
static bool refused(struct ldec *c)
{
	if (c->rc)
		return true;
	if (c->s.chunked) {
		fail(c, "indefinite string holds another item");
		return true;
	}
	if (c->done) {
		fail(c, "data after the map");
		return true;
	}
	if (!c->depth) {
		fail(c, "the root is not a map");
		return true;
	}
	return false;
}

static void item(struct ldec *c, const struct cbor_item *it)
{
	if (refused(c))
		return;
	if (c->in_key) {
		key_id(c, it);
		if (!c->rc && c->key_left > 0 && --c->key_left == 0)
			key_done(c);
	} else if (c->want_key) {
		c->path.len = top(c)->plen;
		key_id(c, it);
		if (!c->rc)
			key_done(c);
	} else {
		value(c, it);
	}
}

static void container(struct ldec *c, bool is_map, size_t size, bool indefinite)
{
	char a[DM_PATH_STR_MAX];
	struct map *m;

	if (c->rc)
		return;
	if (c->depth == 0 && !c->done && !c->s.chunked) {
		if (!is_map)
			return fail(c, "the root is not a map");
	} else if (refused(c)) {
		return;
	} else if (c->in_key) {
		return fail(c, "a path element must be an unsigned integer");
	} else if (c->want_key && is_map) {
		return fail(c, "a key must be an id or an array of ids");
	} else if (c->want_key) {
		if (!indefinite && !size)
			return fail(c, "a key is an empty path");
		/* a 5th id fails in key_id(): no size check needed here */
		c->in_key = true;
		c->key_left = indefinite ? -1 : (int64_t)(size > 5 ? 5 : size);
		c->path.len = top(c)->plen;
		return;
	} else if (c->tagged) {
		return fail(c, "tag 1 (a time) must mark a number");
	} else if (!is_map) {
		return fail(c, "%s: an array is no value", pstr(&c->path, a));
	} else if (c->path.len == 4) {
		return fail(c, "%s: a map below a resource instance", pstr(&c->path, a));
	}
	/* sizes come from the payload: keep them clear of the -1 marker */
	if (!indefinite && size > INT64_MAX / 2)
		return fail(c, "map of %zu pairs", size);
	m = &c->map[c->depth++];
	m->left = indefinite ? -1 : (int64_t)size * 2;
	m->plen = c->path.len;
	m->empty = true;
	c->want_key = true;
	if (!indefinite && !size)
		map_close(c);
}

/* ---- the stream's operations -------------------------------------------- */

static struct ldec *ldec_of(struct cbor_stream *s)
{
	return container_of(s, struct ldec, s);
}

static bool op_failed(struct cbor_stream *s) { return ldec_of(s)->rc != 0; }
static void op_fail(struct cbor_stream *s, const char *msg) { fail(ldec_of(s), "%s", msg); }

static void op_oom(struct cbor_stream *s)
{
	struct ldec *c = ldec_of(s);

	c->rc = errbuf_set(c->err, LWM_EINTERNAL, "out of memory");
}

static void op_item(struct cbor_stream *s, const struct cbor_item *it)
{
	item(ldec_of(s), it);
}

static void op_container(struct cbor_stream *s, bool is_map, size_t size, bool indefinite)
{
	container(ldec_of(s), is_map, size, indefinite);
}

static void op_tag(struct cbor_stream *s, uint64_t tag)
{
	struct ldec *c = ldec_of(s);

	if (refused(c))
		return;
	if (c->in_key || c->want_key)
		return fail(c, "a tag in a key");
	if (tag != 1)
		return fail(c, "CBOR tag %llu is not understood", (unsigned long long)tag);
	if (c->tagged)
		return fail(c, "tag 1 given twice");
	c->tagged = true;
}

static bool op_string_start(struct cbor_stream *s)
{
	struct ldec *c = ldec_of(s);

	if (c->done) {
		fail(c, "data after the map");
		return false;
	}
	return true;
}

static void op_break(struct cbor_stream *s)
{
	struct ldec *c = ldec_of(s);

	if (c->done)
		return fail(c, "data after the map");
	if (c->in_key && c->key_left < 0) {
		if (c->path.len == top(c)->plen)
			return fail(c, "a key is an empty path");
		return key_done(c);
	}
	if (c->depth && !c->in_key && top(c)->left < 0) {
		if (c->tagged)
			return fail(c, "tag 1 (a time) must mark a number");
		if (!c->want_key)
			return fail(c, "a key without a value");
		return map_close(c);
	}
	fail(c, "unexpected break");
}

static const struct cbor_stream_ops ops = {
	.failed = op_failed, .fail = op_fail, .oom = op_oom,
	.item = op_item, .container = op_container, .tag = op_tag, .brk = op_break,
	.string_start = op_string_start,
};

/* The decoded records r[0..n), n > 1, form a tree: no path is given twice,
 * and none lies below another (a leaf cannot also be a parent). */
static int check_tree(struct dm_rec *r, size_t n, struct errbuf *err)
{
	char a[DM_PATH_STR_MAX], b[DM_PATH_STR_MAX];
	const struct dm_rec **s;
	size_t i;
	int rc = 0;

	s = malloc(n * sizeof(*s));
	if (!s)
		return errbuf_set(err, LWM_EINTERNAL, "out of memory");
	for (i = 0; i < n; i++)
		s[i] = &r[i];
	qsort(s, n, sizeof(*s), rec_cmp);
	/* sorted, a path's descendants follow it directly */
	for (i = 1; i < n && !rc; i++) {
		if (!path_prefix(&s[i - 1]->path, &s[i]->path))
			continue;
		if (s[i - 1]->path.len == s[i]->path.len)
			rc = errbuf_set(err, LWM_EBADREQ, "LwM2M CBOR: %s is given twice",
					pstr(&s[i]->path, a));
		else
			rc = errbuf_set(err, LWM_EBADREQ, "LwM2M CBOR: %s is given, and %s below it",
					pstr(&s[i - 1]->path, a), pstr(&s[i]->path, b));
	}
	free(s);
	return rc;
}

int codec_lwm2m_cbor_decode(const struct dm_path *base, const uint8_t *p, size_t len,
			    struct dm_recs *recs, struct errbuf *err)
{
	struct ldec c = { .s.ops = &ops, .base = base, .recs = recs, .err = err };
	struct cbor_decoder_result res;
	size_t n0 = recs->n;

	buf_init(&c.s.chunks);
	while (c.off < len && !c.rc) {
		res = cbor_stream_decode(p + c.off, len - c.off, &cbor_stream_callbacks, &c.s);
		if (c.rc)
			break;
		if (res.status == CBOR_DECODER_NEDATA)
			fail(&c, "CBOR truncated");
		else if (res.status != CBOR_DECODER_FINISHED || !res.read)
			fail(&c, "malformed CBOR");
		c.off += res.read;
	}
	if (!c.rc && !len)
		c.rc = errbuf_set(err, LWM_EBADREQ, "LwM2M CBOR: the payload is empty");
	if (!c.rc && !c.done)
		c.rc = errbuf_set(err, LWM_EBADREQ, "LwM2M CBOR: the map is incomplete");
	if (!c.rc && recs->n - n0 > 1)  /* (recs->r may still be NULL) */
		c.rc = check_tree(recs->r + n0, recs->n - n0, err);
	buf_fini(&c.s.chunks);
	if (c.rc)
		recs->n = n0;
	return c.rc;
}
