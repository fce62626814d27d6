/* codec_senml_json.c - SenML JSON (content format 110, RFC 8428, TS Core 7.4.5).
 *
 * A pack is an array of records; a record's name is the last base name "bn"
 * plus its own "n", and in LwM2M that is a path ("/3/0/" + "1").  Values are
 * typed: "v" numbers, "vb" booleans, "vs" strings and core links, "vd" opaque
 * (base64url without padding, RFC 8428 section 4.3 and Leshan's default; on
 * input either base64 alphabet is read), "vlo" object links ("3:0").
 * Records without a value are allowed on input: Read-Composite sends them.
 *
 * jansson's integers are signed 64-bit: an unsigned value above INT64_MAX is
 * written as a JSON real (so approximated), and reading such an integer fails
 * in the parser. */
#include "codec.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

/* ---- encoding ---------------------------------------------------------- */

static int dump_cb(const char *p, size_t len, void *arg)
{
	return buf_add(arg, p, len);
}

/* Sets o[key] = v, taking v; NULL v is a failure already reported in why. */
static int set(json_t *o, const char *key, json_t *v, const struct dm_rec *r, const char *why,
	       struct errbuf *err)
{
	char ps[DM_PATH_STR_MAX];

	if (!v)
		return errbuf_set(err, LWM_EINTERNAL, "%s %s",
				  dm_path_str(&r->path, ps, sizeof(ps)), why);
	if (json_object_set_new(o, key, v))
		return errbuf_set(err, LWM_EINTERNAL, "out of memory");
	return 0;
}

static int put_value(json_t *o, const struct dm_rec *r, struct buf *tmp, int *prec,
		     struct errbuf *err)
{
	const struct dm_value *v = &r->v;
	int k;

	switch (v->type) {
	case DM_T_INT:
	case DM_T_TIME:
		return set(o, "v", json_integer(v->i), r, "out of memory", err);
	case DM_T_UINT:
		if (v->u <= INT64_MAX)
			return set(o, "v", json_integer((json_int_t)v->u), r, "out of memory", err);
		k = codec_float_digits((double)v->u);
		if (k > *prec)
			*prec = k;
		return set(o, "v", json_real((double)v->u), r, "out of memory", err);
	case DM_T_FLOAT:
		k = isfinite(v->f) ? codec_float_digits(v->f) : 0;
		if (k > *prec)
			*prec = k;
		return set(o, "v", json_real(v->f), r, "float is not finite", err);
	case DM_T_BOOL:
		return set(o, "vb", json_boolean(v->b), r, "out of memory", err);
	case DM_T_STRING:
	case DM_T_CORELNK:
		return set(o, "vs", json_stringn((const char *)v->bytes.p, v->bytes.len), r,
			   "string is not UTF-8", err);
	case DM_T_OPAQUE:
		buf_reset(tmp);
		if (codec_base64_encode(tmp, v->bytes.p, v->bytes.len, true))
			return errbuf_set(err, LWM_EINTERNAL, "out of memory");
		return set(o, "vd", json_stringn((const char *)tmp->p, tmp->len), r,
			   "out of memory", err);
	case DM_T_OBJLNK:
		buf_reset(tmp);
		buf_printf(tmp, "%u:%u", v->lnk.oid, v->lnk.iid);
		return set(o, "vlo", json_stringn((const char *)tmp->p, tmp->len), r,
			   "out of memory", err);
	case DM_T_NONE:
		break;
	}
	return 0;
}

/* Each record is dumped on its own, so that each float gets the precision it
 * needs (jansson's precision is per dump); only '[', ',' and ']' are ours. */
int codec_senml_json_encode(const struct dm_path *base, const struct dm_recs *recs,
			    struct buf *out, struct errbuf *err)
{
	char bn[DM_PATH_STR_MAX + 1], n[DM_PATH_STR_MAX];
	const struct dm_rec *r;
	json_t *o = NULL;
	struct buf tmp;
	bool first = true;
	int prec, rc;
	size_t i;

	rc = codec_check_recs(base, recs, err);
	if (rc)
		return rc;
	buf_init(&tmp);
	codec_senml_bn(base, recs, bn, sizeof(bn));
	buf_addc(out, '[');
	for (i = 0; i < recs->n; i++) {
		r = &recs->r[i];
		if (r->v.type == DM_T_NONE)
			continue;
		codec_senml_n(base, &r->path, n, sizeof(n));
		if (!*n && bn[strlen(bn) - 1] == '/' && base->len) {
			rc = errbuf_set(err, LWM_EINTERNAL, "%s has a value and values below it",
					bn);
			goto fail;
		}
		o = json_object();
		if (!o)
			goto oom;
		if (first && (rc = set(o, "bn", json_string(bn), r, "out of memory", err)))
			goto fail;
		if (*n && (rc = set(o, "n", json_string(n), r, "out of memory", err)))
			goto fail;
		prec = 1;
		rc = put_value(o, r, &tmp, &prec, err);
		if (rc)
			goto fail;
		if (r->time && (rc = set(o, "t", json_integer(r->time), r, "out of memory", err)))
			goto fail;
		if (!first)
			buf_addc(out, ',');
		first = false;
		if (json_dump_callback(o, dump_cb, out, JSON_COMPACT | JSON_REAL_PRECISION(prec)))
			goto oom;
		json_decref(o);
		o = NULL;
	}
	buf_addc(out, ']');
	buf_fini(&tmp);
	return out->oom ? errbuf_set(err, LWM_EINTERNAL, "out of memory") : 0;
oom:
	rc = errbuf_set(err, LWM_EINTERNAL, "out of memory");
fail:
	json_decref(o);
	buf_fini(&tmp);
	return rc;
}

/* ---- decoding ---------------------------------------------------------- */

struct senml_rec {
	const char *n;
	size_t nlen;
	bool has_t;
	int64_t t;
	struct dm_value v;
	int nvalues;
};

static int json_time(json_t *j, const char *key, int64_t *out, struct errbuf *err)
{
	double f;

	if (json_is_integer(j)) {
		*out = json_integer_value(j);
		return 0;
	}
	if (!json_is_real(j))
		return errbuf_set(err, LWM_EBADREQ, "SenML \"%s\" must be a number", key);
	f = floor(json_real_value(j));
	if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
		return errbuf_set(err, LWM_EBADREQ, "SenML \"%s\" is out of range", key);
	*out = (int64_t)f;
	return 0;
}

/* Reads one field of a record into s, or the pack state (bn, bt). */
static int field(const char *key, json_t *j, struct senml_rec *s, json_t **bn, int64_t *bt,
		 struct buf *opaque, struct errbuf *err)
{
	size_t klen = strlen(key);
	const char *str;
	size_t len;
	int rc;

	if (!strcmp(key, "bn")) {
		if (!json_is_string(j))
			return errbuf_set(err, LWM_EBADREQ, "SenML \"bn\" must be a string");
		*bn = j;
	} else if (!strcmp(key, "bt")) {
		return json_time(j, key, bt, err);
	} else if (!strcmp(key, "n")) {
		if (!json_is_string(j))
			return errbuf_set(err, LWM_EBADREQ, "SenML \"n\" must be a string");
		s->n = json_string_value(j);
		s->nlen = json_string_length(j);
	} else if (!strcmp(key, "t")) {
		s->has_t = true;
		return json_time(j, key, &s->t, err);
	} else if (!strcmp(key, "v")) {
		if (json_is_integer(j))
			s->v = dm_int(json_integer_value(j));
		else if (json_is_real(j))
			s->v = dm_float(json_real_value(j));
		else
			return errbuf_set(err, LWM_EBADREQ, "SenML \"v\" must be a number");
		s->nvalues++;
	} else if (!strcmp(key, "vb")) {
		if (!json_is_boolean(j))
			return errbuf_set(err, LWM_EBADREQ, "SenML \"vb\" must be true or false");
		s->v = dm_bool(json_is_true(j));
		s->nvalues++;
	} else if (!strcmp(key, "vs")) {
		if (!json_is_string(j))
			return errbuf_set(err, LWM_EBADREQ, "SenML \"vs\" must be a string");
		s->v = (struct dm_value){ .type = DM_T_STRING,
					  .bytes = { (const uint8_t *)json_string_value(j),
						     json_string_length(j) } };
		s->nvalues++;
	} else if (!strcmp(key, "vd")) {
		if (!json_is_string(j))
			return errbuf_set(err, LWM_EBADREQ, "SenML \"vd\" must be a base64 string");
		buf_reset(opaque);
		rc = codec_base64_decode(json_string_value(j), json_string_length(j), opaque, err);
		if (rc)
			return rc;
		s->v = dm_opaque(opaque->p, opaque->len);
		s->nvalues++;
	} else if (!strcmp(key, "vlo")) {
		if (!json_is_string(j))
			return errbuf_set(err, LWM_EBADREQ, "SenML \"vlo\" must be a string");
		str = json_string_value(j);
		len = json_string_length(j);
		rc = dm_value_coerce(&(struct dm_value){ .type = DM_T_STRING,
							 .bytes = { (const uint8_t *)str, len } },
				     DM_T_OBJLNK, &s->v, err);
		if (rc)
			return rc;
		s->nvalues++;
	} else if (!strcmp(key, "bv") || !strcmp(key, "bs") || !strcmp(key, "s")) {
		return errbuf_set(err, LWM_EBADREQ, "SenML \"%s\" is not supported", key);
	} else if (klen && key[klen - 1] == '_') {
		/* RFC 8428 section 4.4: a field we do not know and must understand */
		return errbuf_set(err, LWM_EBADREQ, "SenML field \"%s\" is not understood", key);
	}
	/* bver, u, bu, ut and unknown fields do not change what we store */
	return 0;
}

int codec_senml_json_decode(const struct dm_path *base, const uint8_t *p, size_t len,
			    struct dm_recs *recs, struct errbuf *err)
{
	json_t *pack, *j, *val, *bn = NULL;
	size_t n0 = recs->n, i;
	struct senml_rec s;
	struct dm_path path;
	struct buf opaque;
	json_error_t je;
	const char *key;
	int64_t bt = 0;
	int rc = 0;

	buf_init(&opaque);
	pack = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!pack)
		return errbuf_set(err, LWM_EBADREQ, "SenML JSON: %s at line %d column %d", je.text,
				  je.line, je.column);
	if (!json_is_array(pack)) {
		rc = errbuf_set(err, LWM_EBADREQ, "SenML JSON must be an array of records");
		goto fail;
	}
	json_array_foreach(pack, i, j) {
		if (!json_is_object(j)) {
			rc = errbuf_set(err, LWM_EBADREQ, "SenML record %zu is not an object", i);
			goto fail;
		}
		memset(&s, 0, sizeof(s));
		json_object_foreach(j, key, val) {
			rc = field(key, val, &s, &bn, &bt, &opaque, err);
			if (rc)
				goto fail;
		}
		if (s.nvalues > 1) {
			rc = errbuf_set(err, LWM_EBADREQ, "SenML record %zu has %d values", i,
					s.nvalues);
			goto fail;
		}
		rc = codec_senml_path(base, bn ? json_string_value(bn) : "",
				      bn ? json_string_length(bn) : 0, s.n ? s.n : "", s.nlen,
				      s.nvalues, &path, err);
		if (rc)
			goto fail;
		if (dm_recs_add(recs, &path, &s.v)) {
			rc = errbuf_set(err, LWM_EINTERNAL, "out of memory");
			goto fail;
		}
		if (s.has_t && __builtin_add_overflow(bt, s.t, &recs->r[recs->n - 1].time)) {
			rc = errbuf_set(err, LWM_EBADREQ, "SenML record %zu: time out of range", i);
			goto fail;
		}
		if (!s.has_t)
			recs->r[recs->n - 1].time = bt;
	}
	json_decref(pack);
	buf_fini(&opaque);
	return 0;
fail:
	json_decref(pack);
	buf_fini(&opaque);
	recs->n = n0;
	return rc;
}
