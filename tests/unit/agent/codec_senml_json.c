/* Unit tests for agent/codec_senml_json.c: the TS Core examples (Read of
 * /3/0, Read-Composite and Write-Composite requests), base names, every
 * value field, round trips, and malformed packs with their reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec_helpers.h"

static void encode_ok(const char *base, const struct dm_recs *l, const char *want)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };
	struct buf out;

	buf_init(&out);
	if (codec_encode(LWM_FMT_SENML_JSON, &b, l, &out, &err))
		fail_msg("encode at %s: %s", base, err.msg);
	assert_string_equal(buf_str(&out), want);
	buf_fini(&out);
}

static const char device_json[] =
	"[{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"Open Mobile Alliance\"},"
	"{\"n\":\"1\",\"vs\":\"Lightweight M2M Client\"},"
	"{\"n\":\"2\",\"vs\":\"345000123\"},"
	"{\"n\":\"3\",\"vs\":\"1.0\"},"
	"{\"n\":\"6/0\",\"v\":1},{\"n\":\"6/1\",\"v\":5},"
	"{\"n\":\"7/0\",\"v\":3800},{\"n\":\"7/1\",\"v\":5000},"
	"{\"n\":\"8/0\",\"v\":125},{\"n\":\"8/1\",\"v\":900},"
	"{\"n\":\"9\",\"v\":100},{\"n\":\"10\",\"v\":15},{\"n\":\"11/0\",\"v\":0},"
	"{\"n\":\"13\",\"v\":1367491215},"
	"{\"n\":\"14\",\"vs\":\"+02:00\"},"
	"{\"n\":\"16\",\"vs\":\"U\"}]";

static void test_encode_device(void **state)
{
	struct dm_recs l, one;

	device_recs(&l);
	encode_ok("/3/0", &l, device_json);
	dm_recs_fini(&l);

	dm_recs_init(&one);
	add(&one, "/3/0/0", dm_str("Open Mobile Alliance"));
	encode_ok("/3/0/0", &one, "[{\"bn\":\"/3/0/0\",\"vs\":\"Open Mobile Alliance\"}]");
	dm_recs_fini(&one);
	dm_recs_init(&one);
	add(&one, "/3/0/6/0", dm_int(1));
	add(&one, "/3/0/6/1", dm_int(5));
	encode_ok("/3/0/6", &one,
		  "[{\"bn\":\"/3/0/6/\",\"n\":\"0\",\"v\":1},{\"n\":\"1\",\"v\":5}]");
	encode_ok("/", &one,
		  "[{\"bn\":\"/\",\"n\":\"3/0/6/0\",\"v\":1},{\"n\":\"3/0/6/1\",\"v\":5}]");
	dm_recs_fini(&one);
	dm_recs_init(&one);
	encode_ok("/3", &one, "[]");
	dm_recs_fini(&one);
}

static void test_encode_values(void **state)
{
	struct dm_value none = { .type = DM_T_NONE };
	struct dm_recs l;

	dm_recs_init(&l);
	add(&l, "/1/0/0", none);        /* value-less: skipped */
	add(&l, "/1/0/1", dm_float(23.5));
	add(&l, "/1/0/2", dm_float(0.1));
	add(&l, "/1/0/3", dm_float(25.0));
	add(&l, "/1/0/4", dm_bool(true));
	add(&l, "/1/0/5", dm_objlnk(3, 0));
	add(&l, "/1/0/6", dm_opaque("\xfb\xff\x01\x02", 4));
	add(&l, "/1/0/7", dm_uint(18446744073709551615u));
	add(&l, "/1/0/8", dm_int(INT64_MIN));
	add(&l, "/1/0/9", (struct dm_value){ .type = DM_T_CORELNK,
					     .bytes = { (const uint8_t *)"</3>", 4 } });
	add(&l, "/1/0/10", dm_str("a\"\\\n\xc3\xa9"));
	l.r[1].time = 1700000000;
	encode_ok("/1/0", &l,
		  "[{\"bn\":\"/1/0/\",\"n\":\"1\",\"v\":23.5,\"t\":1700000000},"
		  "{\"n\":\"2\",\"v\":0.1},{\"n\":\"3\",\"v\":25.0},"
		  "{\"n\":\"4\",\"vb\":true},{\"n\":\"5\",\"vlo\":\"3:0\"},"
		  "{\"n\":\"6\",\"vd\":\"-_8BAg\"},"
		  "{\"n\":\"7\",\"v\":1.8446744073709552e19},"
		  "{\"n\":\"8\",\"v\":-9223372036854775808},"
		  "{\"n\":\"9\",\"vs\":\"</3>\"},"
		  "{\"n\":\"10\",\"vs\":\"a\\\"\\\\\\n\xc3\xa9\"}]");
	dm_recs_fini(&l);
	/* each float with the digits it needs */
	dm_recs_init(&l);
	add(&l, "/1/0/1", dm_float(0.30000000000000004));
	add(&l, "/1/0/2", dm_float(100.0));
	add(&l, "/1/0/3", dm_float(-1e-7));
	encode_ok("/1/0", &l, "[{\"bn\":\"/1/0/\",\"n\":\"1\",\"v\":0.30000000000000004},"
		  "{\"n\":\"2\",\"v\":100.0},{\"n\":\"3\",\"v\":-1e-7}]");
	dm_recs_fini(&l);
}

static void encode_bad(const char *base, const char *at, struct dm_value v, int code,
		       const char *why)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };
	struct dm_recs l;
	struct buf out;

	dm_recs_init(&l);
	add(&l, at, v);
	buf_init(&out);
	assert_int_equal(codec_encode(LWM_FMT_SENML_JSON, &b, &l, &out, &err), code);
	if (!strstr(err.msg, why))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, why);
	assert_int_equal(out.len, 0);
	buf_fini(&out);
	dm_recs_fini(&l);
}

static void test_encode_bad(void **state)
{
	struct dm_value raw = { .type = DM_T_STRING, .raw = DM_RAW_TEXT };
	struct dm_recs l;
	struct dm_path b = path("/3/0/6");
	struct errbuf err;
	struct buf out;

	encode_bad("/3/0/1", "/3/0/1", dm_float(0.0 / 0.0), LWM_EINTERNAL,
		   "/3/0/1 float is not finite");
	encode_bad("/3/0/1", "/3/0/1", dm_float(1.0 / 0.0), LWM_EINTERNAL, "not finite");
	encode_bad("/3/0/1", "/3/0/1", dm_str("\xff"), LWM_EINTERNAL, "not UTF-8");
	encode_bad("/3/0/1", "/3/0/2", dm_int(1), LWM_EINTERNAL, "not under");
	encode_bad("/3/0/1", "/3/0/1", raw, LWM_EINTERNAL, "untyped");
	/* a value at base beside values below it has no name */
	dm_recs_init(&l);
	add(&l, "/3/0/6/0", dm_int(1));
	add(&l, "/3/0/6", dm_int(1));
	buf_init(&out);
	assert_int_equal(codec_encode(LWM_FMT_SENML_JSON, &b, &l, &out, &err), LWM_EINTERNAL);
	buf_fini(&out);
	dm_recs_fini(&l);
}

/* ---- decoding ---------------------------------------------------------- */

static void decode_ok(const char *base, const char *json, struct dm_recs *l)
{
	decode_bytes_ok(LWM_FMT_SENML_JSON, base, json, strlen(json), "", l);
}

static void test_decode_device(void **state)
{
	struct dm_recs l;

	decode_ok("/3/0", device_json, &l);
	assert_int_equal(l.n, 16);
	check_path(&l.r[0], "/3/0/0");
	assert_int_equal(l.r[0].v.type, DM_T_STRING);
	assert_int_equal(l.r[0].v.raw, DM_RAW_NONE);
	assert_memory_equal(l.r[0].v.bytes.p, "Open Mobile Alliance", 20);
	check_path(&l.r[5], "/3/0/6/1");
	assert_int_equal(l.r[5].v.type, DM_T_INT);
	assert_int_equal(l.r[5].v.i, 5);
	check_path(&l.r[13], "/3/0/13");
	assert_int_equal(l.r[13].v.i, 1367491215);
	check_path(&l.r[15], "/3/0/16");
	dm_recs_fini(&l);
	/* the same pack sent to the object or the root is fine, to /3/1 not */
	decode_ok("/", device_json, &l);
	assert_int_equal(l.n, 16);
	dm_recs_fini(&l);
}

static void test_decode_composite(void **state)
{
	struct dm_recs l;

	/* Read-Composite: names without values */
	decode_ok("/", "[{\"n\":\"/3/0/0\"},{\"n\":\"/3/0/9\"},{\"n\":\"/1/0\"},{\"n\":\"/5\"}]",
		  &l);
	assert_int_equal(l.n, 4);
	check_path(&l.r[0], "/3/0/0");
	assert_int_equal(l.r[0].v.type, DM_T_NONE);
	check_path(&l.r[2], "/1/0");
	check_path(&l.r[3], "/5");
	dm_recs_fini(&l);
	decode_ok("/",
		  "[{\"bn\":\"/3/0/\",\"n\":\"0\"},{\"n\":\"9\"},{\"bn\":\"/1/0/\",\"n\":\"1\"}]",
		  &l);
	check_path(&l.r[1], "/3/0/9");
	check_path(&l.r[2], "/1/0/1");
	dm_recs_fini(&l);
	/* Write-Composite */
	decode_ok("/", "[{\"n\":\"/3/0/14\",\"vs\":\"+02:00\"},{\"n\":\"/1/0/1\",\"v\":5}]", &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.r[0].v.type, DM_T_STRING);
	assert_int_equal(l.r[1].v.i, 5);
	dm_recs_fini(&l);
	/* bn alone names the record; an empty pack is no records */
	decode_ok("/3/0/0", "[{\"bn\":\"/3/0/0\",\"vs\":\"x\"}]", &l);
	assert_int_equal(l.n, 1);
	dm_recs_fini(&l);
	decode_ok("/3/0", " [ ] ", &l);
	assert_int_equal(l.n, 0);
	dm_recs_fini(&l);
}

static void test_decode_values(void **state)
{
	struct dm_recs l;

	decode_ok("/1/0",
		  "[{\"bn\":\"/1/0/\",\"bt\":1000,\"n\":\"1\",\"v\":1.5,\"t\":5},"
		  "{\"n\":\"2\",\"v\":-9223372036854775808},"
		  "{\"n\":\"3\",\"vb\":false},"
		  "{\"n\":\"4\",\"vd\":\"-_8BAg\"},"
		  "{\"n\":\"5\",\"vd\":\"+/8BAg==\"},"
		  "{\"n\":\"6\",\"vlo\":\"3:1\"},"
		  "{\"n\":\"7\",\"vs\":\"a\\u0000b\",\"bver\":10,\"u\":\"Cel\",\"x\":[1]},"
		  "{\"n\":\"8\",\"v\":2.0,\"t\":-1.5}]", &l);
	assert_int_equal(l.n, 8);
	assert_int_equal(l.r[0].v.type, DM_T_FLOAT);
	assert_true(l.r[0].v.f == 1.5);
	assert_int_equal(l.r[0].time, 1005);
	assert_int_equal(l.r[1].v.type, DM_T_INT);
	assert_int_equal(l.r[1].v.i, INT64_MIN);
	assert_int_equal(l.r[1].time, 1000);     /* bt alone */
	assert_int_equal(l.r[2].v.type, DM_T_BOOL);
	assert_false(l.r[2].v.b);
	assert_int_equal(l.r[3].v.type, DM_T_OPAQUE);
	assert_int_equal(l.r[3].v.bytes.len, 4);
	assert_memory_equal(l.r[3].v.bytes.p, "\xfb\xff\x01\x02", 4);
	assert_memory_equal(l.r[4].v.bytes.p, "\xfb\xff\x01\x02", 4);
	assert_int_equal(l.r[5].v.type, DM_T_OBJLNK);
	assert_int_equal(l.r[5].v.lnk.oid, 3);
	assert_int_equal(l.r[5].v.lnk.iid, 1);
	assert_int_equal(l.r[6].v.bytes.len, 3);
	assert_memory_equal(l.r[6].v.bytes.p, "a\0b", 3);
	assert_int_equal(l.r[7].v.type, DM_T_FLOAT);
	assert_int_equal(l.r[7].time, 998);
	dm_recs_fini(&l);
}

static void decode_bad(const char *base, const char *json, const char *why)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };
	struct dm_recs l;

	dm_recs_init(&l);
	add(&l, "/9/9/9", dm_int(9));
	assert_int_equal(codec_decode(LWM_FMT_SENML_JSON, &b, (const uint8_t *)json, strlen(json),
				      &l, &err), LWM_EBADREQ);
	if (!strstr(err.msg, why))
		fail_msg("%s: message \"%s\" lacks \"%s\"", json, err.msg, why);
	assert_int_equal(l.n, 1);
	dm_recs_fini(&l);
}

static void deep(size_t depth, const char *why)
{
	char *s = malloc(2 * depth + 1);

	assert_non_null(s);
	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[2 * depth] = 0;
	decode_bad("/", s, why);
	free(s);
}

static void test_decode_bad(void **state)
{
	decode_bad("/", "", "SenML JSON:");
	decode_bad("/", "[", "SenML JSON:");
	decode_bad("/", "[{\"n\":\"/3/0/1\"}] x", "SenML JSON:");
	decode_bad("/", "[{\"n\":\"/3/0/1\"},]", "SenML JSON:");
	decode_bad("/", "{\"n\":\"/3/0/1\"}", "must be an array");
	decode_bad("/", "[1]", "record 0 is not an object");
	decode_bad("/", "[{\"n\":\"/1/0/1\"},[]]", "record 1 is not an object");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"n\":\"/1/0/2\"}]", "duplicate");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"v\":\"1\"}]", "\"v\" must be a number");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"vb\":1}]", "\"vb\" must be true or false");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"vs\":1}]", "\"vs\" must be a string");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"vd\":1}]", "\"vd\" must be a base64 string");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"vd\":\"A\"}]", "base64");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"vd\":\"AA.A\"}]", "bad base64 character");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"vlo\":1}]", "\"vlo\" must be a string");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"vlo\":\"3-1\"}]", "expected an object link");
	decode_bad("/", "[{\"bn\":1,\"n\":\"1\"}]", "\"bn\" must be a string");
	decode_bad("/", "[{\"n\":1}]", "\"n\" must be a string");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"t\":\"now\"}]", "\"t\" must be a number");
	decode_bad("/", "[{\"bt\":null,\"n\":\"/1/0/1\"}]", "\"bt\" must be a number");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"t\":1e300}]", "\"t\" is out of range");
	decode_bad("/", "[{\"bt\":9223372036854775807,\"n\":\"/1/0/1\",\"t\":1}]",
		   "time out of range");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"v\":1,\"vs\":\"1\"}]", "record 0 has 2 values");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"bv\":1}]", "\"bv\" is not supported");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"s\":1}]", "\"s\" is not supported");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"foo_\":1}]", "field \"foo_\" is not understood");
	decode_bad("/", "[{\"n\":\"/1/0/1\",\"v\":18446744073709551615}]", "too big integer");
	decode_bad("/3", "[{\"n\":\"/1/0/1\",\"v\":1}]", "/1/0/1 is not under /3");
	decode_bad("/3/0", "[{\"bn\":\"/3/0/\",\"n\":\"1\"},{\"bn\":\"/3/1/\",\"n\":\"1\"}]",
		   "/3/1/1 is not under /3/0");
	decode_bad("/", "[{\"n\":\"/3/0\",\"v\":1}]", "not a resource");
	decode_bad("/", "[{\"n\":\"3/x/1\",\"v\":1}]", "bad path");
	decode_bad("/", "[{\"bn\":\"/3/0/\",\"n\":\"1/\",\"v\":1}]", "trailing slash");
	decode_bad("/", "[{\"n\":\"/3/0/1\\u0000\",\"v\":1}]", "NUL");
	decode_bad("/", "[{\"n\":\"/3/0/1/2/3\",\"v\":1}]", "more than 4 levels");
	deep(70, "record 0 is not an object");
	deep(5000, "SenML JSON: maximum parsing depth reached");
}

static void test_round_trip(void **state)
{
	struct dm_path base = path("/");
	struct errbuf err = { "" };
	struct dm_recs in, back;
	struct buf out;
	size_t i;

	device_recs(&in);
	add(&in, "/5/0/0", dm_opaque("\0\1\2\3\4\5\6", 7));
	add(&in, "/4/0/1", dm_float(-0.000123));
	add(&in, "/4/0/2", dm_bool(true));
	add(&in, "/4/0/3", dm_objlnk(1, 2));
	in.r[in.n - 1].time = -7;
	buf_init(&out);
	assert_int_equal(codec_senml_json_encode(&base, &in, &out, &err), 0);
	decode_ok("/", buf_str(&out), &back);
	assert_int_equal(back.n, in.n);
	for (i = 0; i < in.n; i++) {
		assert_memory_equal(&back.r[i].path, &in.r[i].path, sizeof(struct dm_path));
		assert_int_equal(back.r[i].time, in.r[i].time);
		switch (in.r[i].v.type) {
		case DM_T_STRING:
		case DM_T_OPAQUE:
			assert_int_equal(back.r[i].v.type, in.r[i].v.type);
			assert_int_equal(back.r[i].v.bytes.len, in.r[i].v.bytes.len);
			assert_memory_equal(back.r[i].v.bytes.p, in.r[i].v.bytes.p,
					    in.r[i].v.bytes.len);
			break;
		case DM_T_FLOAT:
			assert_true(back.r[i].v.f == in.r[i].v.f);
			break;
		case DM_T_OBJLNK:
			assert_int_equal(back.r[i].v.lnk.iid, in.r[i].v.lnk.iid);
			break;
		case DM_T_BOOL:
			assert_int_equal(back.r[i].v.b, in.r[i].v.b);
			break;
		default:        /* INT and TIME come back as INT */
			assert_int_equal(back.r[i].v.type, DM_T_INT);
			assert_int_equal(back.r[i].v.i, in.r[i].v.i);
			break;
		}
	}
	buf_fini(&out);
	dm_recs_fini(&back);
	dm_recs_fini(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_device),
		cmocka_unit_test(test_encode_values),
		cmocka_unit_test(test_encode_bad),
		cmocka_unit_test(test_decode_device),
		cmocka_unit_test(test_decode_composite),
		cmocka_unit_test(test_decode_values),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
