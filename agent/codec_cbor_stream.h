/* codec_cbor_stream.h - the libcbor streaming-decoder plumbing shared by the
 * LwM2M CBOR and SenML CBOR decoders.
 *
 * libcbor's callbacks (one per kind and width of item) are folded into one
 * item callback with a struct cbor_item, the start of arrays and maps into
 * one container callback, and indefinite-length strings are put back
 * together from their chunks before they reach the decoder.  A decoder
 * embeds a struct cbor_stream, fills in its ops and passes the stream as the
 * context of cbor_stream_decode() with cbor_stream_callbacks. */
#ifndef LWM_CODEC_CBOR_STREAM_H
#define LWM_CODEC_CBOR_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

#include "buf.h"

/* One complete data item, as the callbacks see it. */
struct cbor_item {
	enum { I_UINT, I_NEGINT, I_FLOAT, I_BOOL, I_TEXT, I_BYTES, I_NULL, I_UNDEF } kind;
	uint64_t u;             /* I_UINT; I_NEGINT: the value is -1 - u */
	double f;
	bool b;
	const uint8_t *p;       /* I_TEXT, I_BYTES */
	size_t len;
};

struct cbor_stream;

struct cbor_stream_ops {
	/* true once the decoder has failed: nothing more is passed on */
	bool (*failed)(struct cbor_stream *s);
	void (*fail)(struct cbor_stream *s, const char *msg);
	void (*oom)(struct cbor_stream *s);
	void (*item)(struct cbor_stream *s, const struct cbor_item *it);
	void (*container)(struct cbor_stream *s, bool is_map, size_t size, bool indefinite);
	void (*tag)(struct cbor_stream *s, uint64_t tag);
	/* a break that ends no indefinite string */
	void (*brk)(struct cbor_stream *s);
	/* optional: may refuse (having failed) an indefinite string's start */
	bool (*string_start)(struct cbor_stream *s);
};

struct cbor_stream {
	const struct cbor_stream_ops *ops;
	char chunked;           /* 't' or 'b' inside an indefinite string */
	struct buf chunks;
};

extern const struct cbor_callbacks cbor_stream_callbacks;

/* A time as the decoders take it: an integer, or a float rounded down.
 * Returns 0, -EINVAL when the item is not a number, -ERANGE when it does not
 * fit in 64 bits. */
int cbor_item_time(const struct cbor_item *it, int64_t *out);

#endif
