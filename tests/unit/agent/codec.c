/* Unit tests for agent/codec.c: format dispatch (unsupported formats, out
 * left alone on failure), base64 both ways, the shortest float digits and
 * the SenML name helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

static void test_dispatch(void **state)
{
	struct dm_path base = dm_path_make(3, 3, 0, 1);
	struct dm_value v = dm_int(5);
	struct errbuf err = { "" };
	struct dm_recs l;
	struct buf out;
	static const int fmts[] = { LWM_FMT_TEXT, LWM_FMT_OPAQUE, LWM_FMT_TLV,
				    LWM_FMT_SENML_JSON, LWM_FMT_SENML_CBOR };
	static const int unsupported[] = { LWM_FMT_LINK, LWM_FMT_CBOR, LWM_FMT_JSON_OLD,
					   LWM_FMT_NONE, 12345 };
	size_t i;

	dm_recs_init(&l);
	assert_int_equal(dm_recs_add(&l, &base, &v), 0);
	buf_init(&out);
	for (i = 0; i < sizeof(unsupported) / sizeof(*unsupported); i++) {
		assert_int_equal(codec_encode(unsupported[i], &base, &l, &out, &err),
				 LWM_ENOTACCEPT);
		assert_non_null(strstr(err.msg, "is not supported"));
		assert_int_equal(codec_decode(unsupported[i], &base, (const uint8_t *)"1", 1, &l,
					      &err), LWM_EFORMAT);
	}
	assert_int_equal(out.len, 0);
	assert_int_equal(l.n, 1);
	/* each supported format is reached, and a failure leaves out as it was */
	for (i = 0; i < sizeof(fmts) / sizeof(*fmts); i++) {
		buf_reset(&out);
		buf_adds(&out, "x");
		if (fmts[i] == LWM_FMT_OPAQUE) {
			assert_int_equal(codec_encode(fmts[i], &base, &l, &out, &err),
					 LWM_ENOTACCEPT);
			assert_string_equal(buf_str(&out), "x");
		} else {
			assert_int_equal(codec_encode(fmts[i], &base, &l, &out, &err), 0);
			assert_true(out.len > 1);
		}
	}
	buf_reset(&out);
	buf_adds(&out, "keep");
	base = dm_path_make(0);
	assert_int_equal(codec_encode(LWM_FMT_TEXT, &base, &l, &out, &err), LWM_ENOTACCEPT);
	assert_string_equal(buf_str(&out), "keep");
	buf_fini(&out);
	dm_recs_fini(&l);
}

static void b64(const char *in, size_t len, bool url, const char *want)
{
	struct errbuf err = { "" };
	struct buf out;

	buf_init(&out);
	assert_int_equal(codec_base64_encode(&out, (const uint8_t *)in, len, url), 0);
	assert_string_equal(buf_str(&out), want);
	buf_reset(&out);
	if (codec_base64_decode(want, strlen(want), &out, &err))
		fail_msg("decode \"%s\": %s", want, err.msg);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.p, in, len);
	buf_fini(&out);
}

static void test_base64(void **state)
{
	/* RFC 4648 section 10 */
	b64("", 0, false, "");
	b64("f", 1, false, "Zg==");
	b64("fo", 2, false, "Zm8=");
	b64("foo", 3, false, "Zm9v");
	b64("foob", 4, false, "Zm9vYg==");
	b64("fooba", 5, false, "Zm9vYmE=");
	b64("foobar", 6, false, "Zm9vYmFy");
	b64("f", 1, true, "Zg");
	b64("fo", 2, true, "Zm8");
	b64("\xfb\xff\xbf", 3, false, "+/+/");
	b64("\xfb\xff\xbf", 3, true, "-_-_");
	b64("\x00\x00\x00\x00", 4, true, "AAAAAA");
}

static void b64_bad(const char *s, const char *why)
{
	struct errbuf err = { "" };
	struct buf out;

	buf_init(&out);
	assert_int_equal(codec_base64_decode(s, strlen(s), &out, &err), LWM_EBADREQ);
	if (!strstr(err.msg, why))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", s, err.msg, why);
	buf_fini(&out);
}

static void test_base64_decode(void **state)
{
	struct errbuf err;
	struct buf out;

	/* padding is optional, the alphabets may mix */
	buf_init(&out);
	assert_int_equal(codec_base64_decode("Zg", 2, &out, &err), 0);
	assert_int_equal(codec_base64_decode("+_", 2, &out, &err), 0);
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.p, "f\xfb", 2);
	buf_fini(&out);
	b64_bad("Z", "truncated");
	b64_bad("Zm9vY", "truncated");
	b64_bad("=", "padding");
	b64_bad("Zg=", "padding");
	b64_bad("Zg===", "padding");
	b64_bad("Zm9v=", "padding");
	b64_bad("Zg==Zg==", "bad base64 character at offset 2");
	b64_bad("Z g=", "bad base64 character at offset 1");
	b64_bad("Zm9\n", "bad base64 character at offset 3");
	b64_bad("====", "bad base64 character");
	b64_bad("Zm*v", "offset 2");
}

static void test_float_digits(void **state)
{
	assert_int_equal(codec_float_digits(0.0), 1);
	assert_int_equal(codec_float_digits(1.5), 2);
	assert_int_equal(codec_float_digits(25.0), 2);
	assert_int_equal(codec_float_digits(0.1), 1);
	assert_int_equal(codec_float_digits(-23.25), 4);
	assert_int_equal(codec_float_digits(1e300), 1);
	assert_int_equal(codec_float_digits(0.1 + 0.2), 17);
	assert_int_equal(codec_float_digits(3.141592653589793), 16);
	assert_int_equal(codec_float_digits(100.0), 3);
	assert_int_equal(codec_float_digits(-1e16), 17);
	assert_int_equal(codec_float_digits(1e17), 1);
	assert_int_equal(codec_float_digits(0.00001), 1);
}

static void test_senml_names(void **state)
{
	struct dm_path base = dm_path_make(2, 3, 0), p = dm_path_make(4, 3, 0, 6, 1), out;
	struct dm_value v = dm_int(1);
	struct errbuf err = { "" };
	char bn[DM_PATH_STR_MAX + 1], n[DM_PATH_STR_MAX];
	struct dm_recs l;

	dm_recs_init(&l);
	codec_senml_bn(&base, &l, bn, sizeof(bn));
	assert_string_equal(bn, "/3/0");
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	codec_senml_bn(&base, &l, bn, sizeof(bn));
	assert_string_equal(bn, "/3/0/");
	codec_senml_n(&base, &p, n, sizeof(n));
	assert_string_equal(n, "6/1");
	codec_senml_n(&p, &p, n, sizeof(n));
	assert_string_equal(n, "");
	base = dm_path_make(0);
	codec_senml_bn(&base, &l, bn, sizeof(bn));
	assert_string_equal(bn, "/");
	codec_senml_n(&base, &p, n, sizeof(n));
	assert_string_equal(n, "3/0/6/1");
	dm_recs_fini(&l);

	base = dm_path_make(2, 3, 0);
	assert_int_equal(codec_senml_path(&base, "/3/0/", 5, "1", 1, true, &out, &err), 0);
	assert_int_equal(out.len, 3);
	assert_int_equal(out.id[2], 1);
	assert_int_equal(codec_senml_path(&base, "/3/0", 4, "", 0, false, &out, &err), 0);
	assert_int_equal(codec_senml_path(&base, "/3/0", 4, "", 0, true, &out, &err),
			 LWM_EBADREQ);
	assert_non_null(strstr(err.msg, "not a resource"));
	assert_int_equal(codec_senml_path(&base, "/3/1/", 5, "1", 1, true, &out, &err),
			 LWM_EBADREQ);
	assert_string_equal(err.msg, "SenML record /3/1/1 is not under /3/0");
	assert_int_equal(codec_senml_path(&base, "/3/0/", 5, "x", 1, true, &out, &err),
			 LWM_EBADREQ);
	assert_non_null(strstr(err.msg, "bad path"));
	assert_int_equal(codec_senml_path(&base, "/3/0/\0", 6, "1", 1, true, &out, &err),
			 LWM_EBADREQ);
	assert_non_null(strstr(err.msg, "NUL"));
	assert_int_equal(codec_senml_path(&base, "/3/0/00000000000000000000000000000000000000"
					  "00000000000000000000000", 66, "", 0, true, &out, &err),
			 LWM_EBADREQ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_float_digits),
		cmocka_unit_test(test_senml_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
