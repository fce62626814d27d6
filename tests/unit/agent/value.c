/* Unit tests for agent/value.c: the path parser (good and bad paths), path
 * printing, record lists keeping their bytes in place, and dm_value_coerce()
 * over typed, text/plain and TLV input, failures included with the reason
 * they give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dm.h"

/* ---- paths ------------------------------------------------------------- */

static void check_path(const char *s, int len, int a, int b, int c, int d)
{
	struct errbuf err = { "" };
	struct dm_path p;
	int want[4] = { a, b, c, d }, i;

	assert_int_equal(dm_path_parse(s, &p, &err), 0);
	assert_int_equal(p.len, len);
	for (i = 0; i < len; i++)
		assert_int_equal(p.id[i], want[i]);
}

static void test_path_parse_good(void **state)
{
	check_path("", 0, 0, 0, 0, 0);
	check_path("/", 0, 0, 0, 0, 0);
	check_path("/3", 1, 3, 0, 0, 0);
	check_path("3/0/1", 3, 3, 0, 1, 0);
	check_path("/3/0/1", 3, 3, 0, 1, 0);
	check_path("/3303/12/5700/7", 4, 3303, 12, 5700, 7);
	check_path("/0/0", 2, 0, 0, 0, 0);
	check_path("/65534/65534/65534/65534", 4, 65534, 65534, 65534, 65534);
}

static void check_bad_path(const char *s, const char *why)
{
	struct errbuf err = { "" };
	struct dm_path p = { .len = 9 };

	assert_int_equal(dm_path_parse(s, &p, &err), LWM_EBADREQ);
	if (!strstr(err.msg, why))
		fail_msg("path \"%s\": message \"%s\" lacks \"%s\"", s, err.msg, why);
	assert_int_equal(p.len, 9);     /* untouched on failure */
}

static void test_path_parse_bad(void **state)
{
	check_bad_path("/3/", "trailing slash");
	check_bad_path("3/0/", "trailing slash");
	check_bad_path("/3/0/1/", "trailing slash");
	check_bad_path("//", "empty component");
	check_bad_path("//3", "empty component");
	check_bad_path("/3//0", "empty component");
	check_bad_path("/a", "decimal");
	check_bad_path("/3a", "decimal");
	check_bad_path("/3/0x1", "decimal");
	check_bad_path("/-1", "decimal");
	check_bad_path("/+1", "decimal");
	check_bad_path("/ 3", "decimal");
	check_bad_path("/3 ", "decimal");
	check_bad_path("/3?x", "decimal");
	check_bad_path("/03", "leading zero");
	check_bad_path("/3/00", "leading zero");
	check_bad_path("/65535", "above 65534");
	check_bad_path("/99999999999999999999999", "above 65534");
	check_bad_path("/1/2/3/4/5", "more than 4 levels");
	check_bad_path("/1/2/3/4/", "trailing slash");
}

static void test_path_parse_message(void **state)
{
	struct errbuf err;
	struct dm_path p;

	assert_int_equal(dm_path_parse("/3/x", &p, &err), LWM_EBADREQ);
	assert_string_equal(err.msg, "bad path \"/3/x\": components must be decimal numbers");
	/* control characters are escaped, long input is cut */
	assert_int_equal(dm_path_parse("/3/\n", &p, &err), LWM_EBADREQ);
	assert_non_null(strstr(err.msg, "\"/3/\\x0a\""));
	assert_int_equal(dm_path_parse("/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/21/22",
				       &p, &err), LWM_EBADREQ);
	assert_non_null(strstr(err.msg, "...\""));
	/* a NULL errbuf is allowed */
	assert_int_equal(dm_path_parse("/x", &p, NULL), LWM_EBADREQ);
}

static void test_path_str(void **state)
{
	char s[DM_PATH_STR_MAX], small[5];
	struct dm_path p;

	p = dm_path_make(0);
	assert_string_equal(dm_path_str(&p, s, sizeof(s)), "/");
	p = dm_path_make(3, 3, 0, 1);
	assert_string_equal(dm_path_str(&p, s, sizeof(s)), "/3/0/1");
	p = dm_path_make(4, 65535, 65535, 65535, 65535);
	assert_string_equal(dm_path_str(&p, s, sizeof(s)), "/65535/65535/65535/65535");
	/* too small: cut, but terminated */
	p = dm_path_make(2, 3303, 10);
	dm_path_str(&p, small, sizeof(small));
	assert_true(strlen(small) < sizeof(small));
}

static void test_path_make_under(void **state)
{
	struct dm_path root = dm_path_make(0), obj = dm_path_make(1, 3);
	struct dm_path inst = dm_path_make(2, 3, 0), res = dm_path_make(3, 3, 0, 1);
	struct dm_path other = dm_path_make(3, 3, 1, 1);

	assert_int_equal(inst.len, 2);
	assert_int_equal(inst.id[0], 3);
	assert_int_equal(inst.id[1], 0);
	assert_int_equal(inst.id[2], DM_NONE);
	assert_true(dm_path_under(&res, &root));
	assert_true(dm_path_under(&res, &obj));
	assert_true(dm_path_under(&res, &inst));
	assert_true(dm_path_under(&res, &res));
	assert_false(dm_path_under(&inst, &res));
	assert_false(dm_path_under(&other, &inst));
	assert_true(dm_path_under(&root, &root));
}

/* ---- record lists ------------------------------------------------------ */

static void test_recs_keep_bytes(void **state)
{
	struct dm_path p = dm_path_make(3, 3, 0, 0);
	struct dm_value v;
	struct dm_recs l;
	const uint8_t *first;
	char big[5000], s[32];
	int i;

	dm_recs_init(&l);
	strcpy(s, "Open Mobile Alliance");
	v = dm_str(s);
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	first = l.r[0].v.bytes.p;
	assert_ptr_not_equal(first, (const uint8_t *)s);   /* a copy */
	memset(s, 'x', 20);                                 /* the source may go away */
	memset(big, 'b', sizeof(big));
	for (i = 0; i < 2000; i++) {
		snprintf(s, sizeof(s), "value %d", i);
		v = i % 100 == 7 ? dm_opaque(big, sizeof(big)) : dm_str(s);
		assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	}
	assert_int_equal(l.n, 2001);
	/* the record array moved many times; the bytes did not */
	assert_ptr_equal(l.r[0].v.bytes.p, first);
	assert_int_equal(l.r[0].v.bytes.len, 20);
	assert_memory_equal(first, "Open Mobile Alliance", 21);     /* NUL kept after it */
	assert_string_equal((const char *)l.r[1000].v.bytes.p, "value 999");
	assert_int_equal(l.r[8].v.bytes.len, sizeof(big));
	assert_memory_equal(l.r[8].v.bytes.p, big, sizeof(big));
	dm_recs_fini(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.r);
	dm_recs_fini(&l);       /* twice is harmless */
}

static void test_recs_values(void **state)
{
	struct dm_path p = dm_path_make(4, 3, 0, 6, 1);
	struct dm_value v, none = { .type = DM_T_NONE };
	uint8_t raw[2] = { 0x12, 0x34 };
	struct dm_recs l;

	dm_recs_init(&l);
	v = dm_int(-5);
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	v = dm_opaque(NULL, 0);
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	v = (struct dm_value){ .type = DM_T_OPAQUE, .raw = DM_RAW_TLV, .bytes = { raw, 2 } };
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	assert_int_equal(dm_recs_add(&l, &p, &none), 0);
	v = dm_str(NULL);
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.r[0].v.i, -5);
	assert_int_equal(l.r[0].time, 0);
	assert_int_equal(l.r[0].path.len, 4);
	assert_int_equal(l.r[0].path.id[3], 1);
	/* empty byte values still point somewhere */
	assert_non_null(l.r[1].v.bytes.p);
	assert_int_equal(l.r[1].v.bytes.len, 0);
	assert_int_equal(l.r[2].v.raw, DM_RAW_TLV);
	assert_ptr_not_equal(l.r[2].v.bytes.p, raw);
	assert_memory_equal(l.r[2].v.bytes.p, raw, 2);
	assert_int_equal(l.r[3].v.type, DM_T_NONE);
	assert_string_equal((const char *)l.r[4].v.bytes.p, "");
	dm_recs_fini(&l);
}

static void test_constructors(void **state)
{
	struct dm_value v;

	v = dm_str("abc");
	assert_int_equal(v.type, DM_T_STRING);
	assert_int_equal(v.raw, DM_RAW_NONE);
	assert_int_equal(v.bytes.len, 3);
	v = dm_str(NULL);
	assert_int_equal(v.bytes.len, 0);
	assert_non_null(v.bytes.p);
	v = dm_opaque("\x01\x02", 2);
	assert_int_equal(v.type, DM_T_OPAQUE);
	assert_int_equal(v.bytes.len, 2);
	v = dm_objlnk(3, 1);
	assert_int_equal(v.type, DM_T_OBJLNK);
	assert_int_equal(v.lnk.oid, 3);
	assert_int_equal(v.lnk.iid, 1);
	assert_string_equal(dm_type_name(DM_T_INT), "integer");
	assert_string_equal(dm_type_name(DM_T_UINT), "unsigned integer");
	assert_string_equal(dm_type_name(DM_T_NONE), "none");
	assert_string_equal(dm_type_name(DM_T_CORELNK), "core link");
	assert_string_equal(dm_type_name((enum dm_type)99), "unknown type");
}

/* ---- coercion: typed input -------------------------------------------- */

static struct dm_value ok(struct dm_value in, enum dm_type want)
{
	struct errbuf err = { "" };
	struct dm_value out;
	int rc;

	rc = dm_value_coerce(&in, want, &out, &err);
	if (rc)
		fail_msg("coerce %s to %s failed: %s", dm_type_name(in.type), dm_type_name(want),
			 err.msg);
	assert_int_equal(out.type, want);
	assert_int_equal(out.raw, DM_RAW_NONE);
	return out;
}

static void bad(struct dm_value in, enum dm_type want, const char *why)
{
	struct errbuf err = { "" };
	struct dm_value out = dm_int(77);

	assert_int_equal(dm_value_coerce(&in, want, &out, &err), LWM_EBADREQ);
	if (!strstr(err.msg, why))
		fail_msg("coerce to %s: message \"%s\" lacks \"%s\"", dm_type_name(want), err.msg,
			 why);
	assert_int_equal(out.i, 77);    /* untouched on failure */
}

static void test_coerce_numbers(void **state)
{
	assert_int_equal(ok(dm_int(-5), DM_T_INT).i, -5);
	assert_int_equal(ok(dm_int(-5), DM_T_TIME).i, -5);
	assert_true(ok(dm_int(-5), DM_T_FLOAT).f == -5.0);
	assert_int_equal(ok(dm_int(5), DM_T_UINT).u, 5);
	bad(dm_int(-5), DM_T_UINT, "expected an unsigned integer, got -5");
	assert_int_equal(ok(dm_time(1367491215), DM_T_INT).i, 1367491215);
	assert_int_equal(ok(dm_uint(7), DM_T_INT).i, 7);
	assert_int_equal(ok(dm_uint(INT64_MAX), DM_T_INT).i, INT64_MAX);
	bad(dm_uint((uint64_t)INT64_MAX + 1), DM_T_INT, "9223372036854775808 is too large");
	bad(dm_uint(UINT64_MAX), DM_T_TIME, "too large for a time");
	assert_true(ok(dm_uint(UINT64_MAX), DM_T_FLOAT).f == 18446744073709551616.0);
	assert_int_equal(ok(dm_float(42.0), DM_T_INT).i, 42);
	assert_int_equal(ok(dm_float(-0.0), DM_T_INT).i, 0);
	assert_int_equal(ok(dm_float(1e18), DM_T_UINT).u, 1000000000000000000ull);
	assert_int_equal(ok(dm_float(-9223372036854775808.0), DM_T_INT).i, INT64_MIN);
	bad(dm_float(1.5), DM_T_INT, "expected an integer, got 1.5");
	bad(dm_float(9223372036854775808.0), DM_T_INT, "out of range");
	bad(dm_float(18446744073709551616.0), DM_T_UINT, "out of range");
	bad(dm_float(-1.0), DM_T_UINT, "out of range");
	bad(dm_float(1.0 / 0.0), DM_T_INT, "expected an integer");
	bad(dm_float(0.0 / 0.0), DM_T_UINT, "expected an unsigned integer");
	assert_true(ok(dm_float(2.5), DM_T_FLOAT).f == 2.5);
	bad(dm_float(1.0), DM_T_BOOL, "expected a boolean, got a float");
	bad(dm_float(1.0), DM_T_STRING, "expected a string, got a float");
}

static void test_coerce_others(void **state)
{
	struct dm_value v;

	assert_true(ok(dm_bool(true), DM_T_BOOL).b);
	assert_true(ok(dm_int(1), DM_T_BOOL).b);
	assert_false(ok(dm_int(0), DM_T_BOOL).b);
	assert_true(ok(dm_uint(1), DM_T_BOOL).b);
	bad(dm_int(2), DM_T_BOOL, "expected a boolean (0 or 1), got 2");
	bad(dm_uint(2), DM_T_BOOL, "expected a boolean (0 or 1), got 2");
	bad(dm_time(1), DM_T_BOOL, "expected a boolean, got a time");
	bad(dm_bool(true), DM_T_INT, "expected an integer, got a boolean");
	bad(dm_str("1"), DM_T_INT, "expected an integer, got a string");

	v = ok(dm_str("abc"), DM_T_STRING);
	assert_int_equal(v.bytes.len, 3);
	assert_memory_equal(v.bytes.p, "abc", 3);
	assert_int_equal(ok(dm_str("</1>"), DM_T_CORELNK).bytes.len, 4);
	assert_int_equal(ok(dm_str("abc"), DM_T_OPAQUE).bytes.len, 3);
	v = (struct dm_value){ .type = DM_T_CORELNK, .bytes = { (const uint8_t *)"<>", 2 } };
	assert_int_equal(ok(v, DM_T_STRING).bytes.len, 2);
	assert_int_equal(ok(dm_opaque("\0\1", 2), DM_T_OPAQUE).bytes.len, 2);
	bad(dm_opaque("ab", 2), DM_T_STRING, "expected a string, got opaque data");

	v = ok(dm_objlnk(3, 0), DM_T_OBJLNK);
	assert_int_equal(v.lnk.oid, 3);
	v = ok(dm_str("65535:65535"), DM_T_OBJLNK);
	assert_int_equal(v.lnk.oid, 65535);
	assert_int_equal(v.lnk.iid, 65535);
	bad(dm_str("3"), DM_T_OBJLNK, "expected an object link \"oid:iid\", got \"3\"");
	bad(dm_objlnk(1, 1), DM_T_STRING, "expected a string, got an object link");
	bad((struct dm_value){ .type = DM_T_NONE }, DM_T_INT, "expected an integer, got no value");
	bad(dm_int(1), DM_T_NONE, "takes no value");

	/* in and out may be the same value */
	v = dm_int(12);
	assert_int_equal(dm_value_coerce(&v, DM_T_FLOAT, &v, NULL), 0);
	assert_true(v.f == 12.0);
}

/* ---- coercion: text/plain ---------------------------------------------- */

static struct dm_value text(const char *s)
{
	return (struct dm_value){ .type = DM_T_STRING, .raw = DM_RAW_TEXT,
				  .bytes = { (const uint8_t *)s, strlen(s) } };
}

static void test_coerce_text_numbers(void **state)
{
	assert_int_equal(ok(text("123"), DM_T_INT).i, 123);
	assert_int_equal(ok(text("-0"), DM_T_INT).i, 0);
	assert_int_equal(ok(text("007"), DM_T_INT).i, 7);
	assert_int_equal(ok(text("9223372036854775807"), DM_T_INT).i, INT64_MAX);
	assert_int_equal(ok(text("-9223372036854775808"), DM_T_INT).i, INT64_MIN);
	assert_int_equal(ok(text("1367491215"), DM_T_TIME).i, 1367491215);
	bad(text("9223372036854775808"), DM_T_INT,
	    "expected an integer, got \"9223372036854775808\"");
	bad(text("-9223372036854775809"), DM_T_INT, "expected an integer");
	bad(text("abc"), DM_T_INT, "expected an integer, got \"abc\"");
	bad(text(""), DM_T_INT, "expected an integer, got \"\"");
	bad(text("-"), DM_T_INT, "expected an integer");
	bad(text(" 1"), DM_T_INT, "expected an integer");
	bad(text("1 "), DM_T_INT, "expected an integer");
	bad(text("+1"), DM_T_INT, "expected an integer");
	bad(text("1.0"), DM_T_INT, "expected an integer");
	bad(text("1e3"), DM_T_TIME, "expected a time");

	assert_int_equal(ok(text("18446744073709551615"), DM_T_UINT).u, UINT64_MAX);
	assert_int_equal(ok(text("0"), DM_T_UINT).u, 0);
	bad(text("18446744073709551616"), DM_T_UINT, "expected an unsigned integer");
	bad(text("-1"), DM_T_UINT, "expected an unsigned integer, got \"-1\"");

	assert_true(ok(text("1.5"), DM_T_FLOAT).f == 1.5);
	assert_true(ok(text("-0.25"), DM_T_FLOAT).f == -0.25);
	assert_true(ok(text("1e3"), DM_T_FLOAT).f == 1000.0);
	assert_true(ok(text("42"), DM_T_FLOAT).f == 42.0);
	assert_true(ok(text("2.5E-3"), DM_T_FLOAT).f == 2.5e-3);
	bad(text("inf"), DM_T_FLOAT, "expected a float, got \"inf\"");
	bad(text("nan"), DM_T_FLOAT, "expected a float");
	bad(text("1e999"), DM_T_FLOAT, "expected a float");
	bad(text("0x10"), DM_T_FLOAT, "expected a float");
	bad(text("1.5x"), DM_T_FLOAT, "expected a float");
	bad(text("1..5"), DM_T_FLOAT, "expected a float");
	bad(text(" 1.5"), DM_T_FLOAT, "expected a float");
	bad(text(""), DM_T_FLOAT, "expected a float");
}

static void test_coerce_text_others(void **state)
{
	struct errbuf err = { "" };
	struct dm_value in, out;
	struct buf store;

	assert_true(ok(text("1"), DM_T_BOOL).b);
	assert_false(ok(text("0"), DM_T_BOOL).b);
	assert_true(ok(text("true"), DM_T_BOOL).b);
	assert_false(ok(text("false"), DM_T_BOOL).b);
	bad(text("2"), DM_T_BOOL, "expected a boolean (0 or 1), got \"2\"");
	bad(text("yes"), DM_T_BOOL, "expected a boolean");
	bad(text(""), DM_T_BOOL, "expected a boolean");

	out = ok(text("héllo"), DM_T_STRING);
	assert_int_equal(out.bytes.len, 6);
	assert_int_equal(ok(text("</3/0>"), DM_T_CORELNK).bytes.len, 6);

	out = ok(text("3:0"), DM_T_OBJLNK);
	assert_int_equal(out.lnk.oid, 3);
	assert_int_equal(out.lnk.iid, 0);
	bad(text(""), DM_T_OBJLNK, "expected an object link");
	bad((struct dm_value){ .type = DM_T_STRING, .raw = DM_RAW_TEXT }, DM_T_OBJLNK,
	    "expected an object link");
	bad(text("3:"), DM_T_OBJLNK, "expected an object link");
	bad(text(":0"), DM_T_OBJLNK, "expected an object link");
	bad(text("3:0:1"), DM_T_OBJLNK, "expected an object link");
	bad(text("70000:0"), DM_T_OBJLNK, "expected an object link");
	bad(text("3;0"), DM_T_OBJLNK, "expected an object link \"oid:iid\", got \"3;0\"");

	/* opaque in text/plain is base64 and needs storage for its bytes */
	buf_init(&store);
	in = text("AQID/w==");
	assert_int_equal(dm_value_coerce_buf(&in, DM_T_OPAQUE, &out, &store, &err), 0);
	assert_int_equal(out.type, DM_T_OPAQUE);
	assert_int_equal(out.bytes.len, 4);
	assert_memory_equal(out.bytes.p, "\x01\x02\x03\xff", 4);
	assert_ptr_equal(out.bytes.p, store.p);
	in = text("");
	assert_int_equal(dm_value_coerce_buf(&in, DM_T_OPAQUE, &out, &store, &err), 0);
	assert_int_equal(out.bytes.len, 0);
	in = text("AQ=I");
	assert_int_equal(dm_value_coerce_buf(&in, DM_T_OPAQUE, &out, &store, &err), LWM_EBADREQ);
	assert_non_null(strstr(err.msg, "base64"));
	in = text("AQID");
	assert_int_equal(dm_value_coerce(&in, DM_T_OPAQUE, &out, &err), LWM_EINTERNAL);
	/* the other conversions do not touch the store */
	in = text("5");
	buf_reset(&store);
	buf_adds(&store, "keep");
	assert_int_equal(dm_value_coerce_buf(&in, DM_T_INT, &out, &store, &err), 0);
	assert_string_equal(buf_str(&store), "keep");
	buf_fini(&store);
}

static void test_coerce_text_quoting(void **state)
{
	struct errbuf err;
	struct dm_value in = text("a\"b\\c\x01"), out;
	char long_text[300];

	assert_int_equal(dm_value_coerce(&in, DM_T_INT, &out, &err), LWM_EBADREQ);
	assert_string_equal(err.msg, "expected an integer, got \"a\\\"b\\\\c\\x01\"");
	memset(long_text, '9', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = 0;
	in = text(long_text);
	assert_int_equal(dm_value_coerce(&in, DM_T_INT, &out, &err), LWM_EBADREQ);
	assert_true(strlen(err.msg) < 100);
	assert_non_null(strstr(err.msg, "...\""));
}

/* ---- coercion: TLV value fields ---------------------------------------- */

static struct dm_value tlv(const void *p, size_t len)
{
	return (struct dm_value){ .type = DM_T_OPAQUE, .raw = DM_RAW_TLV, .bytes = { p, len } };
}

static void test_coerce_tlv_integers(void **state)
{
	assert_int_equal(ok(tlv("\x64", 1), DM_T_INT).i, 100);
	assert_int_equal(ok(tlv("\xff", 1), DM_T_INT).i, -1);
	assert_int_equal(ok(tlv("\x80", 1), DM_T_INT).i, -128);
	assert_int_equal(ok(tlv("\x0e\xd8", 2), DM_T_INT).i, 3800);
	assert_int_equal(ok(tlv("\x80\x00", 2), DM_T_INT).i, -32768);
	assert_int_equal(ok(tlv("\x7f\xff\xff\xff", 4), DM_T_INT).i, INT32_MAX);
	assert_int_equal(ok(tlv("\xff\xff\xff\xfe", 4), DM_T_INT).i, -2);
	assert_int_equal(ok(tlv("\x80\0\0\0\0\0\0\0", 8), DM_T_INT).i, INT64_MIN);
	assert_int_equal(ok(tlv("\x00\0\0\0\0\0\x01\x00", 8), DM_T_INT).i, 256);
	assert_int_equal(ok(tlv("\x51\x82\x42\x8f", 4), DM_T_TIME).i, 1367491215);
	assert_int_equal(ok(tlv("\xff", 1), DM_T_UINT).u, 255);
	assert_int_equal(ok(tlv("\xff\xff", 2), DM_T_UINT).u, 65535);
	assert_int_equal(ok(tlv("\xff\xff\xff\xff\xff\xff\xff\xff", 8), DM_T_UINT).u, UINT64_MAX);
	bad(tlv("\x01\x02\x03", 3), DM_T_INT, "TLV integer of 3 bytes");
	bad(tlv("", 0), DM_T_INT, "TLV integer of 0 bytes");
	bad(tlv("\0\0\0\0\0", 5), DM_T_UINT, "TLV integer of 5 bytes");
	bad(tlv("123456789", 9), DM_T_TIME, "TLV integer of 9 bytes");
}

static void test_coerce_tlv_others(void **state)
{
	struct dm_value v;

	assert_true(ok(tlv("\x3f\xc0\x00\x00", 4), DM_T_FLOAT).f == 1.5);
	assert_true(ok(tlv("\x3f\xf8\0\0\0\0\0\0", 8), DM_T_FLOAT).f == 1.5);
	assert_true(ok(tlv("\x40\x09\x21\xfb\x54\x44\x2d\x18", 8), DM_T_FLOAT).f ==
		    3.141592653589793);
	bad(tlv("\x3f\xc0", 2), DM_T_FLOAT, "TLV float of 2 bytes");
	assert_true(ok(tlv("\x01", 1), DM_T_BOOL).b);
	assert_false(ok(tlv("\x00", 1), DM_T_BOOL).b);
	bad(tlv("\x02", 1), DM_T_BOOL, "TLV boolean of value 2");
	bad(tlv("\x00\x01", 2), DM_T_BOOL, "TLV boolean of 2 bytes");
	v = ok(tlv("\x00\x03\x00\x01", 4), DM_T_OBJLNK);
	assert_int_equal(v.lnk.oid, 3);
	assert_int_equal(v.lnk.iid, 1);
	v = ok(tlv("\xff\xff\xff\xff", 4), DM_T_OBJLNK);
	assert_int_equal(v.lnk.oid, 65535);
	bad(tlv("\x00\x03\x00", 3), DM_T_OBJLNK, "TLV object link of 3 bytes");
	v = ok(tlv("U", 1), DM_T_STRING);
	assert_int_equal(v.bytes.len, 1);
	assert_memory_equal(v.bytes.p, "U", 1);
	assert_int_equal(ok(tlv("\0\1\2", 3), DM_T_OPAQUE).bytes.len, 3);
	assert_int_equal(ok(tlv("", 0), DM_T_STRING).bytes.len, 0);
	assert_int_equal(ok(tlv("</1>", 4), DM_T_CORELNK).bytes.len, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_parse_good),
		cmocka_unit_test(test_path_parse_bad),
		cmocka_unit_test(test_path_parse_message),
		cmocka_unit_test(test_path_str),
		cmocka_unit_test(test_path_make_under),
		cmocka_unit_test(test_recs_keep_bytes),
		cmocka_unit_test(test_recs_values),
		cmocka_unit_test(test_constructors),
		cmocka_unit_test(test_coerce_numbers),
		cmocka_unit_test(test_coerce_others),
		cmocka_unit_test(test_coerce_text_numbers),
		cmocka_unit_test(test_coerce_text_others),
		cmocka_unit_test(test_coerce_text_quoting),
		cmocka_unit_test(test_coerce_tlv_integers),
		cmocka_unit_test(test_coerce_tlv_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
