/* value.c - paths, values and record lists of the data model.
 *
 * Plain data only: parsing and printing paths, building values, lists of
 * records that own their bytes, and turning a value (typed, or the raw bytes
 * of a text/plain or TLV payload) into the type a resource table asks for.
 * The registry, permission checks and object dispatch are dm.c's. */
#include "dm.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codec.h"

/* ---- record lists ------------------------------------------------------ */

/* Byte storage of a dm_recs.  Bytes go into chunks, never into the record
 * array: r[] moves when it grows, chunks do not, so a pointer to a value's
 * bytes handed out once stays good until dm_recs_fini(). */
struct dm_chunk {
	struct dm_chunk *next;
	size_t used, size;
	uint8_t data[];
};

#define CHUNK_SIZE 1024

void dm_recs_init(struct dm_recs *l)
{
	memset(l, 0, sizeof(*l));
}

void dm_recs_fini(struct dm_recs *l)
{
	struct dm_chunk *c, *next;

	for (c = l->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(l->r);
	dm_recs_init(l);
}

static bool has_bytes(const struct dm_value *v)
{
	if (v->raw != DM_RAW_NONE)
		return true;
	return v->type == DM_T_STRING || v->type == DM_T_OPAQUE || v->type == DM_T_CORELNK;
}

/* Copies len bytes and a NUL into l's chunks; NULL when memory ran out. */
static uint8_t *recs_store(struct dm_recs *l, const uint8_t *p, size_t len)
{
	struct dm_chunk *c = l->chunks;
	size_t need = len + 1, size;
	uint8_t *dst;

	if (need == 0)
		return NULL;
	if (!c || c->size - c->used < need) {
		size = need > CHUNK_SIZE / 4 ? need : CHUNK_SIZE;
		if (size > SIZE_MAX - sizeof(*c))
			return NULL;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = size;
		if (need > CHUNK_SIZE / 4 && l->chunks) {
			/* a large value gets a chunk of its own, filed behind the
			 * current one so that one's free space is still used */
			c->next = l->chunks->next;
			l->chunks->next = c;
		} else {
			c->next = l->chunks;
			l->chunks = c;
		}
	}
	dst = c->data + c->used;
	if (len)
		memcpy(dst, p, len);
	dst[len] = 0;
	c->used += need;
	return dst;
}

int dm_recs_add(struct dm_recs *l, const struct dm_path *path, const struct dm_value *v)
{
	struct dm_rec *r;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 8;
		r = reallocarray(l->r, cap, sizeof(*r));
		if (!r)
			return LWM_EINTERNAL;
		l->r = r;
		l->cap = cap;
	}
	r = &l->r[l->n];
	memset(r, 0, sizeof(*r));
	r->path = *path;
	r->v = *v;
	if (has_bytes(v)) {
		r->v.bytes.p = recs_store(l, v->bytes.p, v->bytes.len);
		if (!r->v.bytes.p)
			return LWM_EINTERNAL;
	}
	l->n++;
	return 0;
}

/* ---- paths ------------------------------------------------------------- */

static const struct dm_path root_path = { .id = { DM_NONE, DM_NONE, DM_NONE, DM_NONE } };

struct dm_path dm_path_make(int len, ...)
{
	struct dm_path p = root_path;
	va_list ap;
	int i;

	if (len > 4)
		len = 4;
	va_start(ap, len);
	for (i = 0; i < len; i++)
		p.id[i] = (uint16_t)va_arg(ap, int);
	va_end(ap);
	p.len = len > 0 ? (uint8_t)len : 0;
	return p;
}

/* Writes p[0..len) into dst as a quoted, escaped and shortened string for an
 * error message: what a server sent may be long or not printable. */
static const char *quote(char *dst, size_t size, const uint8_t *p, size_t len)
{
	size_t i, o = 0;

	dst[o++] = '"';
	for (i = 0; i < len && o + 8 < size; i++) {
		if (p[i] == '"' || p[i] == '\\')
			o += (size_t)snprintf(dst + o, size - o, "\\%c", p[i]);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			dst[o++] = (char)p[i];
		else
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", p[i]);
	}
	if (i < len)
		o += (size_t)snprintf(dst + o, size - o, "...");
	snprintf(dst + o, size - o, "\"");
	return dst;
}

static int bad_path(struct errbuf *err, const char *s, const char *why)
{
	char q[64];

	return errbuf_set(err, LWM_EBADREQ, "bad path %s: %s",
			  quote(q, sizeof(q), (const uint8_t *)s, strlen(s)), why);
}

int dm_path_parse(const char *s, struct dm_path *p, struct errbuf *err)
{
	struct dm_path out = root_path;
	const char *c = s, *start;
	unsigned long v;

	if (*c == '/')
		c++;
	while (*c) {
		if (out.len == 4)
			return bad_path(err, s, "more than 4 levels");
		if (*c == '/')
			return bad_path(err, s, "empty component");
		start = c;
		v = 0;
		while (*c >= '0' && *c <= '9') {
			if (v <= DM_MAX_ID)
				v = v * 10 + (unsigned long)(*c - '0');
			c++;
		}
		if (c == start || (*c && *c != '/'))
			return bad_path(err, s, "components must be decimal numbers");
		if (*start == '0' && c - start > 1)
			return bad_path(err, s, "leading zero");
		if (v > DM_MAX_ID)
			return bad_path(err, s, "id above 65534");
		out.id[out.len++] = (uint16_t)v;
		if (*c == '/' && !c[1])
			return bad_path(err, s, "trailing slash");
		if (*c)
			c++;
	}
	*p = out;
	return 0;
}

char *dm_path_str(const struct dm_path *p, char *s, size_t size)
{
	size_t off = 0;
	int i, n;

	if (!size)
		return s;
	s[0] = 0;
	if (p->len == 0) {
		snprintf(s, size, "/");
		return s;
	}
	for (i = 0; i < p->len && i < 4; i++) {
		n = snprintf(s + off, size - off, "/%u", p->id[i]);
		if (n < 0 || (size_t)n >= size - off)
			break;
		off += (size_t)n;
	}
	return s;
}

bool dm_path_under(const struct dm_path *p, const struct dm_path *base)
{
	int i;

	if (p->len < base->len)
		return false;
	for (i = 0; i < base->len; i++)
		if (p->id[i] != base->id[i])
			return false;
	return true;
}

/* ---- values ------------------------------------------------------------ */

struct dm_value dm_str(const char *s)
{
	if (!s)
		s = "";
	return (struct dm_value){ .type = DM_T_STRING,
				  .bytes = { .p = (const uint8_t *)s, .len = strlen(s) } };
}

struct dm_value dm_opaque(const void *p, size_t len)
{
	return (struct dm_value){ .type = DM_T_OPAQUE, .bytes = { .p = p, .len = len } };
}

struct dm_value dm_objlnk(uint16_t oid, uint16_t iid)
{
	return (struct dm_value){ .type = DM_T_OBJLNK, .lnk = { .oid = oid, .iid = iid } };
}

const char *dm_type_name(enum dm_type t)
{
	switch (t) {
	case DM_T_NONE:         return "none";
	case DM_T_STRING:       return "string";
	case DM_T_INT:          return "integer";
	case DM_T_UINT:         return "unsigned integer";
	case DM_T_FLOAT:        return "float";
	case DM_T_BOOL:         return "boolean";
	case DM_T_OPAQUE:       return "opaque";
	case DM_T_TIME:         return "time";
	case DM_T_OBJLNK:       return "object link";
	case DM_T_CORELNK:      return "core link";
	}
	return "unknown type";
}

/* The type with its article, for "expected an integer, got a string". */
static const char *noun(enum dm_type t)
{
	switch (t) {
	case DM_T_NONE:         return "no value";
	case DM_T_STRING:       return "a string";
	case DM_T_INT:          return "an integer";
	case DM_T_UINT:         return "an unsigned integer";
	case DM_T_FLOAT:        return "a float";
	case DM_T_BOOL:         return "a boolean";
	case DM_T_OPAQUE:       return "opaque data";
	case DM_T_TIME:         return "a time";
	case DM_T_OBJLNK:       return "an object link";
	case DM_T_CORELNK:      return "a core link";
	}
	return "an unknown type";
}

static bool numeric(enum dm_type t)
{
	return t == DM_T_INT || t == DM_T_TIME || t == DM_T_UINT || t == DM_T_FLOAT;
}

static void set_bytes(struct dm_value *out, enum dm_type want, const uint8_t *p, size_t len)
{
	*out = (struct dm_value){ .type = want, .bytes = { .p = p, .len = len } };
}

static int from_i64(int64_t i, enum dm_type want, struct dm_value *out, struct errbuf *err)
{
	switch (want) {
	case DM_T_INT:
	case DM_T_TIME:
		*out = (struct dm_value){ .type = want, .i = i };
		return 0;
	case DM_T_UINT:
		if (i < 0)
			return errbuf_set(err, LWM_EBADREQ,
					  "expected an unsigned integer, got %" PRId64, i);
		*out = dm_uint((uint64_t)i);
		return 0;
	case DM_T_FLOAT:
		*out = dm_float((double)i);
		return 0;
	case DM_T_BOOL:
		if (i != 0 && i != 1)
			return errbuf_set(err, LWM_EBADREQ,
					  "expected a boolean (0 or 1), got %" PRId64, i);
		*out = dm_bool(i == 1);
		return 0;
	default:
		return errbuf_set(err, LWM_EBADREQ, "expected %s, got an integer", noun(want));
	}
}

static int from_u64(uint64_t u, enum dm_type want, struct dm_value *out, struct errbuf *err)
{
	switch (want) {
	case DM_T_UINT:
		*out = dm_uint(u);
		return 0;
	case DM_T_FLOAT:
		*out = dm_float((double)u);
		return 0;
	case DM_T_INT:
	case DM_T_TIME:
		if (u > INT64_MAX)
			return errbuf_set(err, LWM_EBADREQ, "%" PRIu64 " is too large for %s",
					  u, noun(want));
		*out = (struct dm_value){ .type = want, .i = (int64_t)u };
		return 0;
	case DM_T_BOOL:
		if (u > 1)
			return errbuf_set(err, LWM_EBADREQ,
					  "expected a boolean (0 or 1), got %" PRIu64, u);
		*out = dm_bool(u == 1);
		return 0;
	default:
		return errbuf_set(err, LWM_EBADREQ, "expected %s, got an unsigned integer",
				  noun(want));
	}
}

static int from_f64(double f, enum dm_type want, struct dm_value *out, struct errbuf *err)
{
	if (want == DM_T_FLOAT) {
		*out = dm_float(f);
		return 0;
	}
	if (want != DM_T_INT && want != DM_T_TIME && want != DM_T_UINT)
		return errbuf_set(err, LWM_EBADREQ, "expected %s, got a float", noun(want));
	if (!isfinite(f) || f != trunc(f))
		return errbuf_set(err, LWM_EBADREQ, "expected %s, got %.17g", noun(want), f);
	if (want == DM_T_UINT) {
		/* the bounds are powers of two, so exact as doubles */
		if (f < 0 || f >= 18446744073709551616.0)
			return errbuf_set(err, LWM_EBADREQ, "%.17g is out of range for %s",
					  f, noun(want));
		*out = dm_uint((uint64_t)f);
		return 0;
	}
	if (f < -9223372036854775808.0 || f >= 9223372036854775808.0)
		return errbuf_set(err, LWM_EBADREQ, "%.17g is out of range for %s", f, noun(want));
	*out = (struct dm_value){ .type = want, .i = (int64_t)f };
	return 0;
}

/* Decimal digits only: no sign, no space, at least one digit. */
static bool parse_u64(const uint8_t *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

static bool parse_i64(const uint8_t *p, size_t len, int64_t *out)
{
	bool neg = len && p[0] == '-';
	uint64_t u;

	if (!parse_u64(p + neg, len - neg, &u))
		return false;
	if (neg) {
		if (u > (uint64_t)INT64_MAX + 1)
			return false;
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	} else {
		if (u > INT64_MAX)
			return false;
		*out = (int64_t)u;
	}
	return true;
}

/* strtod, restricted to plain decimal notation: no space, hex, inf or nan. */
static bool parse_f64(const uint8_t *p, size_t len, double *out)
{
	char tmp[128], *end;
	size_t i;

	if (!len || len >= sizeof(tmp))
		return false;
	for (i = 0; i < len; i++)
		if (!p[i] || !strchr("0123456789+-.eE", p[i]))
			return false;
	memcpy(tmp, p, len);
	tmp[len] = 0;
	*out = strtod(tmp, &end);
	return end == tmp + len && isfinite(*out);
}

static bool parse_objlnk(const uint8_t *p, size_t len, struct dm_value *out)
{
	const uint8_t *colon = len ? memchr(p, ':', len) : NULL;
	uint64_t oid, iid;

	if (!colon)
		return false;
	if (!parse_u64(p, (size_t)(colon - p), &oid) ||
	    !parse_u64(colon + 1, len - (size_t)(colon - p) - 1, &iid))
		return false;
	if (oid > 0xFFFF || iid > 0xFFFF)
		return false;
	*out = dm_objlnk((uint16_t)oid, (uint16_t)iid);
	return true;
}

static int from_text(const struct dm_value *in, enum dm_type want, struct dm_value *out,
		     struct buf *store, struct errbuf *err)
{
	const uint8_t *p = in->bytes.p;
	size_t len = in->bytes.len;
	char q[64];
	uint64_t u;
	int64_t i;
	double f;
	int rc;

	switch (want) {
	case DM_T_INT:
	case DM_T_TIME:
		if (!parse_i64(p, len, &i))
			break;
		*out = (struct dm_value){ .type = want, .i = i };
		return 0;
	case DM_T_UINT:
		if (!parse_u64(p, len, &u))
			break;
		*out = dm_uint(u);
		return 0;
	case DM_T_FLOAT:
		if (!parse_f64(p, len, &f))
			break;
		*out = dm_float(f);
		return 0;
	case DM_T_BOOL:
		if (len == 1 && (p[0] == '0' || p[0] == '1'))
			*out = dm_bool(p[0] == '1');
		else if (len == 4 && !memcmp(p, "true", 4))
			*out = dm_bool(true);
		else if (len == 5 && !memcmp(p, "false", 5))
			*out = dm_bool(false);
		else
			return errbuf_set(err, LWM_EBADREQ, "expected a boolean (0 or 1), got %s",
					  quote(q, sizeof(q), p, len));
		return 0;
	case DM_T_STRING:
	case DM_T_CORELNK:
		set_bytes(out, want, p, len);
		return 0;
	case DM_T_OPAQUE:
		/* text/plain carries Opaque as base64 (TS Core, appendix C) */
		if (!store)
			return errbuf_set(err, LWM_EINTERNAL,
					  "text/plain opaque needs dm_value_coerce_buf()");
		buf_reset(store);
		rc = codec_base64_decode((const char *)p, len, store, err);
		if (rc)
			return rc;
		set_bytes(out, want, store->p, store->len);
		return 0;
	case DM_T_OBJLNK:
		if (!parse_objlnk(p, len, out))
			return errbuf_set(err, LWM_EBADREQ,
					  "expected an object link \"oid:iid\", got %s",
					  quote(q, sizeof(q), p, len));
		return 0;
	case DM_T_NONE:
		break;
	}
	return errbuf_set(err, LWM_EBADREQ, "expected %s, got %s", noun(want),
			  quote(q, sizeof(q), p, len));
}

static uint64_t be_uint(const uint8_t *p, size_t len)
{
	uint64_t v = 0;

	while (len--)
		v = v << 8 | *p++;
	return v;
}

static int from_tlv(const struct dm_value *in, enum dm_type want, struct dm_value *out,
		    struct errbuf *err)
{
	const uint8_t *p = in->bytes.p;
	size_t len = in->bytes.len;
	uint64_t u;
	float f4;

	switch (want) {
	case DM_T_INT:
	case DM_T_TIME:
	case DM_T_UINT:
		if (len != 1 && len != 2 && len != 4 && len != 8)
			return errbuf_set(err, LWM_EBADREQ, "TLV integer of %zu bytes", len);
		u = be_uint(p, len);
		if (want == DM_T_UINT) {
			*out = dm_uint(u);
			return 0;
		}
		/* sign-extend from the top bit of the field */
		if (len < 8 && (u >> (len * 8 - 1)) & 1)
			u |= UINT64_MAX << (len * 8);
		*out = (struct dm_value){ .type = want, .i = (int64_t)u };
		return 0;
	case DM_T_FLOAT:
		if (len == 4) {
			uint32_t w = (uint32_t)be_uint(p, 4);

			memcpy(&f4, &w, 4);
			*out = dm_float(f4);
		} else if (len == 8) {
			u = be_uint(p, 8);
			*out = dm_float(0);
			memcpy(&out->f, &u, 8);
		} else {
			return errbuf_set(err, LWM_EBADREQ, "TLV float of %zu bytes", len);
		}
		return 0;
	case DM_T_BOOL:
		if (len != 1)
			return errbuf_set(err, LWM_EBADREQ, "TLV boolean of %zu bytes", len);
		if (p[0] > 1)
			return errbuf_set(err, LWM_EBADREQ, "TLV boolean of value %u", p[0]);
		*out = dm_bool(p[0]);
		return 0;
	case DM_T_OBJLNK:
		if (len != 4)
			return errbuf_set(err, LWM_EBADREQ, "TLV object link of %zu bytes", len);
		*out = dm_objlnk((uint16_t)be_uint(p, 2), (uint16_t)be_uint(p + 2, 2));
		return 0;
	case DM_T_STRING:
	case DM_T_OPAQUE:
	case DM_T_CORELNK:
		set_bytes(out, want, p, len);
		return 0;
	case DM_T_NONE:
		break;
	}
	return errbuf_set(err, LWM_EBADREQ, "expected %s, got a TLV value", noun(want));
}

static int from_typed(const struct dm_value *in, enum dm_type want, struct dm_value *out,
		      struct errbuf *err)
{
	switch (in->type) {
	case DM_T_INT:
		if (numeric(want) || want == DM_T_BOOL)
			return from_i64(in->i, want, out, err);
		break;
	case DM_T_TIME:
		if (numeric(want))
			return from_i64(in->i, want, out, err);
		break;
	case DM_T_UINT:
		if (numeric(want) || want == DM_T_BOOL)
			return from_u64(in->u, want, out, err);
		break;
	case DM_T_FLOAT:
		if (numeric(want))
			return from_f64(in->f, want, out, err);
		break;
	case DM_T_BOOL:
		if (want == DM_T_BOOL) {
			*out = dm_bool(in->b);
			return 0;
		}
		break;
	case DM_T_STRING:
		if (want == DM_T_STRING || want == DM_T_CORELNK || want == DM_T_OPAQUE) {
			set_bytes(out, want, in->bytes.p, in->bytes.len);
			return 0;
		}
		if (want == DM_T_OBJLNK) {
			char q[64];

			if (parse_objlnk(in->bytes.p, in->bytes.len, out))
				return 0;
			return errbuf_set(err, LWM_EBADREQ,
					  "expected an object link \"oid:iid\", got %s",
					  quote(q, sizeof(q), in->bytes.p, in->bytes.len));
		}
		break;
	case DM_T_CORELNK:
		if (want == DM_T_STRING || want == DM_T_CORELNK) {
			set_bytes(out, want, in->bytes.p, in->bytes.len);
			return 0;
		}
		break;
	case DM_T_OPAQUE:
		if (want == DM_T_OPAQUE) {
			set_bytes(out, want, in->bytes.p, in->bytes.len);
			return 0;
		}
		break;
	case DM_T_OBJLNK:
		if (want == DM_T_OBJLNK) {
			*out = dm_objlnk(in->lnk.oid, in->lnk.iid);
			return 0;
		}
		break;
	case DM_T_NONE:
		return errbuf_set(err, LWM_EBADREQ, "expected %s, got no value", noun(want));
	}
	return errbuf_set(err, LWM_EBADREQ, "expected %s, got %s", noun(want), noun(in->type));
}

int dm_value_coerce_buf(const struct dm_value *in, enum dm_type want, struct dm_value *out,
			struct buf *store, struct errbuf *err)
{
	struct dm_value v;
	int rc;

	if (want == DM_T_NONE)
		return errbuf_set(err, LWM_EBADREQ, "the resource takes no value");
	/* work on a copy: in and out may be the same value */
	switch (in->raw) {
	case DM_RAW_TEXT:
		rc = from_text(in, want, &v, store, err);
		break;
	case DM_RAW_TLV:
		rc = from_tlv(in, want, &v, err);
		break;
	default:
		rc = from_typed(in, want, &v, err);
		break;
	}
	if (rc)
		return rc;
	*out = v;
	return 0;
}

int dm_value_coerce(const struct dm_value *in, enum dm_type want, struct dm_value *out,
		    struct errbuf *err)
{
	return dm_value_coerce_buf(in, want, out, NULL, err);
}
