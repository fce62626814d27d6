/* codec_text.c - text/plain (content format 0): one resource value as text.
 *
 * The representation is TS Core appendix C's: integers and time in decimal,
 * floats in the shortest text that reads back exactly, booleans "0"/"1",
 * object links "oid:iid", opaque as base64 (standard alphabet, padded, as
 * Leshan writes and expects it).  Text carries no type, so a decoded value
 * is kept as raw characters for dm_value_coerce() and the resource table. */
#include "codec.h"

#include <inttypes.h>
#include <math.h>

int codec_text_encode(const struct dm_path *base, const struct dm_recs *recs, struct buf *out,
		      struct errbuf *err)
{
	char ps[DM_PATH_STR_MAX];
	const struct dm_rec *r;
	int rc;

	if (base->len < 3)
		return errbuf_set(err, LWM_ENOTACCEPT,
				  "text/plain cannot carry %s, only a resource",
				  dm_path_str(base, ps, sizeof(ps)));
	rc = codec_check_recs(base, recs, err);
	if (rc)
		return rc;
	if (recs->n != 1 || recs->r[0].path.len != base->len)
		return errbuf_set(err, LWM_ENOTACCEPT, "text/plain carries one value; %s has %s",
				  dm_path_str(base, ps, sizeof(ps)),
				  recs->n ? "instances" : "none");
	r = &recs->r[0];
	switch (r->v.type) {
	case DM_T_INT:
	case DM_T_TIME:
		buf_printf(out, "%" PRId64, r->v.i);
		break;
	case DM_T_UINT:
		buf_printf(out, "%" PRIu64, r->v.u);
		break;
	case DM_T_FLOAT:
		if (!isfinite(r->v.f))
			return errbuf_set(err, LWM_EINTERNAL, "float at %s is not finite",
					  dm_path_str(base, ps, sizeof(ps)));
		buf_printf(out, "%.*g", codec_float_digits(r->v.f), r->v.f);
		break;
	case DM_T_BOOL:
		buf_addc(out, r->v.b ? '1' : '0');
		break;
	case DM_T_OBJLNK:
		buf_printf(out, "%u:%u", r->v.lnk.oid, r->v.lnk.iid);
		break;
	case DM_T_STRING:
	case DM_T_CORELNK:
		buf_add(out, r->v.bytes.p, r->v.bytes.len);
		break;
	case DM_T_OPAQUE:
		codec_base64_encode(out, r->v.bytes.p, r->v.bytes.len, false);
		break;
	case DM_T_NONE:
		return errbuf_set(err, LWM_ENOTACCEPT, "%s has no value",
				  dm_path_str(base, ps, sizeof(ps)));
	}
	return out->oom ? errbuf_set(err, LWM_EINTERNAL, "out of memory") : 0;
}

int codec_text_decode(const struct dm_path *base, const uint8_t *p, size_t len,
		      struct dm_recs *recs, struct errbuf *err)
{
	struct dm_value v = { .type = DM_T_STRING, .raw = DM_RAW_TEXT, .bytes = { p, len } };

	if (base->len < 3)
		return errbuf_set(err, LWM_EBADREQ, "text/plain needs a resource path");
	if (dm_recs_add(recs, base, &v))
		return errbuf_set(err, LWM_EINTERNAL, "out of memory");
	return 0;
}
