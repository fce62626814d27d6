/* codec_senml_cbor.c - SenML CBOR (content format 112, RFC 8428 section 6).
 *
 * The same records as SenML JSON, with integer labels (bn -2, bt -3, n 0,
 * v 2, vs 3, vb 4, t 6, vd 8) and LwM2M's "vlo" as a text label.  Opaque is
 * a byte string; integers stay CBOR integers, so unsigned values keep all 64
 * bits.  Floats are written in 4 bytes when that is exact, else in 8.
 *
 * Decoding uses libcbor's streaming decoder rather than cbor_load(): a
 * SenML pack is flat (an array of maps of scalars), so a small state machine
 * validates it as it goes, and no item tree is built that a deeply nested
 * hostile payload could make expensive to build and free. */
#include "codec.h"
#include "codec_cbor_stream.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cbor.h>

enum {
	L_BVER = -1, L_BN = -2, L_BT = -3, L_BU = -4, L_BV = -5, L_BS = -6,
	L_N = 0, L_U = 1, L_V = 2, L_VS = 3, L_VB = 4, L_S = 5, L_T = 6, L_UT = 7, L_VD = 8,
	L_VLO = 100,            /* text label "vlo" */
	L_OTHER = 101,          /* a label we do not use */
};

/* ---- encoding ---------------------------------------------------------- */

static void put_head(struct buf *out, size_t (*enc)(size_t, unsigned char *, size_t), size_t n)
{
	unsigned char b[9];

	buf_add(out, b, enc(n, b, sizeof(b)));
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

static void put_text(struct buf *out, const void *p, size_t len)
{
	put_head(out, cbor_encode_string_start, len);
	buf_add(out, p, len);
}

static void put_float(struct buf *out, double f)
{
	unsigned char b[9];
	bool exact;

	/* (float)f is undefined outside float's range, so test that first */
	exact = isnan(f) ? false : isinf(f) || (fabs(f) <= FLT_MAX && (double)(float)f == f);
	if (exact)
		buf_add(out, b, cbor_encode_single((float)f, b, sizeof(b)));
	else
		buf_add(out, b, cbor_encode_double(f, b, sizeof(b)));
}

static void put_value(struct buf *out, const struct dm_value *v)
{
	unsigned char b[9];
	char lnk[12];

	switch (v->type) {
	case DM_T_INT:
	case DM_T_TIME:
		put_int(out, L_V);
		put_int(out, v->i);
		break;
	case DM_T_UINT:
		put_int(out, L_V);
		put_uint(out, v->u);
		break;
	case DM_T_FLOAT:
		put_int(out, L_V);
		put_float(out, v->f);
		break;
	case DM_T_BOOL:
		put_int(out, L_VB);
		buf_add(out, b, cbor_encode_bool(v->b, b, sizeof(b)));
		break;
	case DM_T_STRING:
	case DM_T_CORELNK:
		put_int(out, L_VS);
		put_text(out, v->bytes.p, v->bytes.len);
		break;
	case DM_T_OPAQUE:
		put_int(out, L_VD);
		put_head(out, cbor_encode_bytestring_start, v->bytes.len);
		buf_add(out, v->bytes.p, v->bytes.len);
		break;
	case DM_T_OBJLNK:
		put_text(out, "vlo", 3);
		snprintf(lnk, sizeof(lnk), "%u:%u", v->lnk.oid, v->lnk.iid);
		put_text(out, lnk, strlen(lnk));
		break;
	case DM_T_NONE:
		break;
	}
}

int codec_senml_cbor_encode(const struct dm_path *base, const struct dm_recs *recs,
			    struct buf *out, struct errbuf *err)
{
	char bn[DM_PATH_STR_MAX + 1], n[DM_PATH_STR_MAX];
	const struct dm_rec *r;
	size_t i, count = 0;
	bool first = true;
	int rc;

	rc = codec_check_recs(base, recs, err);
	if (rc)
		return rc;
	for (i = 0; i < recs->n; i++)
		count += recs->r[i].v.type != DM_T_NONE;
	codec_senml_bn(base, recs, bn, sizeof(bn));
	put_head(out, cbor_encode_array_start, count);
	for (i = 0; i < recs->n; i++) {
		r = &recs->r[i];
		if (r->v.type == DM_T_NONE)
			continue;
		codec_senml_n(base, &r->path, n, sizeof(n));
		if (!*n && bn[strlen(bn) - 1] == '/' && base->len)
			return errbuf_set(err, LWM_EINTERNAL, "%s has a value and values below it",
					  bn);
		put_head(out, cbor_encode_map_start, first + !!*n + 1 + !!r->time);
		if (first) {
			put_int(out, L_BN);
			put_text(out, bn, strlen(bn));
			first = false;
		}
		if (*n) {
			put_int(out, L_N);
			put_text(out, n, strlen(n));
		}
		put_value(out, &r->v);
		if (r->time) {
			put_int(out, L_T);
			put_int(out, r->time);
		}
	}
	return out->oom ? errbuf_set(err, LWM_EINTERNAL, "out of memory") : 0;
}

/* ---- decoding ---------------------------------------------------------- */

struct cdec {
	const struct dm_path *base;
	struct dm_recs *recs;
	struct errbuf *err;
	int rc;
	int depth;              /* 0: outside the pack, 1: in it, 2: in a record */
	int64_t left[2];        /* items left in the pack and the record; -1: indefinite */
	bool done;              /* the pack is complete */
	struct cbor_stream s;   /* the callbacks' context, indefinite strings */
	/* pack state */
	struct buf bn;
	int64_t bt;
	size_t index;
	/* the record being read */
	bool want_key;
	int key;
	uint32_t seen;          /* labels met in this record, for duplicates */
	struct buf name, bytes;
	bool has_n, has_t;
	int64_t t;
	struct dm_value v;
	int nvalues;
};

static void fail(struct cdec *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct cdec *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->rc)
		return;
	c->rc = LWM_EBADREQ;
	if (!c->err)
		return;
	n = snprintf(c->err->msg, sizeof(c->err->msg), "SenML record %zu: ", c->index);
	if (n < 0 || (size_t)n >= sizeof(c->err->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(c->err->msg + n, sizeof(c->err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void oom(struct cdec *c)
{
	if (!c->rc)
		c->rc = errbuf_set(c->err, LWM_EINTERNAL, "out of memory");
}

static void record_start(struct cdec *c)
{
	c->want_key = true;
	c->seen = 0;
	buf_reset(&c->name);
	buf_reset(&c->bytes);
	c->has_n = c->has_t = false;
	c->t = 0;
	c->v = (struct dm_value){ .type = DM_T_NONE };
	c->nvalues = 0;
}

static void record_end(struct cdec *c)
{
	struct dm_path path;
	struct dm_rec *r;
	int rc;

	if (c->nvalues > 1)
		return fail(c, "%d values", c->nvalues);
	rc = codec_senml_path(c->base, (const char *)buf_str(&c->bn), c->bn.len,
			      c->has_n ? buf_str(&c->name) : "", c->name.len, c->nvalues, &path,
			      c->err);
	if (rc) {
		c->rc = rc;
		return;
	}
	if (dm_recs_add(c->recs, &path, &c->v))
		return oom(c);
	r = &c->recs->r[c->recs->n - 1];
	r->time = c->bt;
	if (c->has_t && __builtin_add_overflow(c->bt, c->t, &r->time))
		return fail(c, "time out of range");
}

static void item_done(struct cdec *c);

static void record_close(struct cdec *c)
{
	record_end(c);
	c->depth = 1;
	c->index++;
	item_done(c);
}

/* A data item at pack or record level has ended. */
static void item_done(struct cdec *c)
{
	if (c->depth == 2) {
		c->want_key = !c->want_key;
		if (c->left[1] > 0 && --c->left[1] == 0)
			record_close(c);
	} else if (c->depth == 1) {
		if (c->left[0] > 0 && --c->left[0] == 0) {
			c->depth = 0;
			c->done = true;
		}
	}
}

static bool number(struct cdec *c, const struct cbor_item *it, int64_t *out)
{
	int rc = cbor_item_time(it, out);

	if (rc)
		fail(c, rc == -EINVAL ? "a time must be a number" : "time out of range");
	return !rc;
}

static void take_bytes(struct cdec *c, enum dm_type type, const struct cbor_item *it)
{
	buf_reset(&c->bytes);
	if (buf_add(&c->bytes, it->p, it->len))
		return oom(c);
	c->v = (struct dm_value){ .type = type, .bytes = { c->bytes.p, c->bytes.len } };
	c->nvalues++;
}

static uint32_t label_bit(int key)
{
	return key == L_VLO ? 1u << 20 : 1u << (key - L_BS);
}

static void set_key(struct cdec *c, const struct cbor_item *it)
{
	if (it->kind == I_UINT)
		c->key = it->u <= L_VD ? (int)it->u : L_OTHER;
	else if (it->kind == I_NEGINT)
		c->key = it->u <= 5 ? -1 - (int)it->u : L_OTHER;
	else if (it->kind == I_TEXT && it->len == 3 && !memcmp(it->p, "vlo", 3))
		c->key = L_VLO;
	else if (it->kind == I_TEXT && it->len && it->p[it->len - 1] == '_')
		return fail(c, "label \"%.*s\" is not understood",
			    (int)(it->len > 32 ? 32 : it->len), it->p);
	else if (it->kind == I_TEXT)
		c->key = L_OTHER;
	else
		return fail(c, "a label must be an integer or text");
	if (c->key == L_OTHER)
		return;
	if (c->seen & label_bit(c->key))
		return fail(c, "label %d given twice", c->key);
	c->seen |= label_bit(c->key);
}

static void set_value(struct cdec *c, const struct cbor_item *it)
{
	struct dm_value s;
	int rc;

	switch (c->key) {
	case L_BN:
		if (it->kind != I_TEXT)
			return fail(c, "bn must be text");
		buf_reset(&c->bn);
		if (buf_add(&c->bn, it->p, it->len))
			return oom(c);
		break;
	case L_BT:
		number(c, it, &c->bt);
		break;
	case L_N:
		if (it->kind != I_TEXT)
			return fail(c, "n must be text");
		if (buf_add(&c->name, it->p, it->len))
			return oom(c);
		c->has_n = true;
		break;
	case L_T:
		if (number(c, it, &c->t))
			c->has_t = true;
		break;
	case L_V:
		if (it->kind == I_UINT)
			c->v = it->u > INT64_MAX ? dm_uint(it->u) : dm_int((int64_t)it->u);
		else if (it->kind == I_NEGINT && it->u <= INT64_MAX)
			c->v = dm_int(-1 - (int64_t)it->u);
		else if (it->kind == I_NEGINT)
			return fail(c, "v below the 64-bit integer range");
		else if (it->kind == I_FLOAT)
			c->v = dm_float(it->f);
		else
			return fail(c, "v must be a number");
		c->nvalues++;
		break;
	case L_VB:
		if (it->kind != I_BOOL)
			return fail(c, "vb must be true or false");
		c->v = dm_bool(it->b);
		c->nvalues++;
		break;
	case L_VS:
		if (it->kind != I_TEXT)
			return fail(c, "vs must be text");
		take_bytes(c, DM_T_STRING, it);
		break;
	case L_VD:
		if (it->kind != I_BYTES)
			return fail(c, "vd must be a byte string");
		take_bytes(c, DM_T_OPAQUE, it);
		break;
	case L_VLO:
		if (it->kind != I_TEXT)
			return fail(c, "vlo must be text");
		s = (struct dm_value){ .type = DM_T_STRING, .bytes = { it->p, it->len } };
		rc = dm_value_coerce(&s, DM_T_OBJLNK, &c->v, c->err);
		if (rc) {
			c->rc = rc;
			return;
		}
		c->nvalues++;
		break;
	case L_BV:
	case L_BS:
	case L_S:
		return fail(c, "label %d (base value, base sum or sum) is not supported", c->key);
	default:
		break;  /* bver, units, update time and unknown labels change nothing */
	}
}

static void item(struct cdec *c, const struct cbor_item *it)
{
	if (c->rc)
		return;
	if (c->s.chunked)
		return fail(c, "indefinite string holds another item");
	if (c->done)
		return fail(c, "data after the pack");
	if (c->depth == 0)
		return fail(c, "SenML CBOR must be an array");
	if (c->depth == 1)
		return fail(c, "not a map");
	if (c->want_key)
		set_key(c, it);
	else
		set_value(c, it);
	if (!c->rc)
		item_done(c);
}

static void container(struct cdec *c, bool map, size_t size, bool indefinite)
{
	if (c->rc)
		return;
	if (c->s.chunked)
		return fail(c, "indefinite string holds another item");
	if (c->done)
		return fail(c, "data after the pack");
	/* sizes come from the payload: keep them clear of the -1 marker */
	if (!indefinite && size > INT64_MAX / 2)
		return fail(c, "%s of %zu items", map ? "map" : "array", size);
	if (!map && c->depth == 0) {
		c->depth = 1;
		c->left[0] = indefinite ? -1 : (int64_t)size;
		if (!indefinite && !size) {
			c->depth = 0;
			c->done = true;
		}
	} else if (map && c->depth == 1) {
		record_start(c);
		c->depth = 2;
		c->left[1] = indefinite ? -1 : (int64_t)size * 2;
		if (!indefinite && !size)
			record_close(c);
	} else {
		fail(c, c->depth == 0 ? "SenML CBOR must be an array" :
		     c->depth == 1 ? "not a map" : "nested arrays or maps");
	}
}

/* ---- the stream's operations -------------------------------------------- */

static struct cdec *cdec_of(struct cbor_stream *s)
{
	return container_of(s, struct cdec, s);
}

static bool op_failed(struct cbor_stream *s) { return cdec_of(s)->rc != 0; }
static void op_fail(struct cbor_stream *s, const char *msg) { fail(cdec_of(s), "%s", msg); }
static void op_oom(struct cbor_stream *s) { oom(cdec_of(s)); }

static void op_item(struct cbor_stream *s, const struct cbor_item *it)
{
	/* SenML takes undefined for null */
	if (it->kind == I_UNDEF)
		return item(cdec_of(s), &(struct cbor_item){ .kind = I_NULL });
	item(cdec_of(s), it);
}

static void op_container(struct cbor_stream *s, bool map, size_t size, bool indefinite)
{
	container(cdec_of(s), map, size, indefinite);
}

static void op_tag(struct cbor_stream *s, uint64_t tag)
{
	fail(cdec_of(s), "CBOR tag %llu has no place in SenML", (unsigned long long)tag);
}

static void op_break(struct cbor_stream *s)
{
	struct cdec *c = cdec_of(s);

	if (c->done)
		return fail(c, "data after the pack");
	if (c->depth == 2 && c->left[1] < 0) {
		if (!c->want_key)
			return fail(c, "a label without a value");
		record_close(c);
	} else if (c->depth == 1 && c->left[0] < 0) {
		c->depth = 0;
		c->done = true;
	} else {
		fail(c, "unexpected break");
	}
}

static const struct cbor_stream_ops ops = {
	.failed = op_failed, .fail = op_fail, .oom = op_oom,
	.item = op_item, .container = op_container, .tag = op_tag, .brk = op_break,
};

int codec_senml_cbor_decode(const struct dm_path *base, const uint8_t *p, size_t len,
			    struct dm_recs *recs, struct errbuf *err)
{
	struct cdec c = { .s.ops = &ops, .base = base, .recs = recs, .err = err };
	struct cbor_decoder_result res;
	size_t n0 = recs->n, off = 0;

	buf_init(&c.s.chunks);
	buf_init(&c.bn);
	buf_init(&c.name);
	buf_init(&c.bytes);
	while (off < len && !c.rc) {
		res = cbor_stream_decode(p + off, len - off, &cbor_stream_callbacks, &c.s);
		if (c.rc)
			break;
		if (res.status == CBOR_DECODER_NEDATA) {
			fail(&c, "CBOR truncated at offset %zu", off);
		} else if (res.status != CBOR_DECODER_FINISHED || !res.read) {
			fail(&c, "malformed CBOR at offset %zu", off);
		}
		off += res.read;
	}
	if (!c.rc && !c.done)
		fail(&c, "the pack is incomplete");
	buf_fini(&c.s.chunks);
	buf_fini(&c.bn);
	buf_fini(&c.name);
	buf_fini(&c.bytes);
	if (c.rc)
		recs->n = n0;
	return c.rc;
}
