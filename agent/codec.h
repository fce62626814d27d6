/* codec.h - content formats: records <-> payload bytes.
 *
 * Codecs know LwM2M paths and values but nothing of objects or CoAP.  They do
 * not log: a failure is a return code plus a reason in the caller's errbuf. */
#ifndef LWM_CODEC_H
#define LWM_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dm.h"

/* CoAP Content-Format numbers used by LwM2M. */
enum {
	LWM_FMT_TEXT       = 0,
	LWM_FMT_LINK       = 40,
	LWM_FMT_OPAQUE     = 42,
	LWM_FMT_CBOR       = 60,
	LWM_FMT_SENML_JSON = 110,
	LWM_FMT_SENML_CBOR = 112,
	LWM_FMT_TLV        = 11542,
	LWM_FMT_JSON_OLD   = 11543,
	LWM_FMT_LWM2M_CBOR = 11544,
	LWM_FMT_NONE       = -1,
};

/* Encodes recs, the result of reading base, into out.
 * Returns 0, LWM_ENOTACCEPT if fmt cannot carry this content (text/plain or
 * opaque for more than one value, opaque for a non-opaque value, a format we
 * do not produce), or LWM_EINTERNAL. */
int codec_encode(int fmt, const struct dm_path *base, const struct dm_recs *recs,
		 struct buf *out, struct errbuf *err);

/* Decodes payload sent to base into recs (full paths; TLV and text values
 * come back raw, see enum dm_raw).  Returns 0, LWM_EFORMAT for a format we do
 * not read, or LWM_EBADREQ with the reason in err for a malformed payload. */
int codec_decode(int fmt, const struct dm_path *base, const uint8_t *p, size_t len,
		 struct dm_recs *recs, struct errbuf *err);

/* Per-format entry points (codec_encode/codec_decode dispatch to these). */
int codec_text_encode(const struct dm_path *base, const struct dm_recs *recs, struct buf *out, struct errbuf *err);
int codec_text_decode(const struct dm_path *base, const uint8_t *p, size_t len, struct dm_recs *recs, struct errbuf *err);
int codec_opaque_encode(const struct dm_path *base, const struct dm_recs *recs, struct buf *out, struct errbuf *err);
int codec_opaque_decode(const struct dm_path *base, const uint8_t *p, size_t len, struct dm_recs *recs, struct errbuf *err);
int codec_tlv_encode(const struct dm_path *base, const struct dm_recs *recs, struct buf *out, struct errbuf *err);
int codec_tlv_decode(const struct dm_path *base, const uint8_t *p, size_t len, struct dm_recs *recs, struct errbuf *err);
int codec_senml_json_encode(const struct dm_path *base, const struct dm_recs *recs, struct buf *out, struct errbuf *err);
int codec_senml_json_decode(const struct dm_path *base, const uint8_t *p, size_t len, struct dm_recs *recs, struct errbuf *err);
int codec_senml_cbor_encode(const struct dm_path *base, const struct dm_recs *recs, struct buf *out, struct errbuf *err);
int codec_senml_cbor_decode(const struct dm_path *base, const uint8_t *p, size_t len, struct dm_recs *recs, struct errbuf *err);

/* CoRE link format (RFC 6690), used for Register, Discover and CoreLnk values. */
struct link_attr {
	const char *name;
	const char *value;      /* NULL: a bare attribute (no '=') */
};
struct link {
	char uri[64];
	struct link_attr attr[16];
	size_t nattr;
};
/* Appends "<uri>;a=b;c" (with a leading ',' if out is not empty). */
int codec_link_add(struct buf *out, const char *uri, const struct link_attr *attr, size_t nattr);
/* Parses a link-format document; calls fn for each link (attr strings point
 * into a scratch copy valid during the call).  0 or LWM_EBADREQ. */
int codec_link_parse(const char *s, size_t len, int (*fn)(const struct link *l, void *arg),
		     void *arg, struct errbuf *err);

#endif
