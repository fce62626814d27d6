/* codec_opaque.c - application/octet-stream (content format 42).
 *
 * The payload is the value of one Opaque resource (or resource instance),
 * byte for byte; nothing else can be carried this way. */
#include "codec.h"

int codec_opaque_encode(const struct dm_path *base, const struct dm_recs *recs, struct buf *out,
			struct errbuf *err)
{
	char ps[DM_PATH_STR_MAX];
	const struct dm_rec *r;
	int rc;

	rc = codec_check_recs(base, recs, err);
	if (rc)
		return rc;
	if (base->len < 3 || recs->n != 1 || recs->r[0].path.len != base->len)
		return errbuf_set(err, LWM_ENOTACCEPT, "opaque carries one value; %s is not one",
				  dm_path_str(base, ps, sizeof(ps)));
	r = &recs->r[0];
	if (r->v.type != DM_T_OPAQUE)
		return errbuf_set(err, LWM_ENOTACCEPT, "%s is %s, not opaque",
				  dm_path_str(base, ps, sizeof(ps)), dm_type_name(r->v.type));
	if (buf_add(out, r->v.bytes.p, r->v.bytes.len))
		return errbuf_set(err, LWM_EINTERNAL, "out of memory");
	return 0;
}

int codec_opaque_decode(const struct dm_path *base, const uint8_t *p, size_t len,
			struct dm_recs *recs, struct errbuf *err)
{
	struct dm_value v = dm_opaque(p, len);

	if (base->len < 3)
		return errbuf_set(err, LWM_EBADREQ, "opaque needs a resource path");
	if (dm_recs_add(recs, base, &v))
		return errbuf_set(err, LWM_EINTERNAL, "out of memory");
	return 0;
}
