/* Helpers shared by the codec unit tests (tests/unit/agent/codec_*.c):
 * paths and records from strings, hex payloads, and encoding or decoding
 * a payload in a given format with the failure reported. */
#ifndef TESTS_UNIT_CODEC_HELPERS_H
#define TESTS_UNIT_CODEC_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

/* "A1 03 'abc'": hex bytes, and text in quotes taken as it is. */
static inline size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	unsigned v;

	while (*s) {
		if (*s == ' ') {
			s++;
		} else if (*s == '\'') {
			for (s++; *s && *s != '\''; s++)
				out[n++] = (uint8_t)*s;
			if (*s)
				s++;
		} else {
			if (sscanf(s, "%2x", &v) != 1)
				fail_msg("bad hex at \"%s\"", s);
			out[n++] = (uint8_t)v;
			s += 2;
		}
	}
	return n;
}

/* Paths are zeroed first, padding too: tests compare whole paths with
 * memcmp (a path copied out of path() may still carry stack bytes). */
static inline struct dm_path path(const char *s)
{
	struct dm_path p;

	memset(&p, 0, sizeof(p));
	if (dm_path_parse(s, &p, NULL))
		fail_msg("bad test path %s", s);
	return p;
}

static inline void add(struct dm_recs *l, const char *s, struct dm_value v)
{
	struct dm_path p;

	memset(&p, 0, sizeof(p));
	if (dm_path_parse(s, &p, NULL))
		fail_msg("bad test path %s", s);
	assert_int_equal(dm_recs_add(l, &p, &v), 0);
}

static inline void check_path(const struct dm_rec *r, const char *want)
{
	char s[DM_PATH_STR_MAX];

	assert_string_equal(dm_path_str(&r->path, s, sizeof(s)), want);
}

/* The Device object instance of TS Core 7.4.3.2 as records. */
static inline void device_recs(struct dm_recs *l)
{
	dm_recs_init(l);
	add(l, "/3/0/0", dm_str("Open Mobile Alliance"));
	add(l, "/3/0/1", dm_str("Lightweight M2M Client"));
	add(l, "/3/0/2", dm_str("345000123"));
	add(l, "/3/0/3", dm_str("1.0"));
	add(l, "/3/0/6/0", dm_int(1));
	add(l, "/3/0/6/1", dm_int(5));
	add(l, "/3/0/7/0", dm_int(3800));
	add(l, "/3/0/7/1", dm_int(5000));
	add(l, "/3/0/8/0", dm_int(125));
	add(l, "/3/0/8/1", dm_int(900));
	add(l, "/3/0/9", dm_int(100));
	add(l, "/3/0/10", dm_int(15));
	add(l, "/3/0/11/0", dm_int(0));
	add(l, "/3/0/13", dm_time(1367491215));
	add(l, "/3/0/14", dm_str("+02:00"));
	add(l, "/3/0/16", dm_str("U"));
}

/* Encodes l at base in fmt and fails unless the payload is want[0..len),
 * printing what came out in hex. */
static inline void encode_bytes_ok(int fmt, const char *base, const struct dm_recs *l,
				   const void *want, size_t len)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };
	struct buf out;
	size_t i;

	buf_init(&out);
	if (codec_encode(fmt, &b, l, &out, &err))
		fail_msg("encode at %s: %s", base, err.msg);
	if (out.len != len || (len && memcmp(out.p, want, len))) {
		for (i = 0; i < out.len; i++)
			fprintf(stderr, "%02X%s", out.p[i], i % 16 == 15 ? "\n" : " ");
		fprintf(stderr, "\n");
		fail_msg("encode at %s: %zu bytes, want %zu", base, out.len, len);
	}
	buf_fini(&out);
}

/* The same with the payload written as unhex() reads it. */
static inline void encode_hex_ok(int fmt, const char *base, const struct dm_recs *l,
				 const char *hex)
{
	uint8_t want[512];
	size_t len = unhex(hex, want);

	encode_bytes_ok(fmt, base, l, want, len);
}

/* Decodes p[0..len) at base in fmt into l (initialised here); what names the
 * payload in the failure message. */
static inline void decode_bytes_ok(int fmt, const char *base, const void *p, size_t len,
				   const char *what, struct dm_recs *l)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };

	dm_recs_init(l);
	if (codec_decode(fmt, &b, p, len, l, &err))
		fail_msg("decode %s%sat %s: %s", what, *what ? " " : "", base, err.msg);
}

static inline void decode_hex_ok(int fmt, const char *base, const char *hex, struct dm_recs *l)
{
	uint8_t in[512];
	size_t len = unhex(hex, in);

	decode_bytes_ok(fmt, base, in, len, hex, l);
}

#endif
