/* codec_tlv.c - OMA TLV (content format 11542, TS Core 1.1 section 7.4.3).
 *
 * Each TLV is a type byte (what it is and how wide its id and length fields
 * are), an 8- or 16-bit id, a 0/8/16/24-bit length and the value.  Object
 * Instance TLVs hold Resource TLVs; Multiple Resource TLVs hold Resource
 * Instance TLVs.  Which of them may appear at the top of a payload depends on
 * the path it was sent to, and the decoder enforces that.
 *
 * Values carry no type: decoded ones stay raw (DM_RAW_TLV) until the resource
 * table types them in dm_value_coerce().  The encoder writes integers in the
 * smallest of 1, 2, 4 or 8 bytes and floats in 4 bytes when that is exact. */
#include "codec.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	TLV_OI = 0,             /* Object Instance: holds Resource TLVs */
	TLV_RI = 1,             /* Resource Instance: a value */
	TLV_MULTI = 2,          /* Multiple Resource: holds Resource Instance TLVs */
	TLV_RES = 3,            /* Resource with Value */
};

static const char *const tlv_name[] = {
	[TLV_OI] = "Object Instance",
	[TLV_RI] = "Resource Instance",
	[TLV_MULTI] = "Multiple Resource",
	[TLV_RES] = "Resource",
};

#define TLV_MAX_LEN 0xFFFFFFu   /* what a 24-bit length field holds */

/* ---- decoding ---------------------------------------------------------- */

struct tlv {
	int type;
	uint16_t id;
	const uint8_t *val;
	size_t len;
	size_t off;             /* of the type byte, for messages */
};

struct dec {
	const uint8_t *start;
	struct dm_recs *recs;
	struct errbuf *err;
	struct dm_path *seen;   /* the path of every TLV, to find duplicates */
	size_t nseen, capseen;
};

/* Reads the TLV at *pp (before end) into t and advances *pp past it. */
static int tlv_next(struct dec *d, const uint8_t **pp, const uint8_t *end, struct tlv *t)
{
	const uint8_t *p = *pp;
	size_t idw, lenw, need, i;

	t->off = (size_t)(p - d->start);
	t->type = p[0] >> 6;
	idw = p[0] & 0x20 ? 2 : 1;
	lenw = p[0] >> 3 & 3;
	need = 1 + idw + lenw;
	if ((size_t)(end - p) < need)
		return errbuf_set(d->err, LWM_EBADREQ, "TLV at offset %zu: header truncated",
				  t->off);
	t->id = idw == 2 ? (uint16_t)(p[1] << 8 | p[2]) : p[1];
	if (lenw == 0) {
		t->len = p[0] & 7;
	} else {
		t->len = 0;
		for (i = 0; i < lenw; i++)
			t->len = t->len << 8 | p[1 + idw + i];
	}
	if (t->len > (size_t)(end - p) - need)
		return errbuf_set(d->err, LWM_EBADREQ,
				  "TLV at offset %zu: %s %u of %zu bytes runs past the end",
				  t->off, tlv_name[t->type], t->id, t->len);
	if (t->id > DM_MAX_ID)
		return errbuf_set(d->err, LWM_EBADREQ, "TLV at offset %zu: id 65535 is reserved",
				  t->off);
	t->val = p + need;
	*pp = t->val + t->len;
	return 0;
}

static int misplaced(struct dec *d, const struct tlv *t, const char *where)
{
	return errbuf_set(d->err, LWM_EBADREQ, "TLV at offset %zu: %s %u %s", t->off,
			  tlv_name[t->type], t->id, where);
}

static struct dm_path path_add(const struct dm_path *p, uint16_t id)
{
	struct dm_path q = *p;

	q.id[q.len++] = id;
	return q;
}

/* Notes that a TLV stood for path: the same path twice is an error, found
 * at the end by sorting. */
static int seen(struct dec *d, const struct dm_path *path)
{
	struct dm_path *s;
	size_t cap;

	if (d->nseen == d->capseen) {
		cap = d->capseen ? d->capseen * 2 : 16;
		s = reallocarray(d->seen, cap, sizeof(*s));
		if (!s)
			return errbuf_set(d->err, LWM_EINTERNAL, "out of memory");
		d->seen = s;
		d->capseen = cap;
	}
	d->seen[d->nseen++] = *path;
	return 0;
}

static int add(struct dec *d, const struct dm_path *path, const struct dm_value *v)
{
	if (dm_recs_add(d->recs, path, v))
		return errbuf_set(d->err, LWM_EINTERNAL, "out of memory");
	return 0;
}

static int add_value(struct dec *d, const struct dm_path *path, const struct tlv *t)
{
	struct dm_value v = {
		.type = DM_T_OPAQUE, .raw = DM_RAW_TLV, .bytes = { t->val, t->len },
	};
	int rc = seen(d, path);

	return rc ? rc : add(d, path, &v);
}

/* t is a Multiple Resource TLV for resource path res (len 3). */
static int dec_multi(struct dec *d, const struct dm_path *res, const struct tlv *t)
{
	const uint8_t *p = t->val, *end = t->val + t->len;
	struct dm_value none = { .type = DM_T_NONE };
	struct dm_path ri;
	struct tlv c;
	int rc;

	rc = seen(d, res);
	if (rc)
		return rc;
	if (p == end)
		return add(d, res, &none);  /* no instances: see codec.h */
	while (p < end) {
		rc = tlv_next(d, &p, end, &c);
		if (rc)
			return rc;
		if (c.type != TLV_RI)
			return misplaced(d, &c, "inside a Multiple Resource");
		ri = path_add(res, c.id);
		rc = add_value(d, &ri, &c);
		if (rc)
			return rc;
	}
	return 0;
}

/* t is a Resource or Multiple Resource TLV inside instance inst (len 2). */
static int dec_resource(struct dec *d, const struct dm_path *inst, const struct tlv *t)
{
	struct dm_path res = path_add(inst, t->id);

	if (t->type == TLV_RES)
		return add_value(d, &res, t);
	if (t->type == TLV_MULTI)
		return dec_multi(d, &res, t);
	return misplaced(d, t, "where a resource belongs");
}

/* t is an Object Instance TLV in object obj (len 1). */
static int dec_instance(struct dec *d, const struct dm_path *obj, const struct tlv *t)
{
	const uint8_t *p = t->val, *end = t->val + t->len;
	struct dm_path inst = path_add(obj, t->id);
	struct tlv c;
	int rc;

	rc = seen(d, &inst);
	if (rc)
		return rc;
	while (p < end) {
		rc = tlv_next(d, &p, end, &c);
		if (rc)
			return rc;
		if (c.type == TLV_OI)
			return misplaced(d, &c, "inside an Object Instance");
		rc = dec_resource(d, &inst, &c);
		if (rc)
			return rc;
	}
	return 0;
}

static int dec_top(struct dec *d, const struct dm_path *base, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	struct dm_path up, below;
	char ps[DM_PATH_STR_MAX];
	int ntop = 0, kinds = 0, rc;
	struct tlv t;

	if (base->len >= 3 && !len)
		return errbuf_set(d->err, LWM_EBADREQ, "empty TLV payload for %s",
				  dm_path_str(base, ps, sizeof(ps)));
	while (p < end) {
		rc = tlv_next(d, &p, end, &t);
		if (rc)
			return rc;
		ntop++;
		kinds |= 1 << t.type;
		switch (base->len) {
		case 1:
			if (t.type == TLV_OI) {
				rc = dec_instance(d, base, &t);
			} else {
				/* Create without an instance id: the client picks it */
				up = path_add(base, DM_NONE);
				rc = dec_resource(d, &up, &t);
			}
			if (!rc && kinds & 1 << TLV_OI && kinds != 1 << TLV_OI)
				rc = misplaced(d, &t, "beside Object Instance TLVs");
			break;
		case 2:
			if (t.type == TLV_OI) {
				/* some servers wrap a write to /o/i in its instance */
				if (t.id != base->id[1])
					return misplaced(d, &t,
							 "in a payload for another instance");
				if (ntop > 1 || p != end)
					return misplaced(d, &t, "beside other TLVs");
				up = dm_path_make(1, base->id[0]);
				return dec_instance(d, &up, &t);
			}
			rc = dec_resource(d, base, &t);
			break;
		case 3:
			if (t.type == TLV_OI)
				return misplaced(d, &t, "in a payload for a resource");
			if (t.type == TLV_RI) {
				/* a Resource TLV before it would have failed already */
				below = path_add(base, t.id);
				rc = add_value(d, &below, &t);
				break;
			}
			if (t.id != base->id[2])
				return misplaced(d, &t, "in a payload for another resource");
			if (ntop > 1 || p != end)
				return misplaced(d, &t, "beside other TLVs");
			up = dm_path_make(2, base->id[0], base->id[1]);
			rc = dec_resource(d, &up, &t);
			break;
		case 4:
			if (t.type != TLV_RI)
				return misplaced(d, &t, "in a payload for a resource instance");
			if (t.id != base->id[3])
				return misplaced(d, &t, "in a payload for another instance");
			if (ntop > 1 || p != end)
				return misplaced(d, &t, "beside other TLVs");
			rc = add_value(d, base, &t);
			break;
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int path_cmp(const void *a, const void *b)
{
	const struct dm_path *p = a, *q = b;
	int i;

	if (p->len != q->len)
		return p->len - q->len;
	for (i = 0; i < p->len; i++)
		if (p->id[i] != q->id[i])
			return p->id[i] - q->id[i];
	return 0;
}

int codec_tlv_decode(const struct dm_path *base, const uint8_t *p, size_t len,
		     struct dm_recs *recs, struct errbuf *err)
{
	struct dec d = { .start = p, .recs = recs, .err = err };
	char ps[DM_PATH_STR_MAX];
	size_t n0 = recs->n, i;
	int rc;

	if (base->len == 0) {
		rc = errbuf_set(err, LWM_EBADREQ, "TLV needs an object path, not /");
		goto fail;
	}
	rc = dec_top(&d, base, p, len);
	if (rc)
		goto fail;
	if (d.nseen > 1)
		qsort(d.seen, d.nseen, sizeof(*d.seen), path_cmp);
	for (i = 1; i < d.nseen; i++) {
		if (!path_cmp(&d.seen[i - 1], &d.seen[i])) {
			rc = errbuf_set(err, LWM_EBADREQ, "TLV payload holds %s twice",
					dm_path_str(&d.seen[i], ps, sizeof(ps)));
			goto fail;
		}
	}
	free(d.seen);
	return 0;
fail:
	free(d.seen);
	recs->n = n0;
	return rc;
}

/* ---- encoding ---------------------------------------------------------- */

struct enc {
	struct buf *out;        /* NULL: only count into n */
	size_t n;
	struct errbuf *err;
};

static void put(struct enc *e, const void *p, size_t len)
{
	e->n += len;
	if (e->out)
		buf_add(e->out, p, len);
}

static int put_hdr(struct enc *e, int type, uint16_t id, size_t len)
{
	uint8_t h[6];
	size_t n = 1;

	if (len > TLV_MAX_LEN)
		return errbuf_set(e->err, LWM_EINTERNAL, "TLV value of %zu bytes is over the limit",
				  len);
	h[0] = (uint8_t)(type << 6);
	if (id > 0xFF) {
		h[0] |= 0x20;
		h[n++] = (uint8_t)(id >> 8);
	}
	h[n++] = (uint8_t)id;
	if (len < 8) {
		h[0] |= (uint8_t)len;
	} else if (len <= 0xFF) {
		h[0] |= 0x08;
		h[n++] = (uint8_t)len;
	} else if (len <= 0xFFFF) {
		h[0] |= 0x10;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else {
		h[0] |= 0x18;
		h[n++] = (uint8_t)(len >> 16);
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	}
	put(e, h, n);
	return 0;
}

static size_t put_be(uint8_t *tmp, uint64_t v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		tmp[i] = (uint8_t)(v >> (8 * (len - 1 - i)));
	return len;
}

static size_t int_width(int64_t i)
{
	if (i >= INT8_MIN && i <= INT8_MAX)
		return 1;
	if (i >= INT16_MIN && i <= INT16_MAX)
		return 2;
	if (i >= INT32_MIN && i <= INT32_MAX)
		return 4;
	return 8;
}

static bool float_exact(double f)
{
	/* (float)f is undefined outside float's range, so test that first */
	if (isfinite(f) && fabs(f) > FLT_MAX)
		return false;
	return isinf(f) || (double)(float)f == f;
}

/* Sets *p, *len to r's value field, built in tmp for numbers. */
static void value_field(const struct dm_value *v, uint8_t tmp[8], const uint8_t **p, size_t *len)
{
	uint32_t w;
	uint64_t u;
	float f4;

	*p = tmp;
	switch (v->type) {
	case DM_T_INT:
	case DM_T_TIME:
		*len = put_be(tmp, (uint64_t)v->i, int_width(v->i));
		break;
	case DM_T_UINT:
		/* keep the top bit clear, so a reader taking it as signed agrees */
		*len = put_be(tmp, v->u, v->u > INT64_MAX ? 8 : int_width((int64_t)v->u));
		break;
	case DM_T_FLOAT:
		if (float_exact(v->f)) {
			f4 = (float)v->f;
			memcpy(&w, &f4, 4);
			*len = put_be(tmp, w, 4);
		} else {
			memcpy(&u, &v->f, 8);
			*len = put_be(tmp, u, 8);
		}
		break;
	case DM_T_BOOL:
		tmp[0] = v->b;
		*len = 1;
		break;
	case DM_T_OBJLNK:
		put_be(tmp, v->lnk.oid, 2);
		put_be(tmp + 2, v->lnk.iid, 2);
		*len = 4;
		break;
	default:        /* bytes; DM_T_NONE is never passed */
		*p = v->bytes.p;
		*len = v->bytes.len;
		break;
	}
}

static int put_value(struct enc *e, int type, uint16_t id, const struct dm_value *v)
{
	const uint8_t *p;
	uint8_t tmp[8];
	size_t len;
	int rc;

	value_field(v, tmp, &p, &len);
	rc = put_hdr(e, type, id, len);
	if (!rc)
		put(e, p, len);
	return rc;
}

/* r[0..n) are the records of one resource. */
static int put_resource(struct enc *e, const struct dm_rec *r, size_t n)
{
	struct enc count = { .err = e->err };
	char ps[DM_PATH_STR_MAX];
	uint16_t rid = r[0].path.id[2];
	size_t i;
	int rc;

	if (r[0].path.len == 3) {
		if (n > 1)
			return errbuf_set(e->err, LWM_EINTERNAL, "resource %s is given twice",
					  dm_path_str(&r[0].path, ps, sizeof(ps)));
		if (r[0].v.type == DM_T_NONE)
			return put_hdr(e, TLV_MULTI, rid, 0);
		return put_value(e, TLV_RES, rid, &r[0].v);
	}
	for (i = 0; i < n; i++) {
		if (r[i].path.len != 4 || r[i].v.type == DM_T_NONE)
			return errbuf_set(e->err, LWM_EINTERNAL,
					  "bad record %s in a multiple resource",
					  dm_path_str(&r[i].path, ps, sizeof(ps)));
		rc = put_value(&count, TLV_RI, r[i].path.id[3], &r[i].v);
		if (rc)
			return rc;
	}
	rc = put_hdr(e, TLV_MULTI, rid, count.n);
	for (i = 0; !rc && i < n; i++)
		rc = put_value(e, TLV_RI, r[i].path.id[3], &r[i].v);
	return rc;
}

/* r[0..n) are records of one instance; a value-less one at the instance
 * itself only says that it exists. */
static int put_resources(struct enc *e, const struct dm_rec *r, size_t n)
{
	size_t i = 0, j;
	int rc;

	while (i < n) {
		if (r[i].path.len < 3) {
			i++;
			continue;
		}
		j = i + 1;
		while (j < n && r[j].path.len >= 3 && r[j].path.id[2] == r[i].path.id[2])
			j++;
		rc = put_resource(e, r + i, j - i);
		if (rc)
			return rc;
		i = j;
	}
	return 0;
}

static int put_instance(struct enc *e, const struct dm_rec *r, size_t n)
{
	struct enc count = { .err = e->err };
	int rc;

	rc = put_resources(&count, r, n);
	if (!rc)
		rc = put_hdr(e, TLV_OI, r[0].path.id[1], count.n);
	if (!rc)
		rc = put_resources(e, r, n);
	return rc;
}

int codec_tlv_encode(const struct dm_path *base, const struct dm_recs *recs, struct buf *out,
		     struct errbuf *err)
{
	struct enc e = { .out = out, .err = err };
	const struct dm_rec *r = recs->r;
	char ps[DM_PATH_STR_MAX];
	size_t i, j;
	int rc;

	if (base->len == 0)
		return errbuf_set(err, LWM_ENOTACCEPT, "TLV cannot carry the root path");
	rc = codec_check_recs(base, recs, err);
	if (rc)
		return rc;
	for (i = 0; i < recs->n; i++)
		if (r[i].path.len < 2 || (r[i].path.len == 4 && r[i].v.type == DM_T_NONE))
			return errbuf_set(err, LWM_EINTERNAL, "record %s has no place in TLV",
					  dm_path_str(&r[i].path, ps, sizeof(ps)));
	switch (base->len) {
	case 1:
		for (i = 0; i < recs->n; i = j) {
			for (j = i + 1; j < recs->n && r[j].path.id[1] == r[i].path.id[1]; j++)
				;
			rc = put_instance(&e, r + i, j - i);
			if (rc)
				return rc;
		}
		break;
	case 2:
	case 3:
		rc = put_resources(&e, r, recs->n);
		break;
	case 4:
		if (recs->n > 1)
			return errbuf_set(err, LWM_EINTERNAL, "%zu values for %s", recs->n,
					  dm_path_str(base, ps, sizeof(ps)));
		if (recs->n)
			rc = put_value(&e, TLV_RI, base->id[3], &r[0].v);
		break;
	}
	if (!rc && out->oom)
		rc = errbuf_set(err, LWM_EINTERNAL, "out of memory");
	return rc;
}
