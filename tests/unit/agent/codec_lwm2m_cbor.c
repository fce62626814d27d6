/* Unit tests for agent/codec_lwm2m_cbor.c: payloads written byte for byte
 * for reads at every depth and for composites (keys folded into arrays, the
 * narrowest integers and floats), every way a path may be split into keys
 * read back to the same records, nulls and empty maps, round trips of every
 * type at every depth, and the malformed input the decoder must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec_helpers.h"

static struct dm_value corelnk(const char *s)
{
	return (struct dm_value){ .type = DM_T_CORELNK,
				  .bytes = { (const uint8_t *)s, strlen(s) } };
}

/* ---- encoding ---------------------------------------------------------- */

static void encode_ok(const char *base, const struct dm_recs *l, const char *hex)
{
	encode_hex_ok(LWM_FMT_LWM2M_CBOR, base, l, hex);
}

#define OMA "74 'Open Mobile Alliance'"

static void test_encode_depths(void **state)
{
	struct dm_recs l;

	/* a resource: {[3, 0, 0]: "Open Mobile Alliance"} */
	dm_recs_init(&l);
	add(&l, "/3/0/0", dm_str("Open Mobile Alliance"));
	encode_ok("/3/0/0", &l, "A1 83 03 00 00 " OMA);
	dm_recs_fini(&l);

	/* a resource instance, and a multiple resource */
	dm_recs_init(&l);
	add(&l, "/3/0/6/1", dm_int(5));
	encode_ok("/3/0/6/1", &l, "A1 84 03 00 06 01 05");
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0/6/0", dm_int(1));
	add(&l, "/3/0/6/1", dm_int(5));
	encode_ok("/3/0/6", &l, "A1 83 03 00 06 A2 00 01 01 05");
	dm_recs_fini(&l);

	/* an instance: {[3, 0]: {0: .., 6: {0: 1, 1: 5}, 9: 100, 13: time}} */
	dm_recs_init(&l);
	add(&l, "/3/0/0", dm_str("Open Mobile Alliance"));
	add(&l, "/3/0/6/0", dm_int(1));
	add(&l, "/3/0/6/1", dm_int(5));
	add(&l, "/3/0/9", dm_int(100));
	add(&l, "/3/0/13", dm_time(1367491215));
	encode_ok("/3/0", &l,
		  "A1 82 03 00 A4 00 " OMA " 06 A2 00 01 01 05 09 18 64 0D 1A 51 82 42 8F");
	/* the same records read at the object and the root */
	encode_ok("/3", &l,
		  "A1 82 03 00 A4 00 " OMA " 06 A2 00 01 01 05 09 18 64 0D 1A 51 82 42 8F");
	encode_ok("/", &l,
		  "A1 82 03 00 A4 00 " OMA " 06 A2 00 01 01 05 09 18 64 0D 1A 51 82 42 8F");
	dm_recs_fini(&l);

	/* an object of two instances: the instance levels fold into their keys */
	dm_recs_init(&l);
	add(&l, "/3/0/0", dm_str("a"));
	add(&l, "/3/1/0", dm_str("b"));
	add(&l, "/3/1/1", dm_str("c"));
	encode_ok("/3", &l, "A1 03 A2 82 00 00 61 'a' 01 A2 00 61 'b' 01 61 'c'");
	dm_recs_fini(&l);

	/* nothing to say: an empty map */
	dm_recs_init(&l);
	encode_ok("/1", &l, "A0");
	add(&l, "/1/0/7", (struct dm_value){ .type = DM_T_NONE });
	add(&l, "/1/0", (struct dm_value){ .type = DM_T_NONE });
	encode_ok("/1", &l, "A0");
	dm_recs_fini(&l);

	/* the largest ids */
	dm_recs_init(&l);
	add(&l, "/65534/65534/65534/65534", dm_bool(false));
	encode_ok("/", &l, "A1 84 19 FF FE 19 FF FE 19 FF FE 19 FF FE F4");
	dm_recs_fini(&l);
}

static void test_encode_composite(void **state)
{
	struct dm_recs l;

	/* records in request order, not path order: sorted on the way out */
	dm_recs_init(&l);
	add(&l, "/3/0/0", dm_str("x"));
	add(&l, "/1/0/1", dm_int(300));
	add(&l, "/3/0/9", dm_int(-1));
	add(&l, "/3303/0/5700", dm_float(21.5));
	encode_ok("/", &l,
		  "A3 83 01 00 01 19 01 2C"
		  " 82 03 00 A2 00 61 'x' 09 20"
		  " 83 19 0C E7 00 19 16 44 F9 4D 60");
	dm_recs_fini(&l);

	/* overlapping composite paths read a value twice: written once */
	dm_recs_init(&l);
	add(&l, "/3/0/0", dm_str("x"));
	add(&l, "/3/0/1", dm_str("y"));
	add(&l, "/3/0/0", dm_str("x"));
	encode_ok("/", &l, "A1 82 03 00 A2 00 61 'x' 01 61 'y'");
	dm_recs_fini(&l);
}

static void test_encode_types(void **state)
{
	struct dm_recs l;

	dm_recs_init(&l);
	add(&l, "/1/0/0", (struct dm_value){ .type = DM_T_NONE });
	add(&l, "/1/0/1", dm_int(-5));
	add(&l, "/1/0/2", dm_uint(UINT64_MAX));
	add(&l, "/1/0/3", dm_float(1.5));
	add(&l, "/1/0/4", dm_float(0.1));
	add(&l, "/1/0/5", dm_bool(true));
	add(&l, "/1/0/6", dm_opaque("\x01\x02\x03\x04", 4));
	add(&l, "/1/0/7", dm_objlnk(3, 0));
	add(&l, "/1/0/8", dm_time(1700000000));
	add(&l, "/1/0/9", dm_int(INT64_MIN));
	add(&l, "/1/0/10", corelnk("</3/0>"));
	add(&l, "/1/0/11", dm_str(""));
	add(&l, "/1/0/12", dm_opaque("", 0));
	add(&l, "/1/0/13", dm_time(-1));
	add(&l, "/1/0/14", dm_uint(24));
	encode_ok("/1/0", &l,
		  "A1 82 01 00 AE"
		  " 01 24"
		  " 02 1B FF FF FF FF FF FF FF FF"
		  " 03 F9 3E 00"
		  " 04 FB 3F B9 99 99 99 99 99 9A"
		  " 05 F5"
		  " 06 44 01 02 03 04"
		  " 07 63 '3:0'"
		  " 08 1A 65 53 F1 00"
		  " 09 3B 7F FF FF FF FF FF FF FF"
		  " 0A 66 '</3/0>'"
		  " 0B 60"
		  " 0C 40"
		  " 0D 20"
		  " 0E 18 18");
	dm_recs_fini(&l);
}

/* Floats take the narrowest width that holds them exactly. */
static void test_encode_floats(void **state)
{
	static const struct {
		double f;
		const char *hex;
	} t[] = {
		{ 0.0, "F9 00 00" },
		{ -0.0, "F9 80 00" },
		{ 1.0, "F9 3C 00" },
		{ -2.0, "F9 C0 00" },
		{ 65504.0, "F9 7B FF" },
		{ 0x1p-14, "F9 04 00" },
		{ 0x1p-24, "F9 00 01" },
		{ 0x3FFp-24, "F9 03 FF" },
		{ 1.0 / 0.0, "F9 7C 00" },
		{ -1.0 / 0.0, "F9 FC 00" },
		{ 0.0 / 0.0, "F9 7E 00" },
		{ 1.0009765625, "F9 3C 01" },           /* 1 + 2^-10: the last half bit */
		{ 1.00048828125, "FA 3F 80 10 00" },    /* 1 + 2^-11: one bit too many */
		{ 65505.0, "FA 47 7F E1 00" },
		{ 100000.0, "FA 47 C3 50 00" },
		{ 0x1p-25, "FA 33 00 00 00" },
		{ 0x1p-149, "FA 00 00 00 01" },
		{ 0x1p-150, "FB 36 90 00 00 00 00 00 00" },
		{ 3.0e38, "FB 47 EC 36 3C BF 21 F2 8A" },
		{ 1e300, "FB 7E 37 E4 3C 88 00 75 9C" },
		{ 0.1, "FB 3F B9 99 99 99 99 99 9A" },
	};
	char hex[64];
	struct dm_recs l;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		dm_recs_init(&l);
		add(&l, "/4/0/1", dm_float(t[i].f));
		snprintf(hex, sizeof(hex), "A1 83 04 00 01 %s", t[i].hex);
		encode_ok("/4/0/1", &l, hex);
		dm_recs_fini(&l);
	}
}

static void test_encode_bad(void **state)
{
	struct dm_value raw = { .type = DM_T_STRING, .raw = DM_RAW_TEXT };
	struct dm_path b = path("/3/0/6");
	struct errbuf err;
	struct dm_recs l;
	struct buf out;

	buf_init(&out);
	buf_adds(&out, "keep");
	dm_recs_init(&l);
	add(&l, "/3/0/6/0", dm_int(1));
	add(&l, "/3/0/6", dm_int(1));
	assert_int_equal(codec_encode(LWM_FMT_LWM2M_CBOR, &b, &l, &out, &err), LWM_EINTERNAL);
	assert_non_null(strstr(err.msg, "/3/0/6 has a value and values below it"));
	assert_string_equal(buf_str(&out), "keep");
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0/6", raw);
	assert_int_equal(codec_encode(LWM_FMT_LWM2M_CBOR, &b, &l, &out, &err), LWM_EINTERNAL);
	assert_non_null(strstr(err.msg, "untyped"));
	b = path("/4");
	assert_int_equal(codec_encode(LWM_FMT_LWM2M_CBOR, &b, &l, &out, &err), LWM_EINTERNAL);
	assert_non_null(strstr(err.msg, "not under"));
	dm_recs_fini(&l);
	dm_recs_init(&l);
	b = path("/3/0");
	add(&l, "/3/0", dm_int(1));
	assert_int_equal(codec_encode(LWM_FMT_LWM2M_CBOR, &b, &l, &out, &err), LWM_EINTERNAL);
	assert_non_null(strstr(err.msg, "above any resource"));
	assert_string_equal(buf_str(&out), "keep");
	dm_recs_fini(&l);
	buf_fini(&out);
}

/* ---- decoding ---------------------------------------------------------- */

static void decode_ok(const char *base, const char *hex, struct dm_recs *l)
{
	decode_hex_ok(LWM_FMT_LWM2M_CBOR, base, hex, l);
}

/* Every way of writing {/3/0/0: 42, /3/0/1: "x"} reads the same. */
static void test_decode_nesting(void **state)
{
	static const char *const forms[] = {
		"A1 03 A1 00 A2 00 18 2A 01 61 'x'",                    /* {3: {0: {0:, 1:}}} */
		"A1 82 03 00 A2 00 18 2A 01 61 'x'",                    /* {[3, 0]: {..}} */
		"A2 83 03 00 00 18 2A 83 03 00 01 61 'x'",              /* {[3, 0, 0]:, [3, 0, 1]:} */
		"A1 03 A2 00 A1 00 18 2A 00 A1 01 61 'x'",              /* key 0 twice, paths apart */
		"A1 81 03 A1 81 00 A2 81 00 18 2A 81 01 61 'x'",        /* {[3]: {[0]: {[0]:, [1]:}}} */
		"A2 83 03 00 00 18 2A 82 03 00 A1 81 01 61 'x'",        /* {[3, 0, 0]:, [3, 0]: {[1]:}} */
		"A2 82 03 00 A1 00 18 2A 03 A1 00 A1 01 61 'x'",        /* {[3, 0]: {0:}, 3: {0: {1:}}} */
		"A1 03 A2 82 00 00 18 2A 82 00 01 61 'x'",              /* {3: {[0, 0]:, [0, 1]:}} */
		/* indefinite maps, arrays and strings */
		"BF 03 BF 00 BF 00 18 2A 01 7F 61 'x' FF FF FF FF",
		"BF 9F 03 00 FF BF 9F 00 FF 18 2A 9F 01 FF 7F 60 61 'x' 60 FF FF FF",
		"BF 9F 03 00 00 FF 18 2A 9F 03 00 01 FF 61 'x' FF",
	};
	struct dm_recs l;
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		decode_ok("/", forms[i], &l);
		if (l.n != 2)
			fail_msg("form %zu: %zu records", i, l.n);
		check_path(&l.r[0], "/3/0/0");
		assert_int_equal(l.r[0].v.type, DM_T_INT);
		assert_int_equal(l.r[0].v.i, 42);
		check_path(&l.r[1], "/3/0/1");
		assert_int_equal(l.r[1].v.type, DM_T_STRING);
		assert_int_equal(l.r[1].v.bytes.len, 1);
		assert_memory_equal(l.r[1].v.bytes.p, "x", 1);
		dm_recs_fini(&l);
	}
	/* the base is any prefix of the paths, or the paths themselves */
	decode_ok("/3", forms[0], &l);
	assert_int_equal(l.n, 2);
	dm_recs_fini(&l);
	decode_ok("/3/0", forms[2], &l);
	assert_int_equal(l.n, 2);
	dm_recs_fini(&l);
	decode_ok("/3/0/1", "A1 03 A1 00 A1 01 61 'x'", &l);
	assert_int_equal(l.n, 1);
	check_path(&l.r[0], "/3/0/1");
	dm_recs_fini(&l);
	decode_ok("/3/0/6/1", "A1 84 03 00 06 01 05", &l);
	assert_int_equal(l.n, 1);
	check_path(&l.r[0], "/3/0/6/1");
	dm_recs_fini(&l);
	/* a composite of several objects */
	decode_ok("/", "A3 83 01 00 01 19 01 2C 82 03 00 A1 09 20 19 0C E7 A1 00 A1 19 16 44 F9 4D 60",
		  &l);
	assert_int_equal(l.n, 3);
	check_path(&l.r[0], "/1/0/1");
	assert_int_equal(l.r[0].v.i, 300);
	check_path(&l.r[1], "/3/0/9");
	assert_int_equal(l.r[1].v.i, -1);
	check_path(&l.r[2], "/3303/0/5700");
	assert_true(l.r[2].v.f == 21.5);
	dm_recs_fini(&l);
	/* an empty payload map */
	decode_ok("/", "A0", &l);
	assert_int_equal(l.n, 0);
	dm_recs_fini(&l);
	decode_ok("/3/0", "BF FF", &l);
	assert_int_equal(l.n, 0);
	dm_recs_fini(&l);
}

static void test_decode_types(void **state)
{
	struct errbuf err = { "" };
	struct dm_value v;
	struct dm_recs l;

	decode_ok("/1/0",
		  "A1 82 01 00 B0"
		  " 00 18 2A"
		  " 01 1B FF FF FF FF FF FF FF FF"
		  " 02 3B 7F FF FF FF FF FF FF FF"
		  " 03 F9 3E 00"
		  " 04 FA 47 C3 50 00"
		  " 05 FB 3F B9 99 99 99 99 99 9A"
		  " 06 F4"
		  " 07 43 00 01 02"
		  " 08 63 '3:1'"
		  " 09 C1 1A 65 53 F1 00"
		  " 0A C1 20"
		  " 0B C1 FB 41 D9 54 FC 40 00 00 00"
		  " 0C 60"
		  " 0D 5F FF"
		  " 0E 5F 41 01 40 42 02 03 FF"
		  " 0F 1B 7F FF FF FF FF FF FF FF", &l);
	assert_int_equal(l.n, 16);
	assert_int_equal(l.r[0].v.type, DM_T_INT);
	assert_int_equal(l.r[0].v.i, 42);
	assert_int_equal(l.r[1].v.type, DM_T_UINT);
	assert_true(l.r[1].v.u == UINT64_MAX);
	assert_int_equal(l.r[2].v.type, DM_T_INT);
	assert_true(l.r[2].v.i == INT64_MIN);
	assert_int_equal(l.r[3].v.type, DM_T_FLOAT);
	assert_true(l.r[3].v.f == 1.5);
	assert_true(l.r[4].v.f == 100000.0);
	assert_true(l.r[5].v.f == 0.1);
	assert_int_equal(l.r[6].v.type, DM_T_BOOL);
	assert_false(l.r[6].v.b);
	assert_int_equal(l.r[7].v.type, DM_T_OPAQUE);
	assert_int_equal(l.r[7].v.bytes.len, 3);
	assert_memory_equal(l.r[7].v.bytes.p, "\0\1\2", 3);
	/* an object link is text until the resource gives it its type */
	assert_int_equal(l.r[8].v.type, DM_T_STRING);
	assert_int_equal(dm_value_coerce(&l.r[8].v, DM_T_OBJLNK, &v, &err), 0);
	assert_int_equal(v.lnk.oid, 3);
	assert_int_equal(v.lnk.iid, 1);
	assert_int_equal(l.r[9].v.type, DM_T_TIME);
	assert_int_equal(l.r[9].v.i, 1700000000);
	assert_int_equal(l.r[10].v.type, DM_T_TIME);
	assert_int_equal(l.r[10].v.i, -1);
	assert_int_equal(l.r[11].v.type, DM_T_TIME);
	assert_int_equal(l.r[11].v.i, 1700000000);
	assert_int_equal(l.r[12].v.type, DM_T_STRING);
	assert_int_equal(l.r[12].v.bytes.len, 0);
	assert_non_null(l.r[12].v.bytes.p);
	assert_int_equal(l.r[13].v.type, DM_T_OPAQUE);
	assert_int_equal(l.r[13].v.bytes.len, 0);
	assert_non_null(l.r[13].v.bytes.p);
	assert_int_equal(l.r[14].v.bytes.len, 3);
	assert_memory_equal(l.r[14].v.bytes.p, "\1\2\3", 3);
	assert_int_equal(l.r[15].v.type, DM_T_INT);
	assert_true(l.r[15].v.i == INT64_MAX);
	/* an integer reads as a Time, an unsigned or a float where one is wanted */
	assert_int_equal(dm_value_coerce(&l.r[0].v, DM_T_TIME, &v, &err), 0);
	assert_int_equal(v.i, 42);
	assert_int_equal(dm_value_coerce(&l.r[0].v, DM_T_FLOAT, &v, &err), 0);
	assert_true(v.f == 42.0);
	dm_recs_fini(&l);
}

/* A null, or an empty map below the root, is a record without a value. */
static void test_decode_null(void **state)
{
	struct dm_recs l;

	/* Write-Composite: delete /3/0/6/0, write /3/0/6/1 */
	decode_ok("/", "A1 83 03 00 06 A2 00 F6 01 05", &l);
	assert_int_equal(l.n, 2);
	check_path(&l.r[0], "/3/0/6/0");
	assert_int_equal(l.r[0].v.type, DM_T_NONE);
	assert_int_equal(l.r[0].v.raw, DM_RAW_NONE);
	check_path(&l.r[1], "/3/0/6/1");
	assert_int_equal(l.r[1].v.type, DM_T_INT);
	dm_recs_fini(&l);
	/* a composite request naming paths at every depth */
	decode_ok("/", "A4 82 03 00 F6 01 F6 83 05 00 01 F6 84 04 00 06 01 F6", &l);
	assert_int_equal(l.n, 4);
	check_path(&l.r[0], "/3/0");
	check_path(&l.r[1], "/1");
	check_path(&l.r[2], "/5/0/1");
	check_path(&l.r[3], "/4/0/6/1");
	assert_int_equal(l.r[1].path.id[1], DM_NONE);
	assert_int_equal(l.r[0].v.type, DM_T_NONE);
	assert_int_equal(l.r[3].v.type, DM_T_NONE);
	dm_recs_fini(&l);
	/* an empty multiple resource, an empty instance */
	decode_ok("/3/0", "A1 82 03 00 A2 06 A0 07 BF FF", &l);
	assert_int_equal(l.n, 2);
	check_path(&l.r[0], "/3/0/6");
	assert_int_equal(l.r[0].v.type, DM_T_NONE);
	check_path(&l.r[1], "/3/0/7");
	dm_recs_fini(&l);
	decode_ok("/", "A1 03 A1 01 A0", &l);
	assert_int_equal(l.n, 1);
	check_path(&l.r[0], "/3/1");
	assert_int_equal(l.r[0].v.type, DM_T_NONE);
	dm_recs_fini(&l);
}

static void decode_bad(const char *base, const char *hex, const char *why)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };
	struct dm_recs l;
	uint8_t in[512];
	size_t len = unhex(hex, in);
	int rc;

	dm_recs_init(&l);
	add(&l, "/9/9/9", dm_int(9));
	rc = codec_decode(LWM_FMT_LWM2M_CBOR, &b, in, len, &l, &err);
	if (rc != LWM_EBADREQ)
		fail_msg("%s: returned %d (%s)", hex, rc, err.msg);
	if (!strstr(err.msg, why))
		fail_msg("%s: message \"%s\" lacks \"%s\"", hex, err.msg, why);
	assert_int_equal(l.n, 1);
	dm_recs_fini(&l);
}

#define K "83 03 00 01 "          /* key [3, 0, 1] */

static void test_decode_bad(void **state)
{
	/* the root */
	decode_bad("/", "", "the payload is empty");
	decode_bad("/", "80", "offset 0: the root is not a map");
	decode_bad("/", "01", "the root is not a map");
	decode_bad("/", "F6", "the root is not a map");
	decode_bad("/", "C1 A0", "the root is not a map");
	decode_bad("/", "7F FF", "the root is not a map");
	decode_bad("/", "A1", "the map is incomplete");
	decode_bad("/", "A1 " K, "the map is incomplete");
	decode_bad("/", "A2 " K "01", "the map is incomplete");
	decode_bad("/", "BF " K "01", "the map is incomplete");
	decode_bad("/", "A1 03 A1 00 A1 01", "the map is incomplete");
	/* after the root */
	decode_bad("/", "A0 00", "offset 1: data after the map");
	decode_bad("/", "A0 FF", "data after the map");
	decode_bad("/", "A0 A0", "data after the map");
	decode_bad("/", "A0 7F FF", "data after the map");
	decode_bad("/", "A0 5F", "data after the map");
	decode_bad("/", "A0 C1 01", "data after the map");
	decode_bad("/", "A1 " K "01 02", "data after the map");
	/* malformed CBOR */
	decode_bad("/", "A1 " K "65 'ab'", "offset 5: CBOR truncated");
	decode_bad("/", "A1 " K "1A 00", "CBOR truncated");
	decode_bad("/", "A1 " K "1C", "malformed CBOR");
	decode_bad("/", "A1 " K "FF", "unexpected break");
	decode_bad("/", "A1 03 FF", "unexpected break");
	decode_bad("/", "BF " K "FF", "a key without a value");
	decode_bad("/", "BB 7F FF FF FF FF FF FF FF", "map of");
	decode_bad("/", "A1 " K "BB 7F FF FF FF FF FF FF FF", "map of");
	decode_bad("/", "A1 82 03 00 BB 7F FF FF FF FF FF FF FF", "map of");
	decode_bad("/", "A1 82 03 00 BB 00 00 00 00 FF FF FF FF", "the map is incomplete");
	decode_bad("/", "A1 " K "7F 41 01 FF", "another kind of string");
	decode_bad("/", "A1 " K "7F 7F", "indefinite string inside another");
	decode_bad("/", "A1 " K "7F 01 FF", "indefinite string holds another item");
	decode_bad("/", "A1 " K "7F A0", "indefinite string holds another item");
	decode_bad("/", "A1 " K "7F C1", "indefinite string holds another item");
	/* keys */
	decode_bad("/", "A1 61 '3' 01", "a key must be an id or an array of ids");
	decode_bad("/", "A1 20 01", "a key must be an id");
	decode_bad("/", "A1 F6 01", "a key must be an id");
	decode_bad("/", "A1 F9 42 00 01", "a key must be an id");
	decode_bad("/", "A1 A0 01", "a key must be an id");
	decode_bad("/", "A1 C1 03 01", "a tag in a key");
	decode_bad("/", "A1 80 01", "a key is an empty path");
	decode_bad("/", "A1 9F FF 01", "a key is an empty path");
	decode_bad("/", "A1 03 A1 80 01", "a key is an empty path");
	decode_bad("/", "A1 82 03 61 '0' 01", "a path element must be an unsigned integer");
	decode_bad("/", "A1 82 03 20 01", "a path element must be");
	decode_bad("/", "A1 82 03 81 00 01", "a path element must be");
	decode_bad("/", "A1 82 03 A0 01", "a path element must be");
	decode_bad("/", "A1 82 03 C1 00 01", "a tag in a key");
	/* ids and depth */
	decode_bad("/", "A1 19 FF FF A0", "id 65535 is above 65534");
	decode_bad("/", "A1 1A 00 01 00 00 A0", "id 65536 is above 65534");
	decode_bad("/", "A1 83 03 00 1B 00 00 00 01 00 00 00 00 01", "id 4294967296 is above");
	decode_bad("/", "A1 85 03 00 01 02 03 01", "/3/0/1/2/3 is deeper than a resource instance");
	decode_bad("/", "A1 9B FF FF FF FF FF FF FF FF 03 00 01 02 03", "deeper than");
	decode_bad("/", "A1 " K "A1 82 02 03 01", "/3/0/1/2/3 is deeper");
	decode_bad("/", "A1 03 A1 00 A1 01 A1 02 A1 03 04", "/3/0/1/2: a map below a resource instance");
	decode_bad("/", "A1 84 03 00 01 02 A0", "a map below a resource instance");
	/* the request path */
	decode_bad("/4", "A1 " K "01", "/3 is not under /4");
	decode_bad("/3/1", "A1 03 A1 00 A1 01 01", "/3/0 is not under /3/1");
	decode_bad("/3/0/1", "A1 82 03 00 F6", "/3/0 is not under /3/0/1");
	decode_bad("/3/0/1", "A1 82 03 00 A0", "/3/0 is not under /3/0/1");
	decode_bad("/3/0/6/1", "A1 84 03 00 06 02 01", "/3/0/6/2 is not under /3/0/6/1");
	/* values */
	decode_bad("/", "A1 82 03 00 01", "a value for /3/0, which is not a resource");
	decode_bad("/", "A1 03 F5", "a value for /3, which is not a resource");
	decode_bad("/", "A1 " K "80", "/3/0/1: an array is no value");
	decode_bad("/", "A1 " K "9F FF", "an array is no value");
	decode_bad("/", "A1 " K "F7", "undefined is no value");
	decode_bad("/", "A1 " K "3B FF FF FF FF FF FF FF FF", "integer below the 64-bit range");
	decode_bad("/", "A1 " K "C0 61 'x'", "CBOR tag 0 is not understood");
	decode_bad("/", "A1 " K "C4 82 20 18 2D", "CBOR tag 4 is not understood");
	decode_bad("/", "A1 " K "C1 61 '1'", "tag 1 (a time) must mark a number");
	decode_bad("/", "A1 " K "C1 F6", "tag 1 (a time) must mark a number");
	decode_bad("/", "A1 " K "C1 A0", "tag 1 (a time) must mark a number");
	decode_bad("/", "A1 " K "C1 80", "tag 1 (a time) must mark a number");
	decode_bad("/", "BF " K "C1 FF", "tag 1 (a time) must mark a number");
	decode_bad("/", "A1 " K "C1 C1 01", "tag 1 given twice");
	decode_bad("/", "A1 " K "C1 1B FF FF FF FF FF FF FF FF", "time out of range");
	decode_bad("/", "A1 " K "C1 FB 7F EF FF FF FF FF FF FF", "time out of range");
	decode_bad("/", "A1 " K "C1 F9 7E 00", "time out of range");
	/* the same path twice, or a leaf with values below it */
	decode_bad("/", "A2 " K "01 " K "02", "LwM2M CBOR: /3/0/1 is given twice");
	decode_bad("/", "A2 03 A1 00 A1 01 01 " K "02", "/3/0/1 is given twice");
	decode_bad("/", "A1 03 A2 00 A1 01 01 00 A1 01 02", "/3/0/1 is given twice");
	decode_bad("/", "A1 82 03 00 A2 01 F6 01 F6", "/3/0/1 is given twice");
	decode_bad("/", "A2 83 03 00 06 01 84 03 00 06 00 02",
		   "/3/0/6 is given, and /3/0/6/0 below it");
	decode_bad("/", "A2 82 03 00 F6 " K "01", "/3/0 is given, and /3/0/1 below it");
	decode_bad("/", "A2 83 03 00 06 A0 84 03 00 06 00 01", "/3/0/6 is given, and /3/0/6/0");
}

/* ---- round trips -------------------------------------------------------- */

/* Encodes in at base, decodes it back and compares each value once coerced
 * to its original type (the encoding does not carry types). */
static void round_trip(const char *base, const struct dm_recs *in)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };
	struct dm_recs back;
	struct dm_value v;
	struct buf out;
	size_t i;

	buf_init(&out);
	dm_recs_init(&back);
	if (codec_encode(LWM_FMT_LWM2M_CBOR, &b, in, &out, &err))
		fail_msg("encode at %s: %s", base, err.msg);
	if (codec_decode(LWM_FMT_LWM2M_CBOR, &b, out.p, out.len, &back, &err))
		fail_msg("decode at %s: %s", base, err.msg);
	/* both lists are in path order */
	assert_int_equal(back.n, in->n);
	for (i = 0; i < in->n; i++) {
		const struct dm_value *w = &in->r[i].v;

		assert_memory_equal(&back.r[i].path, &in->r[i].path, sizeof(struct dm_path));
		if (dm_value_coerce(&back.r[i].v, w->type, &v, &err))
			fail_msg("%s record %zu: %s", base, i, err.msg);
		assert_int_equal(v.type, w->type);
		switch (w->type) {
		case DM_T_STRING:
		case DM_T_OPAQUE:
		case DM_T_CORELNK:
			assert_int_equal(v.bytes.len, w->bytes.len);
			assert_memory_equal(v.bytes.p, w->bytes.p, w->bytes.len);
			break;
		case DM_T_FLOAT:
			assert_true(v.f == w->f || (v.f != v.f && w->f != w->f));
			assert_int_equal(!!signbit(v.f), !!signbit(w->f));
			break;
		case DM_T_OBJLNK:
			assert_int_equal(v.lnk.oid, w->lnk.oid);
			assert_int_equal(v.lnk.iid, w->lnk.iid);
			break;
		case DM_T_BOOL:
			assert_int_equal(v.b, w->b);
			break;
		case DM_T_UINT:
			assert_true(v.u == w->u);
			break;
		default:
			assert_true(v.i == w->i);
			break;
		}
	}
	buf_fini(&out);
	dm_recs_fini(&back);
}

static void test_round_trip(void **state)
{
	static const double floats[] = { -0.000123, 3.0e38, 1.0 / 0.0, -0.0, 0.0 / 0.0, 0x1p-1074,
					 1.7976931348623157e308, 5.960464477539063e-08, 0.5 };
	char p[32];
	struct dm_recs l;
	size_t i;

	dm_recs_init(&l);
	add(&l, "/3/0/0", dm_str("Open Mobile Alliance"));
	add(&l, "/3/0/1", dm_str(""));
	add(&l, "/3/0/6/0", dm_int(1));
	add(&l, "/3/0/6/1", dm_int(5));
	add(&l, "/3/0/6/65534", dm_int(-1));
	add(&l, "/3/0/7/0", dm_int(INT64_MIN));
	add(&l, "/3/0/7/1", dm_int(INT64_MAX));
	add(&l, "/3/0/13", dm_time(1367491215));
	add(&l, "/3/0/14", dm_time(-1367491215));
	add(&l, "/3/0/15", dm_uint(UINT64_MAX));
	add(&l, "/3/0/16", dm_uint(0));
	add(&l, "/3/0/17", dm_bool(true));
	add(&l, "/3/0/18", dm_bool(false));
	add(&l, "/3/0/19", dm_opaque("\0\1\2", 3));
	add(&l, "/3/0/20", dm_opaque("", 0));
	add(&l, "/3/0/21", dm_objlnk(65535, 65535));
	add(&l, "/3/0/22", dm_objlnk(0, 0));
	add(&l, "/3/0/23", corelnk("</1/0>;ssid=1,</3/0>"));
	for (i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
		snprintf(p, sizeof(p), "/3/0/%zu", 100 + i);
		add(&l, p, dm_float(floats[i]));
	}
	/* an instance read at every depth above it */
	round_trip("/3/0", &l);
	round_trip("/3", &l);
	round_trip("/", &l);
	dm_recs_fini(&l);

	/* a resource, a multiple resource, a resource instance */
	dm_recs_init(&l);
	add(&l, "/3/0/0", dm_str("x"));
	round_trip("/3/0/0", &l);
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0/6/0", dm_int(1));
	add(&l, "/3/0/6/7", dm_int(2));
	round_trip("/3/0/6", &l);
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0/6/7", dm_int(2));
	round_trip("/3/0/6/7", &l);
	dm_recs_fini(&l);

	/* an object of several instances, and a composite of several objects */
	dm_recs_init(&l);
	add(&l, "/1/0/0", dm_int(1));
	add(&l, "/1/0/1", dm_int(300));
	add(&l, "/1/1/0", dm_int(2));
	add(&l, "/1/2/0", dm_int(3));
	add(&l, "/1/2/1", dm_int(86400));
	round_trip("/1", &l);
	add(&l, "/3/0/9", dm_int(95));
	add(&l, "/3303/0/5700", dm_float(21.25));
	add(&l, "/3303/1/5700", dm_float(-40.0));
	add(&l, "/65534/65534/65534/65534", dm_str("deep"));
	round_trip("/", &l);
	dm_recs_fini(&l);
}

/* What the decoder reads, the encoder writes back in its compact form. */
static void test_recode(void **state)
{
	struct dm_path root = path("/");
	struct errbuf err = { "" };
	struct dm_recs l;
	struct buf out;
	uint8_t want[64];
	size_t len;

	decode_ok("/", "BF 03 BF 00 BF 00 18 2A 01 7F 61 'x' FF FF FF FF", &l);
	buf_init(&out);
	assert_int_equal(codec_encode(LWM_FMT_LWM2M_CBOR, &root, &l, &out, &err), 0);
	len = unhex("A1 82 03 00 A2 00 18 2A 01 61 'x'", want);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.p, want, len);
	buf_fini(&out);
	dm_recs_fini(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_depths),
		cmocka_unit_test(test_encode_composite),
		cmocka_unit_test(test_encode_types),
		cmocka_unit_test(test_encode_floats),
		cmocka_unit_test(test_encode_bad),
		cmocka_unit_test(test_decode_nesting),
		cmocka_unit_test(test_decode_types),
		cmocka_unit_test(test_decode_null),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_recode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
