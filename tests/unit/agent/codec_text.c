/* Unit tests for agent/codec_text.c: each type as text/plain (shortest
 * floats, base64 opaque), what text cannot carry, and decoding to a raw
 * record that dm_value_coerce() types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

static void enc(const char *path, struct dm_value v, const char *want)
{
	struct errbuf err = { "" };
	struct dm_path p;
	struct dm_recs l;
	struct buf out;

	assert_int_equal(dm_path_parse(path, &p, NULL), 0);
	dm_recs_init(&l);
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	buf_init(&out);
	if (codec_encode(LWM_FMT_TEXT, &p, &l, &out, &err))
		fail_msg("%s: %s", path, err.msg);
	assert_string_equal(buf_str(&out), want);
	buf_fini(&out);
	dm_recs_fini(&l);
}

static void test_encode(void **state)
{
	enc("/3/0/9", dm_int(100), "100");
	enc("/3/0/9", dm_int(INT64_MIN), "-9223372036854775808");
	enc("/3/0/13", dm_time(1367491215), "1367491215");
	enc("/1/0/1", dm_uint(UINT64_MAX), "18446744073709551615");
	enc("/3303/0/5700", dm_float(23.5), "23.5");
	enc("/3303/0/5700", dm_float(0.1), "0.1");
	enc("/3303/0/5700", dm_float(100.0), "100");
	enc("/3303/0/5700", dm_float(-0.0), "-0");
	enc("/3303/0/5700", dm_float(1e21), "1e+21");
	enc("/3303/0/5700", dm_float(0.1 + 0.2), "0.30000000000000004");
	enc("/3303/0/5700", dm_float(2.2250738585072014e-308), "2.2250738585072014e-308");
	enc("/1/0/6", dm_bool(true), "1");
	enc("/1/0/6", dm_bool(false), "0");
	enc("/2/0/0", dm_objlnk(3, 0), "3:0");
	enc("/2/0/0", dm_objlnk(65535, 65535), "65535:65535");
	enc("/3/0/0", dm_str("Open Mobile Alliance"), "Open Mobile Alliance");
	enc("/3/0/0", dm_str(""), "");
	enc("/1/0/22", (struct dm_value){ .type = DM_T_CORELNK,
					  .bytes = { (const uint8_t *)"</3/0>", 6 } }, "</3/0>");
	enc("/5/0/0", dm_opaque("\x01\x02\x03\xff", 4), "AQID/w==");
	enc("/3/0/6/1", dm_int(5), "5");
}

static void enc_bad(const char *base, const char *at, struct dm_value v, int n, int code,
		    const char *why)
{
	struct errbuf err = { "" };
	struct dm_path b, p;
	struct dm_recs l;
	struct buf out;

	assert_int_equal(dm_path_parse(base, &b, NULL), 0);
	assert_int_equal(dm_path_parse(at, &p, NULL), 0);
	dm_recs_init(&l);
	while (n--)
		assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	buf_init(&out);
	assert_int_equal(codec_text_encode(&b, &l, &out, &err), code);
	if (!strstr(err.msg, why))
		fail_msg("%s: message \"%s\" lacks \"%s\"", base, err.msg, why);
	buf_fini(&out);
	dm_recs_fini(&l);
}

static void test_encode_bad(void **state)
{
	struct dm_value none = { .type = DM_T_NONE };
	struct dm_value raw = { .type = DM_T_STRING, .raw = DM_RAW_TEXT };

	enc_bad("/3/0", "/3/0/1", dm_int(1), 1, LWM_ENOTACCEPT, "cannot carry /3/0");
	enc_bad("/", "/3/0/1", dm_int(1), 1, LWM_ENOTACCEPT, "cannot carry /");
	enc_bad("/3/0/6", "/3/0/6/0", dm_int(1), 1, LWM_ENOTACCEPT, "/3/0/6 has instances");
	enc_bad("/3/0/6", "/3/0/6/0", dm_int(1), 2, LWM_ENOTACCEPT, "has instances");
	enc_bad("/3/0/1", "/3/0/1", dm_int(1), 0, LWM_ENOTACCEPT, "has none");
	enc_bad("/3/0/1", "/3/0/1", none, 1, LWM_ENOTACCEPT, "has no value");
	enc_bad("/3/0/1", "/3/0/2", dm_int(1), 1, LWM_EINTERNAL, "is not under");
	enc_bad("/3/0/1", "/3/0/1", raw, 1, LWM_EINTERNAL, "untyped");
	enc_bad("/3303/0/5700", "/3303/0/5700", dm_float(1.0 / 0.0), 1, LWM_EINTERNAL,
		"not finite");
	enc_bad("/3303/0/5700", "/3303/0/5700", dm_float(0.0 / 0.0), 1, LWM_EINTERNAL,
		"not finite");
}

static void test_decode(void **state)
{
	struct dm_path b = dm_path_make(3, 3, 0, 9);
	struct errbuf err = { "" };
	struct dm_value v;
	struct dm_recs l;

	dm_recs_init(&l);
	assert_int_equal(codec_decode(LWM_FMT_TEXT, &b, (const uint8_t *)"100", 3, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.r[0].path.len, 3);
	assert_int_equal(l.r[0].path.id[2], 9);
	assert_int_equal(l.r[0].v.type, DM_T_STRING);
	assert_int_equal(l.r[0].v.raw, DM_RAW_TEXT);
	assert_int_equal(l.r[0].v.bytes.len, 3);
	assert_int_equal(dm_value_coerce(&l.r[0].v, DM_T_INT, &v, &err), 0);
	assert_int_equal(v.i, 100);
	b = dm_path_make(4, 3, 0, 6, 1);
	assert_int_equal(codec_decode(LWM_FMT_TEXT, &b, (const uint8_t *)"", 0, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.r[1].path.len, 4);
	assert_int_equal(l.r[1].v.bytes.len, 0);
	b = dm_path_make(2, 3, 0);
	assert_int_equal(codec_decode(LWM_FMT_TEXT, &b, (const uint8_t *)"1", 1, &l, &err),
			 LWM_EBADREQ);
	assert_string_equal(err.msg, "text/plain needs a resource path");
	assert_int_equal(l.n, 2);
	dm_recs_fini(&l);
}

/* What the encoder writes, the decoder and coercion read back. */
static void test_round_trip(void **state)
{
	static const double floats[] = { 0.1, -1e-300, 123456789.125, 1.7976931348623157e308 };
	struct dm_path p = dm_path_make(3, 3303, 0, 5700);
	struct errbuf err = { "" };
	struct dm_recs l, back;
	struct dm_value v;
	struct buf out, store;
	size_t i;

	buf_init(&out);
	buf_init(&store);
	for (i = 0; i < sizeof(floats) / sizeof(*floats); i++) {
		dm_recs_init(&l);
		dm_recs_init(&back);
		v = dm_float(floats[i]);
		assert_int_equal(dm_recs_add(&l, &p, &v), 0);
		buf_reset(&out);
		assert_int_equal(codec_text_encode(&p, &l, &out, &err), 0);
		assert_int_equal(codec_text_decode(&p, out.p, out.len, &back, &err), 0);
		assert_int_equal(dm_value_coerce(&back.r[0].v, DM_T_FLOAT, &v, &err), 0);
		assert_true(v.f == floats[i]);
		dm_recs_fini(&l);
		dm_recs_fini(&back);
	}
	dm_recs_init(&l);
	dm_recs_init(&back);
	v = dm_opaque("\0\1\2\3\4", 5);
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	buf_reset(&out);
	assert_int_equal(codec_text_encode(&p, &l, &out, &err), 0);
	assert_int_equal(codec_text_decode(&p, out.p, out.len, &back, &err), 0);
	assert_int_equal(dm_value_coerce_buf(&back.r[0].v, DM_T_OPAQUE, &v, &store, &err), 0);
	assert_int_equal(v.bytes.len, 5);
	assert_memory_equal(v.bytes.p, "\0\1\2\3\4", 5);
	dm_recs_fini(&l);
	dm_recs_fini(&back);
	buf_fini(&store);
	buf_fini(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_bad),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
