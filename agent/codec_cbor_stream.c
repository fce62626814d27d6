/* codec_cbor_stream.c - libcbor's streaming callbacks for the CBOR decoders
 * (see codec_cbor_stream.h). */
#include "codec_cbor_stream.h"

#include <errno.h>
#include <math.h>

static void item(void *arg, const struct cbor_item *it)
{
	struct cbor_stream *s = arg;

	s->ops->item(s, it);
}

static void container(void *arg, bool is_map, size_t size, bool indefinite)
{
	struct cbor_stream *s = arg;

	s->ops->container(s, is_map, size, indefinite);
}

static void on_uint8(void *c, uint8_t v)   { item(c, &(struct cbor_item){ .kind = I_UINT, .u = v }); }
static void on_uint16(void *c, uint16_t v) { item(c, &(struct cbor_item){ .kind = I_UINT, .u = v }); }
static void on_uint32(void *c, uint32_t v) { item(c, &(struct cbor_item){ .kind = I_UINT, .u = v }); }
static void on_uint64(void *c, uint64_t v) { item(c, &(struct cbor_item){ .kind = I_UINT, .u = v }); }
static void on_neg8(void *c, uint8_t v)    { item(c, &(struct cbor_item){ .kind = I_NEGINT, .u = v }); }
static void on_neg16(void *c, uint16_t v)  { item(c, &(struct cbor_item){ .kind = I_NEGINT, .u = v }); }
static void on_neg32(void *c, uint32_t v)  { item(c, &(struct cbor_item){ .kind = I_NEGINT, .u = v }); }
static void on_neg64(void *c, uint64_t v)  { item(c, &(struct cbor_item){ .kind = I_NEGINT, .u = v }); }
static void on_float4(void *c, float v)    { item(c, &(struct cbor_item){ .kind = I_FLOAT, .f = v }); }
static void on_float8(void *c, double v)   { item(c, &(struct cbor_item){ .kind = I_FLOAT, .f = v }); }
static void on_bool(void *c, bool v)       { item(c, &(struct cbor_item){ .kind = I_BOOL, .b = v }); }
static void on_null(void *c)               { item(c, &(struct cbor_item){ .kind = I_NULL }); }
static void on_undef(void *c)              { item(c, &(struct cbor_item){ .kind = I_UNDEF }); }
static void on_array(void *c, size_t n)    { container(c, false, n, false); }
static void on_indef_array(void *c)        { container(c, false, 0, true); }
static void on_map(void *c, size_t n)      { container(c, true, n, false); }
static void on_indef_map(void *c)          { container(c, true, 0, true); }

static void on_tag(void *arg, uint64_t tag)
{
	struct cbor_stream *s = arg;

	s->ops->tag(s, tag);
}

static void str_chunk(struct cbor_stream *s, char kind, const uint8_t *p, size_t len)
{
	if (s->ops->failed(s))
		return;
	if (!s->chunked)
		return item(s, &(struct cbor_item){ .kind = kind == 't' ? I_TEXT : I_BYTES,
						    .p = p, .len = len });
	if (s->chunked != kind)
		return s->ops->fail(s, "indefinite string holds another kind of string");
	if (buf_add(&s->chunks, p, len))
		s->ops->oom(s);
}

static void string_start(struct cbor_stream *s, char kind)
{
	if (s->ops->failed(s))
		return;
	if (s->chunked)
		return s->ops->fail(s, "indefinite string inside another");
	if (s->ops->string_start && !s->ops->string_start(s))
		return;
	s->chunked = kind;
	buf_reset(&s->chunks);
}

static void on_text(void *c, cbor_data p, size_t n)    { str_chunk(c, 't', p, n); }
static void on_bytes(void *c, cbor_data p, size_t n)   { str_chunk(c, 'b', p, n); }
static void on_text_start(void *c)                     { string_start(c, 't'); }
static void on_bytes_start(void *c)                    { string_start(c, 'b'); }

static void on_break(void *arg)
{
	struct cbor_stream *s = arg;
	char kind = s->chunked;

	if (s->ops->failed(s))
		return;
	if (kind) {
		s->chunked = 0;
		/* no chunks leave the buffer unallocated: p must still point somewhere */
		return item(s, &(struct cbor_item){ .kind = kind == 't' ? I_TEXT : I_BYTES,
						    .p = (const uint8_t *)buf_str(&s->chunks),
						    .len = s->chunks.len });
	}
	s->ops->brk(s);
}

const struct cbor_callbacks cbor_stream_callbacks = {
	.uint8 = on_uint8, .uint16 = on_uint16, .uint32 = on_uint32, .uint64 = on_uint64,
	.negint8 = on_neg8, .negint16 = on_neg16, .negint32 = on_neg32, .negint64 = on_neg64,
	.byte_string = on_bytes, .byte_string_start = on_bytes_start,
	.string = on_text, .string_start = on_text_start,
	.array_start = on_array, .indef_array_start = on_indef_array,
	.map_start = on_map, .indef_map_start = on_indef_map,
	.tag = on_tag,
	.float2 = on_float4, .float4 = on_float4, .float8 = on_float8,
	.undefined = on_undef, .null = on_null, .boolean = on_bool,
	.indef_break = on_break,
};

int cbor_item_time(const struct cbor_item *it, int64_t *out)
{
	double f;

	switch (it->kind) {
	case I_UINT:
		if (it->u > INT64_MAX)
			return -ERANGE;
		*out = (int64_t)it->u;
		return 0;
	case I_NEGINT:
		if (it->u > INT64_MAX)
			return -ERANGE;
		*out = -1 - (int64_t)it->u;
		return 0;
	case I_FLOAT:
		f = floor(it->f);
		if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
			return -ERANGE;
		*out = (int64_t)f;
		return 0;
	default:
		return -EINVAL;
	}
}
