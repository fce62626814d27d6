/* Unit tests for agent/codec_senml_cbor.c: packs written byte for byte (the
 * same Device instance as the SenML JSON tests, every value type), reading
 * them back, CBOR's indefinite lengths and half floats, round trips, and the
 * malformed input the streaming decoder must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec_helpers.h"

static void encode_ok(const char *base, const struct dm_recs *l, const char *hex)
{
	encode_hex_ok(LWM_FMT_SENML_CBOR, base, l, hex);
}

static void test_encode(void **state)
{
	struct dm_value none = { .type = DM_T_NONE };
	struct dm_recs l;

	dm_recs_init(&l);
	add(&l, "/3/0/0", dm_str("Open Mobile Alliance"));
	encode_ok("/3/0/0", &l, "81 A2 21 66 '/3/0/0' 03 74 'Open Mobile Alliance'");
	dm_recs_fini(&l);

	dm_recs_init(&l);
	add(&l, "/3/0/6/0", dm_int(1));
	add(&l, "/3/0/6/1", dm_int(5));
	encode_ok("/3/0/6", &l, "82 A3 21 67 '/3/0/6/' 00 61 '0' 02 01 A2 00 61 '1' 02 05");
	encode_ok("/", &l, "82 A3 21 61 '/' 00 67 '3/0/6/0' 02 01 A2 00 67 '3/0/6/1' 02 05");
	dm_recs_fini(&l);

	dm_recs_init(&l);
	add(&l, "/1/0/0", none);
	add(&l, "/1/0/1", dm_int(-5));
	add(&l, "/1/0/2", dm_uint(UINT64_MAX));
	add(&l, "/1/0/3", dm_float(1.5));
	add(&l, "/1/0/4", dm_float(0.1));
	add(&l, "/1/0/5", dm_bool(true));
	add(&l, "/1/0/6", dm_opaque("\x01\x02\x03\x04", 4));
	add(&l, "/1/0/7", dm_objlnk(3, 0));
	add(&l, "/1/0/8", dm_time(1700000000));
	add(&l, "/1/0/9", dm_int(INT64_MIN));
	add(&l, "/1/0/10", (struct dm_value){ .type = DM_T_CORELNK,
					      .bytes = { (const uint8_t *)"<>", 2 } });
	l.r[1].time = 1700000000;
	encode_ok("/1/0", &l,
		  "8A"
		  " A4 21 65 '/1/0/' 00 61 '1' 02 24 06 1A 65 53 F1 00"
		  " A2 00 61 '2' 02 1B FF FF FF FF FF FF FF FF"
		  " A2 00 61 '3' 02 FA 3F C0 00 00"
		  " A2 00 61 '4' 02 FB 3F B9 99 99 99 99 99 9A"
		  " A2 00 61 '5' 04 F5"
		  " A2 00 61 '6' 08 44 01 02 03 04"
		  " A2 00 61 '7' 63 'vlo' 63 '3:0'"
		  " A2 00 61 '8' 02 1A 65 53 F1 00"
		  " A2 00 61 '9' 02 3B 7F FF FF FF FF FF FF FF"
		  " A2 00 62 '10' 03 62 '<>'");
	dm_recs_fini(&l);

	dm_recs_init(&l);
	encode_ok("/1", &l, "80");
	dm_recs_fini(&l);
}

static void test_encode_bad(void **state)
{
	struct dm_value raw = { .type = DM_T_STRING, .raw = DM_RAW_TEXT };
	struct dm_path b = path("/3/0/6");
	struct errbuf err;
	struct dm_recs l;
	struct buf out;

	buf_init(&out);
	dm_recs_init(&l);
	add(&l, "/3/0/6/0", dm_int(1));
	add(&l, "/3/0/6", dm_int(1));
	assert_int_equal(codec_encode(LWM_FMT_SENML_CBOR, &b, &l, &out, &err), LWM_EINTERNAL);
	assert_non_null(strstr(err.msg, "has a value and values below it"));
	assert_int_equal(out.len, 0);
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0/6", raw);
	assert_int_equal(codec_encode(LWM_FMT_SENML_CBOR, &b, &l, &out, &err), LWM_EINTERNAL);
	b = path("/4");
	assert_int_equal(codec_encode(LWM_FMT_SENML_CBOR, &b, &l, &out, &err), LWM_EINTERNAL);
	assert_non_null(strstr(err.msg, "not under"));
	dm_recs_fini(&l);
	buf_fini(&out);
}

/* ---- decoding ---------------------------------------------------------- */

static void decode_ok(const char *base, const char *hex, struct dm_recs *l)
{
	decode_hex_ok(LWM_FMT_SENML_CBOR, base, hex, l);
}

static void test_decode(void **state)
{
	struct dm_recs l;

	decode_ok("/3/0", "82 A3 21 65 '/3/0/' 00 61 '0' 03 74 'Open Mobile Alliance'"
		  " A2 00 63 '6/1' 02 05", &l);
	assert_int_equal(l.n, 2);
	check_path(&l.r[0], "/3/0/0");
	assert_int_equal(l.r[0].v.type, DM_T_STRING);
	assert_memory_equal(l.r[0].v.bytes.p, "Open Mobile Alliance", 20);
	check_path(&l.r[1], "/3/0/6/1");
	assert_int_equal(l.r[1].v.type, DM_T_INT);
	assert_int_equal(l.r[1].v.i, 5);
	dm_recs_fini(&l);

	/* every value field, bt and t, labels we skip */
	decode_ok("/1/0",
		  "89"
		  " A5 21 65 '/1/0/' 22 19 03 E8 00 61 '1' 02 F9 3E 00 06 05"
		  " A2 00 61 '2' 02 1B FF FF FF FF FF FF FF FF"
		  " A2 00 61 '3' 02 3B 7F FF FF FF FF FF FF FF"
		  " A2 00 61 '4' 04 F4"
		  " A2 00 61 '5' 08 43 00 01 02"
		  " A2 00 61 '6' 63 'vlo' 63 '3:1'"
		  " A5 00 61 '7' 03 60 20 0A 01 63 'Cel' 63 'foo' 01"
		  " A2 00 61 '8' 02 FB 3F B9 99 99 99 99 99 9A"
		  " A2 00 61 '9' 02 1A 65 53 F1 00", &l);
	assert_int_equal(l.n, 9);
	assert_int_equal(l.r[0].v.type, DM_T_FLOAT);
	assert_true(l.r[0].v.f == 1.5);
	assert_int_equal(l.r[0].time, 1005);
	assert_int_equal(l.r[1].v.type, DM_T_UINT);
	assert_int_equal(l.r[1].v.u, UINT64_MAX);
	assert_int_equal(l.r[1].time, 1000);
	assert_int_equal(l.r[2].v.type, DM_T_INT);
	assert_int_equal(l.r[2].v.i, INT64_MIN);
	assert_int_equal(l.r[3].v.type, DM_T_BOOL);
	assert_false(l.r[3].v.b);
	assert_int_equal(l.r[4].v.type, DM_T_OPAQUE);
	assert_int_equal(l.r[4].v.bytes.len, 3);
	assert_memory_equal(l.r[4].v.bytes.p, "\0\1\2", 3);
	assert_int_equal(l.r[5].v.type, DM_T_OBJLNK);
	assert_int_equal(l.r[5].v.lnk.iid, 1);
	assert_int_equal(l.r[6].v.type, DM_T_STRING);
	assert_int_equal(l.r[6].v.bytes.len, 0);
	assert_true(l.r[7].v.f == 0.1);
	assert_int_equal(l.r[8].v.i, 1700000000);
	dm_recs_fini(&l);
}

static void test_decode_indefinite(void **state)
{
	struct dm_recs l;

	/* indefinite pack, record and strings in chunks */
	decode_ok("/", "9F BF 21 7F 63 '/3/' 62 '0/' FF 00 61 '1' 08 5F 41 01 42 02 03 FF FF"
		  " BF 00 7F 61 '2' FF 03 7F FF FF FF", &l);
	assert_int_equal(l.n, 2);
	check_path(&l.r[0], "/3/0/1");
	assert_int_equal(l.r[0].v.type, DM_T_OPAQUE);
	assert_int_equal(l.r[0].v.bytes.len, 3);
	assert_memory_equal(l.r[0].v.bytes.p, "\1\2\3", 3);
	check_path(&l.r[1], "/3/0/2");
	assert_int_equal(l.r[1].v.type, DM_T_STRING);
	assert_int_equal(l.r[1].v.bytes.len, 0);
	dm_recs_fini(&l);
	/* records without values: Read-Composite */
	decode_ok("/", "83 A1 00 66 '/3/0/0' A1 00 64 '/1/0' BF 00 62 '/5' FF", &l);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.r[0].v.type, DM_T_NONE);
	check_path(&l.r[1], "/1/0");
	check_path(&l.r[2], "/5");
	dm_recs_fini(&l);
	decode_ok("/", "80", &l);
	assert_int_equal(l.n, 0);
	dm_recs_fini(&l);
	decode_ok("/", "9F FF", &l);
	assert_int_equal(l.n, 0);
	dm_recs_fini(&l);
}

static void decode_bad(const char *base, const char *hex, int code, const char *why)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };
	struct dm_recs l;
	uint8_t in[512];
	size_t len = unhex(hex, in);

	dm_recs_init(&l);
	add(&l, "/9/9/9", dm_int(9));
	if (codec_decode(LWM_FMT_SENML_CBOR, &b, in, len, &l, &err) != code)
		fail_msg("%s: not refused (%s)", hex, err.msg);
	if (!strstr(err.msg, why))
		fail_msg("%s: message \"%s\" lacks \"%s\"", hex, err.msg, why);
	assert_int_equal(l.n, 1);
	dm_recs_fini(&l);
}

#define N "00 66 '/3/0/1' "       /* n: "/3/0/1" */

static void test_decode_bad(void **state)
{
	int e = LWM_EBADREQ;

	/* CBOR and pack structure */
	decode_bad("/", "", e, "the pack is incomplete");
	decode_bad("/", "A0", e, "SenML CBOR must be an array");
	decode_bad("/", "01", e, "SenML CBOR must be an array");
	decode_bad("/", "81 01", e, "record 0: not a map");
	decode_bad("/", "81 80", e, "record 0: not a map");
	decode_bad("/", "82 A1 " N "A1 02 80", e, "record 1: nested arrays or maps");
	decode_bad("/", "81 A2 " N "02 A0", e, "nested arrays or maps");
	decode_bad("/", "81 A1 02 C1 01", e, "CBOR tag 1");
	decode_bad("/", "82 A1 " N, e, "incomplete");
	decode_bad("/", "81 A1 03 65 'ab'", e, "CBOR truncated at offset 3");
	decode_bad("/", "81 A1 02 1A 00", e, "CBOR truncated");
	decode_bad("/", "80 00", e, "data after the pack");
	decode_bad("/", "80 FF", e, "data after the pack");
	decode_bad("/", "80 80", e, "data after the pack");
	decode_bad("/", "81 A1 02 1C", e, "malformed CBOR at offset 3");
	decode_bad("/", "81 A1 02 F8 20", e, "");
	decode_bad("/", "81 FF", e, "unexpected break");
	decode_bad("/", "81 BF " N "02 FF", e, "a label without a value");
	decode_bad("/", "9F BF " N "FF", e, "incomplete");
	decode_bad("/", "81 A1 " N "7F 41 01 FF", e, "another kind of string");
	decode_bad("/", "81 A1 " N "7F 7F", e, "indefinite string inside another");
	decode_bad("/", "81 A1 " N "7F 01 FF", e, "indefinite string holds another item");
	decode_bad("/", "81 A1 " N "7F 80", e, "indefinite string holds another item");
	decode_bad("/", "9B FF FF FF FF FF FF FF FF", e, "array of");
	decode_bad("/", "81 BB 7F FF FF FF FF FF FF FF", e, "map of");
	decode_bad("/", "81 BB 00 00 00 00 FF FF FF FF", e, "incomplete");
	/* labels and values */
	decode_bad("/", "81 A2 " N "F5 01", e, "a label must be an integer or text");
	decode_bad("/", "81 A2 " N "62 'x_' 01", e, "label \"x_\" is not understood");
	decode_bad("/", "81 A3 " N "02 01 02 02", e, "label 2 given twice");
	decode_bad("/", "81 A3 " N "63 'vlo' 63 '1:1' 63 'vlo' 63 '1:1'", e, "given twice");
	decode_bad("/", "81 A3 " N "02 01 03 61 'a'", e, "record 0: 2 values");
	decode_bad("/", "81 A2 " N "02 61 '1'", e, "v must be a number");
	decode_bad("/", "81 A2 " N "02 F6", e, "v must be a number");
	decode_bad("/", "81 A2 " N "02 3B FF FF FF FF FF FF FF FF", e, "below the 64-bit");
	decode_bad("/", "81 A2 " N "04 01", e, "vb must be true or false");
	decode_bad("/", "81 A2 " N "03 41 00", e, "vs must be text");
	decode_bad("/", "81 A2 " N "08 61 'A'", e, "vd must be a byte string");
	decode_bad("/", "81 A2 " N "63 'vlo' 01", e, "vlo must be text");
	decode_bad("/", "81 A2 " N "63 'vlo' 61 '3'", e, "expected an object link");
	decode_bad("/", "81 A2 " N "63 'vlo' 7F FF", e, "expected an object link");
	decode_bad("/", "81 A2 21 01 " N, e, "bn must be text");
	decode_bad("/", "81 A1 00 01", e, "n must be text");
	decode_bad("/", "81 A2 " N "06 61 '1'", e, "a time must be a number");
	decode_bad("/", "81 A2 " N "06 FB 7F EF FF FF FF FF FF FF", e, "time out of range");
	decode_bad("/", "81 A2 " N "06 1B FF FF FF FF FF FF FF FF", e, "time out of range");
	decode_bad("/", "81 A3 22 1B 7F FF FF FF FF FF FF FF " N "06 01", e, "time out of range");
	decode_bad("/", "81 A2 " N "24 01", e, "label -5 (base value");
	decode_bad("/", "81 A2 " N "05 01", e, "label 5 (base value, base sum or sum)");
	/* names */
	decode_bad("/3", "81 A2 00 66 '/1/0/1' 02 01", e, "SenML record /1/0/1 is not under /3");
	decode_bad("/", "81 A2 00 64 '/1/0' 02 01", e, "not a resource");
	decode_bad("/", "81 A2 00 64 '/1/x' 02 01", e, "bad path");
	decode_bad("/", "81 A2 00 65 '/1/0' 00 02 01", e, "NUL");
	decode_bad("/", "81 A3 21 65 '/3/0/' 00 62 '1/' 02 01", e, "trailing slash");
}

static void test_round_trip(void **state)
{
	struct dm_path base = path("/");
	struct errbuf err = { "" };
	struct dm_recs in, back;
	struct buf out;
	size_t i;

	dm_recs_init(&in);
	dm_recs_init(&back);
	add(&in, "/3/0/0", dm_str("Open Mobile Alliance"));
	add(&in, "/3/0/7/1", dm_int(5000));
	add(&in, "/3/0/13", dm_int(-1367491215));
	add(&in, "/5/0/0", dm_opaque("\0\1\2", 3));
	add(&in, "/4/0/1", dm_float(-0.000123));
	add(&in, "/4/0/2", dm_float(3.0e38));
	add(&in, "/4/0/3", dm_float(1.0 / 0.0));
	add(&in, "/4/0/4", dm_bool(true));
	add(&in, "/4/0/5", dm_objlnk(1, 2));
	add(&in, "/4/0/6", dm_uint(UINT64_MAX));
	in.r[0].time = INT64_MIN;
	buf_init(&out);
	assert_int_equal(codec_senml_cbor_encode(&base, &in, &out, &err), 0);
	assert_int_equal(codec_senml_cbor_decode(&base, out.p, out.len, &back, &err), 0);
	assert_int_equal(back.n, in.n);
	for (i = 0; i < in.n; i++) {
		assert_memory_equal(&back.r[i].path, &in.r[i].path, sizeof(struct dm_path));
		assert_int_equal(back.r[i].v.type, in.r[i].v.type);
		assert_int_equal(back.r[i].time, in.r[i].time);
		switch (in.r[i].v.type) {
		case DM_T_STRING:
		case DM_T_OPAQUE:
			assert_int_equal(back.r[i].v.bytes.len, in.r[i].v.bytes.len);
			assert_memory_equal(back.r[i].v.bytes.p, in.r[i].v.bytes.p,
					    in.r[i].v.bytes.len);
			break;
		case DM_T_FLOAT:
			assert_true(back.r[i].v.f == in.r[i].v.f);
			break;
		case DM_T_OBJLNK:
			assert_int_equal(back.r[i].v.lnk.oid, in.r[i].v.lnk.oid);
			assert_int_equal(back.r[i].v.lnk.iid, in.r[i].v.lnk.iid);
			break;
		case DM_T_BOOL:
			assert_int_equal(back.r[i].v.b, in.r[i].v.b);
			break;
		default:
			assert_int_equal(back.r[i].v.u, in.r[i].v.u);
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
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_bad),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_indefinite),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
