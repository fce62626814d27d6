/* codec.c - content-format dispatch, and what several codecs share.
 *
 * codec_encode()/codec_decode() pick the codec for a CoAP Content-Format and
 * keep codec.h's promises for all of them: a failed encode leaves out as it
 * was, a failed decode leaves recs as they were.  Below them: base64 (text
 * and SenML JSON carry Opaque that way), the shortest float text, the record
 * checks every encoder makes and SenML's name handling. */
#include "codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int codec_encode(int fmt, const struct dm_path *base, const struct dm_recs *recs,
		 struct buf *out, struct errbuf *err)
{
	size_t len = out->len;
	int oom = out->oom;
	int rc;

	switch (fmt) {
	case LWM_FMT_TEXT:
		rc = codec_text_encode(base, recs, out, err);
		break;
	case LWM_FMT_OPAQUE:
		rc = codec_opaque_encode(base, recs, out, err);
		break;
	case LWM_FMT_TLV:
		rc = codec_tlv_encode(base, recs, out, err);
		break;
	case LWM_FMT_SENML_JSON:
		rc = codec_senml_json_encode(base, recs, out, err);
		break;
	case LWM_FMT_SENML_CBOR:
		rc = codec_senml_cbor_encode(base, recs, out, err);
		break;
	case LWM_FMT_LWM2M_CBOR:
		rc = codec_lwm2m_cbor_encode(base, recs, out, err);
		break;
	default:
		/* the 1.0 JSON, plain CBOR and link format (which is
		 * Discover's, not a value format) are not produced (yet) */
		return errbuf_set(err, LWM_ENOTACCEPT, "content format %d is not supported", fmt);
	}
	if (!rc && out->oom)
		rc = errbuf_set(err, LWM_EINTERNAL, "out of memory");
	if (rc) {
		out->len = len;
		out->oom = oom;
		if (out->p)
			out->p[len] = 0;
	}
	return rc;
}

int codec_decode(int fmt, const struct dm_path *base, const uint8_t *p, size_t len,
		 struct dm_recs *recs, struct errbuf *err)
{
	switch (fmt) {
	case LWM_FMT_TEXT:
		return codec_text_decode(base, p, len, recs, err);
	case LWM_FMT_OPAQUE:
		return codec_opaque_decode(base, p, len, recs, err);
	case LWM_FMT_TLV:
		return codec_tlv_decode(base, p, len, recs, err);
	case LWM_FMT_SENML_JSON:
		return codec_senml_json_decode(base, p, len, recs, err);
	case LWM_FMT_SENML_CBOR:
		return codec_senml_cbor_decode(base, p, len, recs, err);
	case LWM_FMT_LWM2M_CBOR:
		return codec_lwm2m_cbor_decode(base, p, len, recs, err);
	default:
		return errbuf_set(err, LWM_EFORMAT, "content format %d is not supported", fmt);
	}
}

/* ---- base64 ------------------------------------------------------------ */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int codec_base64_encode(struct buf *out, const uint8_t *p, size_t len, bool url)
{
	const char *a = url ? b64_url : b64_std;
	char q[4];
	uint32_t v;
	size_t i, rest;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		q[0] = a[v >> 18 & 63];
		q[1] = a[v >> 12 & 63];
		q[2] = a[v >> 6 & 63];
		q[3] = a[v & 63];
		buf_add(out, q, 4);
	}
	rest = len - i;
	if (rest) {
		v = (uint32_t)p[i] << 16 | (rest == 2 ? (uint32_t)p[i + 1] << 8 : 0);
		q[0] = a[v >> 18 & 63];
		q[1] = a[v >> 12 & 63];
		q[2] = rest == 2 ? a[v >> 6 & 63] : '=';
		q[3] = '=';
		buf_add(out, q, url ? rest + 1 : 4);
	}
	return out->oom ? LWM_EINTERNAL : 0;
}

static int b64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int codec_base64_decode(const char *s, size_t len, struct buf *out, struct errbuf *err)
{
	size_t n = len, i;
	uint32_t acc = 0;
	int bits = 0, d;

	if (n && s[n - 1] == '=') {
		n--;
		if (n && s[n - 1] == '=')
			n--;
		if (len % 4)
			return errbuf_set(err, LWM_EBADREQ,
					  "base64 padding does not end a 4-character group");
	}
	if (n % 4 == 1)
		return errbuf_set(err, LWM_EBADREQ, "base64 of %zu characters is truncated", len);
	for (i = 0; i < n; i++) {
		d = b64_digit(s[i]);
		if (d < 0)
			return errbuf_set(err, LWM_EBADREQ, "bad base64 character at offset %zu",
					  i);
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(out, (uint8_t)(acc >> bits));
		}
	}
	return out->oom ? errbuf_set(err, LWM_EINTERNAL, "out of memory") : 0;
}

/* ---- shared by the encoders -------------------------------------------- */

int codec_float_digits(double f)
{
	char s[40];
	int prec;

	for (prec = 1; prec < 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, f);
		if (strtod(s, NULL) != f)
			continue;
		/* 100 reads back from "1e+02" too, but people write "100" */
		if (strchr(s, 'e') && fabs(f) >= 1 && fabs(f) < 1e17)
			continue;
		return prec;
	}
	return 17;
}

int codec_check_recs(const struct dm_path *base, const struct dm_recs *recs, struct errbuf *err)
{
	char a[DM_PATH_STR_MAX], b[DM_PATH_STR_MAX];
	const struct dm_rec *r;
	size_t i;

	for (i = 0; i < recs->n; i++) {
		r = &recs->r[i];
		if (!dm_path_under(&r->path, base))
			return errbuf_set(err, LWM_EINTERNAL, "record %s is not under %s",
					  dm_path_str(&r->path, a, sizeof(a)),
					  dm_path_str(base, b, sizeof(b)));
		if (r->v.raw != DM_RAW_NONE)
			return errbuf_set(err, LWM_EINTERNAL, "record %s holds an untyped value",
					  dm_path_str(&r->path, a, sizeof(a)));
		if (r->v.type != DM_T_NONE && r->path.len < 3)
			return errbuf_set(err, LWM_EINTERNAL, "value at %s, above any resource",
					  dm_path_str(&r->path, a, sizeof(a)));
	}
	return 0;
}

/* ---- SenML names ------------------------------------------------------- */

void codec_senml_bn(const struct dm_path *base, const struct dm_recs *recs, char *bn, size_t size)
{
	bool below = false;
	size_t i;

	for (i = 0; i < recs->n; i++)
		if (recs->r[i].v.type != DM_T_NONE && recs->r[i].path.len > base->len)
			below = true;
	dm_path_str(base, bn, size);
	/* "/3/0/" + "1": LwM2M's reading of RFC 8428, as Leshan writes it */
	if (below && base->len)
		strncat(bn, "/", size - strlen(bn) - 1);
}

void codec_senml_n(const struct dm_path *base, const struct dm_path *p, char *n, size_t size)
{
	size_t off = 0;
	int i, k;

	n[0] = 0;
	for (i = base->len; i < p->len; i++) {
		k = snprintf(n + off, size - off, i > base->len ? "/%u" : "%u", p->id[i]);
		if (k < 0 || (size_t)k >= size - off)
			break;
		off += (size_t)k;
	}
}

int codec_senml_path(const struct dm_path *base, const char *bn, size_t bnlen, const char *n,
		     size_t nlen, bool has_value, struct dm_path *out, struct errbuf *err)
{
	char name[64], a[DM_PATH_STR_MAX], b[DM_PATH_STR_MAX];
	int rc;

	if (bnlen + nlen >= sizeof(name))
		return errbuf_set(err, LWM_EBADREQ, "SenML name of %zu characters is no LwM2M path",
				  bnlen + nlen);
	memcpy(name, bn, bnlen);
	memcpy(name + bnlen, n, nlen);
	name[bnlen + nlen] = 0;
	if (strlen(name) != bnlen + nlen)
		return errbuf_set(err, LWM_EBADREQ, "SenML name contains a NUL");
	rc = dm_path_parse(name, out, err);
	if (rc)
		return rc;
	if (!dm_path_under(out, base))
		return errbuf_set(err, LWM_EBADREQ, "SenML record %s is not under %s",
				  dm_path_str(out, a, sizeof(a)), dm_path_str(base, b, sizeof(b)));
	if (has_value && out->len < 3)
		return errbuf_set(err, LWM_EBADREQ, "SenML value for %s, which is not a resource",
				  dm_path_str(out, a, sizeof(a)));
	return 0;
}
