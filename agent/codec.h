/* codec.h - content formats: records <-> payload bytes.
 *
 * Codecs know LwM2M paths and values but nothing of objects or CoAP.  They do
 * not log: a failure is a return code plus a reason in the caller's errbuf. */
#ifndef LWM_CODEC_H
#define LWM_CODEC_H

#include <stdbool.h>
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

/* How records look on either side of a codec (details in each codec_*.c):
 *  - Decoded TLV values are v.raw = DM_RAW_TLV, v.type = DM_T_OPAQUE with the
 *    value field's bytes; text/plain is v.raw = DM_RAW_TEXT, v.type =
 *    DM_T_STRING.  dm_value_coerce() gives them their type.
 *  - A record with v.type DM_T_NONE (and v.raw DM_RAW_NONE) has no value.
 *    Decoded from SenML it is a path without a value (Read-Composite); decoded
 *    from TLV it is an empty Multiple Resource TLV: the record sits at the
 *    resource path (len 3) and means "this multiple resource has no
 *    instances", so a replacing Write empties it.  Encoders accept the same
 *    marker at len 3 (TLV: an empty Multiple Resource) and at len 2 (TLV: an
 *    empty Object Instance); SenML encoders skip value-less records.
 *  - LwM2M CBOR values come back typed as the CBOR item was (an integer is
 *    DM_T_INT, or DM_T_UINT above INT64_MAX; text is DM_T_STRING, Objlnk
 *    included; tag 1 makes DM_T_TIME).  A null decodes to a DM_T_NONE record
 *    (raw DM_RAW_NONE) at its path, at any depth: in a Write-Composite it
 *    asks to delete that resource instance (LwM2M 1.2), in a composite
 *    request it names a path.  An empty map below the root decodes the same
 *    way (a node holding nothing, like TLV's empty Multiple Resource).  The
 *    encoder skips value-less records, as SenML's do.
 *  - TLV sent to an object path (Create) may hold the new instance's
 *    resources without an Object Instance TLV around them; their records
 *    then have id[1] = DM_NONE: the client picks the instance id.
 *  - Encoders expect records grouped the way dm_read() emits them (sorted
 *    by path) and under base.  On failure, decoders leave recs as they found
 *    them and codec_encode() leaves out as it found it. */

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
int codec_lwm2m_cbor_encode(const struct dm_path *base, const struct dm_recs *recs, struct buf *out, struct errbuf *err);
int codec_lwm2m_cbor_decode(const struct dm_path *base, const uint8_t *p, size_t len, struct dm_recs *recs, struct errbuf *err);

/* Base64 (RFC 4648) for Opaque values: text/plain uses the standard alphabet
 * with padding, SenML JSON "vd" base64url without padding (RFC 8428 4.3).
 * encode appends to out: 0 or LWM_EINTERNAL.  decode reads either alphabet,
 * with or without padding, and appends the bytes to out: 0, LWM_EBADREQ with a
 * reason, or LWM_EINTERNAL. */
int codec_base64_encode(struct buf *out, const uint8_t *p, size_t len, bool url);
int codec_base64_decode(const char *s, size_t len, struct buf *out, struct errbuf *err);

/* Shared by the codecs (codec.c); not for use outside them. */
/* Fewest significant digits (1..17) with which "%.*g" reads back as f, and
 * without an exponent when f has one to 17 integer digits. */
int codec_float_digits(double f);
/* What every encoder checks first: records under base, typed, values at
 * resource level or below.  0 or LWM_EINTERNAL (a dm bug). */
int codec_check_recs(const struct dm_path *base, const struct dm_recs *recs, struct errbuf *err);
/* SenML base name for recs read at base: the base path, with a '/' after it
 * when records below base follow, so that bn + n is a record's path. */
void codec_senml_bn(const struct dm_path *base, const struct dm_recs *recs, char *bn, size_t size);
/* The name of p relative to base ("6/0"); "" when p is base. */
void codec_senml_n(const struct dm_path *base, const struct dm_path *p, char *n, size_t size);
/* Resolves a decoded record's bn + n into a path under base; a record with a
 * value must name a resource or resource instance.  0 or LWM_EBADREQ. */
int codec_senml_path(const struct dm_path *base, const char *bn, size_t bnlen, const char *n,
		     size_t nlen, bool has_value, struct dm_path *out, struct errbuf *err);

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
/* (codec_link_add() takes values unquoted and quotes one that is not a plain
 * token, and always those of rt, if, title and anchor.  It fails with
 * LWM_EINTERNAL for a bad uri or name, or without memory.  A non-zero return
 * from codec_link_parse()'s fn stops it and is returned.) */

#endif
