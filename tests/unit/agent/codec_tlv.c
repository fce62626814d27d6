/* Unit tests for agent/codec_tlv.c: the TS Core examples byte for byte (the
 * Device object instance of section 7.4.3 and the Access Control instances),
 * every depth of base path, integer and float widths, round trips through
 * dm_value_coerce(), and the malformed payloads the decoder must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec_helpers.h"

/* The Device object instance of TS Core 7.4.3.2 (with its "Lightweight"
 * spelled right, and Supported Binding at resource 16). */
static const uint8_t device_tlv[] = {
	0xC8, 0x00, 0x14, 'O', 'p', 'e', 'n', ' ', 'M', 'o', 'b', 'i', 'l', 'e', ' ',
	'A', 'l', 'l', 'i', 'a', 'n', 'c', 'e',
	0xC8, 0x01, 0x16, 'L', 'i', 'g', 'h', 't', 'w', 'e', 'i', 'g', 'h', 't', ' ',
	'M', '2', 'M', ' ', 'C', 'l', 'i', 'e', 'n', 't',
	0xC8, 0x02, 0x09, '3', '4', '5', '0', '0', '0', '1', '2', '3',
	0xC3, 0x03, '1', '.', '0',
	0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05,
	0x88, 0x07, 0x08, 0x42, 0x00, 0x0E, 0xD8, 0x42, 0x01, 0x13, 0x88,
	0x87, 0x08, 0x41, 0x00, 0x7D, 0x42, 0x01, 0x03, 0x84,
	0xC1, 0x09, 0x64,
	0xC1, 0x0A, 0x0F,
	0x83, 0x0B, 0x41, 0x00, 0x00,
	0xC4, 0x0D, 0x51, 0x82, 0x42, 0x8F,
	0xC6, 0x0E, '+', '0', '2', ':', '0', '0',
	0xC1, 0x10, 'U',
};

static void encode_ok(const char *base, const struct dm_recs *l, const void *want, size_t len)
{
	encode_bytes_ok(LWM_FMT_TLV, base, l, want, len);
}

static void test_encode_device(void **state)
{
	struct dm_recs l, one;
	uint8_t wrapped[3 + sizeof(device_tlv)] = { 0x08, 0x00, 0x79 };

	device_recs(&l);
	assert_int_equal(sizeof(device_tlv), 121);
	encode_ok("/3/0", &l, device_tlv, sizeof(device_tlv));
	/* reading the object wraps the same in an Object Instance TLV */
	memcpy(wrapped + 3, device_tlv, sizeof(device_tlv));
	encode_ok("/3", &l, wrapped, sizeof(wrapped));

	/* single resources and a multiple resource, as read one by one */
	dm_recs_init(&one);
	add(&one, "/3/0/0", dm_str("Open Mobile Alliance"));
	encode_ok("/3/0/0", &one, device_tlv, 23);
	dm_recs_fini(&one);
	dm_recs_init(&one);
	add(&one, "/3/0/6/0", dm_int(1));
	add(&one, "/3/0/6/1", dm_int(5));
	encode_ok("/3/0/6", &one, "\x86\x06\x41\x00\x01\x41\x01\x05", 8);
	dm_recs_fini(&one);
	dm_recs_init(&one);
	add(&one, "/3/0/7/1", dm_int(5000));
	encode_ok("/3/0/7/1", &one, "\x42\x01\x13\x88", 4);
	dm_recs_fini(&one);
	dm_recs_fini(&l);
}

/* TS Core 7.4.3.2, multiple object instances: Access Control /2. */
static const uint8_t acl_tlv[] = {
	0x08, 0x00, 0x0E,
	0xC1, 0x00, 0x01, 0xC1, 0x01, 0x00, 0x83, 0x02, 0x41, 0x7F, 0x07, 0xC1, 0x03, 0x7F,
	0x08, 0x02, 0x12,
	0xC1, 0x00, 0x03, 0xC1, 0x01, 0x00, 0x87, 0x02, 0x41, 0x7F, 0x07, 0x61, 0x01, 0x36,
	0x01, 0xC1, 0x03, 0x7F,
};

static void test_encode_acl(void **state)
{
	struct dm_recs l;

	dm_recs_init(&l);
	add(&l, "/2/0/0", dm_int(1));
	add(&l, "/2/0/1", dm_int(0));
	add(&l, "/2/0/2/127", dm_int(7));
	add(&l, "/2/0/3", dm_int(127));
	add(&l, "/2/2/0", dm_int(3));
	add(&l, "/2/2/1", dm_int(0));
	add(&l, "/2/2/2/127", dm_int(7));
	add(&l, "/2/2/2/310", dm_int(1));
	add(&l, "/2/2/3", dm_int(127));
	encode_ok("/2", &l, acl_tlv, sizeof(acl_tlv));
	dm_recs_fini(&l);
}

static void test_encode_widths(void **state)
{
	struct dm_recs l;
	struct buf out;
	uint8_t *big;

	dm_recs_init(&l);
	add(&l, "/1/0/0", dm_int(127));
	add(&l, "/1/0/1", dm_int(128));
	add(&l, "/1/0/2", dm_int(-129));
	add(&l, "/1/0/3", dm_int(32768));
	add(&l, "/1/0/4", dm_int(-2147483649ll));
	add(&l, "/1/0/5", dm_uint(127));
	add(&l, "/1/0/6", dm_uint(255));
	add(&l, "/1/0/7", dm_uint(2147483648u));
	add(&l, "/1/0/8", dm_uint(UINT64_MAX));
	add(&l, "/1/0/9", dm_float(1.5));
	add(&l, "/1/0/10", dm_float(0.1));
	add(&l, "/1/0/11", dm_bool(true));
	add(&l, "/1/0/12", dm_objlnk(3, 1));
	add(&l, "/1/0/13", dm_opaque("\x00\xff", 2));
	add(&l, "/1/0/300", dm_str(""));
	encode_ok("/1/0", &l,
		  "\xC1\x00\x7F"
		  "\xC2\x01\x00\x80"
		  "\xC2\x02\xFF\x7F"
		  "\xC4\x03\x00\x00\x80\x00"
		  "\xC8\x04\x08\xFF\xFF\xFF\xFF\x7F\xFF\xFF\xFF"
		  "\xC1\x05\x7F"
		  "\xC2\x06\x00\xFF"
		  "\xC8\x07\x08\x00\x00\x00\x00\x80\x00\x00\x00"
		  "\xC8\x08\x08\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF"
		  "\xC4\x09\x3F\xC0\x00\x00"
		  "\xC8\x0A\x08\x3F\xB9\x99\x99\x99\x99\x99\x9A"
		  "\xC1\x0B\x01"
		  "\xC4\x0C\x00\x03\x00\x01"
		  "\xC2\x0D\x00\xFF"
		  "\xE0\x01\x2C", 3 + 4 + 4 + 6 + 11 + 3 + 4 + 11 + 11 + 6 + 11 + 3 + 6 + 4 + 3);
	dm_recs_fini(&l);

	/* 16-bit id with a float that fits 4 bytes, as for IPSO Sensor Value */
	dm_recs_init(&l);
	add(&l, "/3303/0/5700", dm_float(31.0));
	encode_ok("/3303/0/5700", &l, "\xE4\x16\x44\x41\xF8\x00\x00", 7);
	dm_recs_fini(&l);

	/* 16- and 24-bit length fields */
	big = calloc(1, 70000);
	assert_non_null(big);
	dm_recs_init(&l);
	add(&l, "/5/0/0", dm_opaque(big, 300));
	add(&l, "/5/0/1", dm_opaque(big, 70000));
	buf_init(&out);
	assert_int_equal(codec_tlv_encode((struct dm_path[]){ path("/5/0") }, &l, &out, NULL), 0);
	assert_int_equal(out.len, 4 + 300 + 5 + 70000);
	assert_memory_equal(out.p, "\xD0\x00\x01\x2C", 4);
	assert_memory_equal(out.p + 304, "\xD8\x01\x01\x11\x70", 5);
	buf_fini(&out);
	dm_recs_fini(&l);
	free(big);
}

static void test_encode_empty_markers(void **state)
{
	struct dm_value none = { .type = DM_T_NONE };
	struct dm_recs l;

	/* a multiple resource without instances, an instance without resources */
	dm_recs_init(&l);
	add(&l, "/3/0/6", none);
	encode_ok("/3/0/6", &l, "\x80\x06", 2);
	encode_ok("/3/0", &l, "\x80\x06", 2);
	add(&l, "/3/0/9", dm_int(1));
	encode_ok("/3", &l, "\x05\x00\x80\x06\xC1\x09\x01", 7);
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/9/4", none);
	encode_ok("/9", &l, "\x00\x04", 2);
	dm_recs_fini(&l);
	/* nothing to say is an empty payload */
	dm_recs_init(&l);
	encode_ok("/9", &l, "", 0);
	dm_recs_fini(&l);
}

static void encode_bad(const char *base, const struct dm_recs *l, int code, const char *why)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };
	struct buf out;

	buf_init(&out);
	buf_adds(&out, "keep");
	assert_int_equal(codec_encode(LWM_FMT_TLV, &b, l, &out, &err), code);
	if (!strstr(err.msg, why))
		fail_msg("encode at %s: message \"%s\" lacks \"%s\"", base, err.msg, why);
	assert_string_equal(buf_str(&out), "keep");
	buf_fini(&out);
}

static void test_encode_bad(void **state)
{
	struct dm_value none = { .type = DM_T_NONE };
	struct dm_value raw = { .type = DM_T_OPAQUE, .raw = DM_RAW_TLV };
	struct dm_recs l;

	device_recs(&l);
	encode_bad("/", &l, LWM_ENOTACCEPT, "root");
	encode_bad("/4", &l, LWM_EINTERNAL, "is not under /4");
	encode_bad("/3/0/6/0", &l, LWM_EINTERNAL, "is not under");
	dm_recs_fini(&l);

	dm_recs_init(&l);
	add(&l, "/3/0/1", raw);
	encode_bad("/3/0/1", &l, LWM_EINTERNAL, "untyped");
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0", dm_int(1));
	encode_bad("/3", &l, LWM_EINTERNAL, "above any resource");
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0/6/1", none);
	encode_bad("/3/0/6", &l, LWM_EINTERNAL, "no place in TLV");
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0/6", dm_int(1));
	add(&l, "/3/0/6/1", dm_int(1));
	encode_bad("/3/0", &l, LWM_EINTERNAL, "given twice");
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0/6/1", dm_int(1));
	add(&l, "/3/0/6", dm_int(1));
	encode_bad("/3/0", &l, LWM_EINTERNAL, "in a multiple resource");
	dm_recs_fini(&l);
	dm_recs_init(&l);
	add(&l, "/3/0/6/1", dm_int(1));
	add(&l, "/3/0/6/1", dm_int(2));
	encode_bad("/3/0/6/1", &l, LWM_EINTERNAL, "2 values");
	dm_recs_fini(&l);
}

/* ---- decoding ---------------------------------------------------------- */

static void decode_ok(const char *base, const void *p, size_t len, struct dm_recs *l)
{
	decode_bytes_ok(LWM_FMT_TLV, base, p, len, "", l);
}

static void check_rec(const struct dm_rec *r, const char *p, enum dm_type type,
		      struct dm_value want)
{
	char s[DM_PATH_STR_MAX];
	struct errbuf err = { "" };
	struct dm_value v;

	dm_path_str(&r->path, s, sizeof(s));
	if (strcmp(s, p))
		fail_msg("record at %s, want %s", s, p);
	assert_int_equal(r->v.raw, DM_RAW_TLV);
	assert_int_equal(r->v.type, DM_T_OPAQUE);
	if (dm_value_coerce(&r->v, type, &v, &err))
		fail_msg("%s: %s", p, err.msg);
	switch (type) {
	case DM_T_INT:
	case DM_T_TIME:
		assert_int_equal(v.i, want.i);
		break;
	case DM_T_STRING:
		assert_int_equal(v.bytes.len, want.bytes.len);
		assert_memory_equal(v.bytes.p, want.bytes.p, v.bytes.len);
		break;
	default:
		fail_msg("type not checked here");
	}
}

static void check_device(const struct dm_recs *l, size_t i)
{
	assert_int_equal(l->n, i + 16);
	check_rec(&l->r[i + 0], "/3/0/0", DM_T_STRING, dm_str("Open Mobile Alliance"));
	check_rec(&l->r[i + 1], "/3/0/1", DM_T_STRING, dm_str("Lightweight M2M Client"));
	check_rec(&l->r[i + 2], "/3/0/2", DM_T_STRING, dm_str("345000123"));
	check_rec(&l->r[i + 3], "/3/0/3", DM_T_STRING, dm_str("1.0"));
	check_rec(&l->r[i + 4], "/3/0/6/0", DM_T_INT, dm_int(1));
	check_rec(&l->r[i + 5], "/3/0/6/1", DM_T_INT, dm_int(5));
	check_rec(&l->r[i + 6], "/3/0/7/0", DM_T_INT, dm_int(3800));
	check_rec(&l->r[i + 7], "/3/0/7/1", DM_T_INT, dm_int(5000));
	check_rec(&l->r[i + 8], "/3/0/8/0", DM_T_INT, dm_int(125));
	check_rec(&l->r[i + 9], "/3/0/8/1", DM_T_INT, dm_int(900));
	check_rec(&l->r[i + 10], "/3/0/9", DM_T_INT, dm_int(100));
	check_rec(&l->r[i + 11], "/3/0/10", DM_T_INT, dm_int(15));
	check_rec(&l->r[i + 12], "/3/0/11/0", DM_T_INT, dm_int(0));
	check_rec(&l->r[i + 13], "/3/0/13", DM_T_TIME, dm_time(1367491215));
	check_rec(&l->r[i + 14], "/3/0/14", DM_T_STRING, dm_str("+02:00"));
	check_rec(&l->r[i + 15], "/3/0/16", DM_T_STRING, dm_str("U"));
}

static void test_decode_device(void **state)
{
	uint8_t wrapped[3 + sizeof(device_tlv)] = { 0x08, 0x00, 0x79 };
	struct dm_recs l;

	decode_ok("/3/0", device_tlv, sizeof(device_tlv), &l);
	check_device(&l, 0);
	dm_recs_fini(&l);
	/* the same in its Object Instance TLV, sent to the object or the instance */
	memcpy(wrapped + 3, device_tlv, sizeof(device_tlv));
	decode_ok("/3", wrapped, sizeof(wrapped), &l);
	check_device(&l, 0);
	dm_recs_fini(&l);
	decode_ok("/3/0", wrapped, sizeof(wrapped), &l);
	check_device(&l, 0);
	dm_recs_fini(&l);
}

static void test_decode_depths(void **state)
{
	struct dm_value none = { .type = DM_T_NONE };
	struct dm_recs l;

	/* a single resource, a resource instance */
	decode_ok("/3/0/0", device_tlv, 23, &l);
	assert_int_equal(l.n, 1);
	check_rec(&l.r[0], "/3/0/0", DM_T_STRING, dm_str("Open Mobile Alliance"));
	dm_recs_fini(&l);
	decode_ok("/3/0/7/1", "\x42\x01\x13\x88", 4, &l);
	assert_int_equal(l.n, 1);
	check_rec(&l.r[0], "/3/0/7/1", DM_T_INT, dm_int(5000));
	dm_recs_fini(&l);
	/* a multiple resource: wrapped, or as bare resource instances */
	decode_ok("/3/0/6", "\x86\x06\x41\x00\x01\x41\x01\x05", 8, &l);
	assert_int_equal(l.n, 2);
	check_rec(&l.r[0], "/3/0/6/0", DM_T_INT, dm_int(1));
	check_rec(&l.r[1], "/3/0/6/1", DM_T_INT, dm_int(5));
	dm_recs_fini(&l);
	decode_ok("/3/0/6", "\x41\x00\x01\x41\x01\x05", 6, &l);
	assert_int_equal(l.n, 2);
	check_rec(&l.r[1], "/3/0/6/1", DM_T_INT, dm_int(5));
	dm_recs_fini(&l);
	/* an empty multiple resource is one value-less record at its path */
	decode_ok("/3/0/6", "\x80\x06", 2, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.r[0].path.len, 3);
	assert_int_equal(l.r[0].path.id[2], 6);
	assert_int_equal(l.r[0].v.type, none.type);
	assert_int_equal(l.r[0].v.raw, DM_RAW_NONE);
	dm_recs_fini(&l);
	/* object instances sent to an object (Create, Bootstrap Write) */
	decode_ok("/2", acl_tlv, sizeof(acl_tlv), &l);
	assert_int_equal(l.n, 9);
	check_rec(&l.r[2], "/2/0/2/127", DM_T_INT, dm_int(7));
	check_rec(&l.r[7], "/2/2/2/310", DM_T_INT, dm_int(1));
	check_rec(&l.r[8], "/2/2/3", DM_T_INT, dm_int(127));
	dm_recs_fini(&l);
	decode_ok("/1", "\x03\x0A\xC1\x01\x14\x03\x0B\xC1\x01\x15\x03\x0C\xC1\x01\x16", 15, &l);
	assert_int_equal(l.n, 3);
	check_rec(&l.r[0], "/1/10/1", DM_T_INT, dm_int(20));
	check_rec(&l.r[2], "/1/12/1", DM_T_INT, dm_int(22));
	dm_recs_fini(&l);
	/* resources sent to an object: Create without an instance id */
	decode_ok("/1", "\xC1\x01\x14\xC1\x02\x15", 6, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.r[0].path.len, 3);
	assert_int_equal(l.r[0].path.id[1], DM_NONE);
	assert_int_equal(l.r[1].path.id[2], 2);
	dm_recs_fini(&l);
	/* empty payloads above resource level, and an empty instance */
	decode_ok("/1", "", 0, &l);
	assert_int_equal(l.n, 0);
	dm_recs_fini(&l);
	decode_ok("/1/0", "", 0, &l);
	assert_int_equal(l.n, 0);
	dm_recs_fini(&l);
	decode_ok("/1", "\x00\x05", 2, &l);
	assert_int_equal(l.n, 0);
	dm_recs_fini(&l);
	/* wide ids and lengths */
	decode_ok("/3303/0", "\xE4\x16\x44\x41\xF8\x00\x00\xF0\x16\x45\x00\x01X", 13, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.r[0].path.id[2], 5700);
	assert_int_equal(l.r[1].path.id[2], 5701);
	assert_int_equal(l.r[1].v.bytes.len, 1);
	dm_recs_fini(&l);
}

static void decode_bad(const char *base, const void *p, size_t len, const char *why)
{
	struct dm_path b = path(base);
	struct errbuf err = { "" };
	struct dm_recs l;

	dm_recs_init(&l);
	add(&l, "/9/9/9", dm_int(9));   /* what was there stays */
	assert_int_equal(codec_decode(LWM_FMT_TLV, &b, p, len, &l, &err), LWM_EBADREQ);
	if (!strstr(err.msg, why))
		fail_msg("decode at %s: message \"%s\" lacks \"%s\"", base, err.msg, why);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.r[0].v.i, 9);
	dm_recs_fini(&l);
}

static void test_decode_bad(void **state)
{
	/* structure */
	decode_bad("/3/0", "\xC8", 1, "offset 0: header truncated");
	decode_bad("/3/0", "\xC8\x00", 2, "header truncated");
	decode_bad("/3/0", "\xE8\x00", 2, "header truncated");
	decode_bad("/3/0", "\xF8\x00\x01\x00", 4, "header truncated");
	decode_bad("/3/0", "\xC3\x00" "ab", 4, "Resource 0 of 3 bytes runs past the end");
	decode_bad("/3/0", "\xD0\x00\x01\x00", 4, "of 256 bytes runs past the end");
	decode_bad("/3/0", "\xD8\x00\x01\x00\x00", 5, "of 65536 bytes runs past the end");
	decode_bad("/3/0", "\xC1\x00\x01\xC1", 4, "offset 3: header truncated");
	decode_bad("/3/0", "\xC1\x00\x01\x00", 4, "offset 3: header truncated");
	decode_bad("/3/0", "\x86\x06\x41\x00\x01\x41\x01", 7, "runs past the end");
	decode_bad("/3/0", "\x84\x06\x41\x00\x01\x41", 6, "offset 5: header truncated");
	decode_bad("/3/0", "\xE1\xFF\xFF\x01", 4, "id 65535 is reserved");
	/* what may sit where */
	decode_bad("/3", "\x08\x00\x03\x00\x01\x00", 6,
		   "Object Instance 1 inside an Object Instance");
	decode_bad("/3", "\x08\x00\x03\x41\x00\x01", 6, "Resource Instance 0 where a resource");
	decode_bad("/3/0", "\x41\x00\x01", 3, "Resource Instance 0 where a resource belongs");
	decode_bad("/3/0", "\x83\x06\xC1\x00\x01", 5, "Resource 0 inside a Multiple Resource");
	decode_bad("/3/0", "\x82\x06\x00\x00", 4, "Object Instance 0 inside a Multiple");
	decode_bad("/3", "\x00\x00\xC1\x01\x14", 5, "beside Object Instance TLVs");
	decode_bad("/3", "\xC1\x01\x14\x00\x00", 5, "beside Object Instance TLVs");
	decode_bad("/3/0", "\x00\x01", 2, "in a payload for another instance");
	decode_bad("/3/0", "\x00\x00\xC1\x01\x14", 5, "beside other TLVs");
	decode_bad("/3/0", "\xC1\x01\x14\x00\x00", 5, "beside other TLVs");
	decode_bad("/3/0/1", "\x03\x00\xC1\x01\x14", 5, "in a payload for a resource");
	decode_bad("/3/0/1", "\xC1\x02\x14", 3, "Resource 2 in a payload for another resource");
	decode_bad("/3/0/1", "\xC1\x01\x14\xC1\x01\x15", 6, "beside other TLVs");
	decode_bad("/3/0/6", "\x41\x00\x01\xC1\x06\x01", 6, "beside other TLVs");
	decode_bad("/3/0/6", "\xC1\x06\x01\x41\x00\x01", 6, "beside other TLVs");
	decode_bad("/3/0/6/1", "\xC1\x06\x01", 3, "in a payload for a resource instance");
	decode_bad("/3/0/6/1", "\x41\x02\x01", 3, "Resource Instance 2 in a payload for another");
	decode_bad("/3/0/6/1", "\x41\x01\x01\x41\x01\x01", 6, "beside other TLVs");
	decode_bad("/", "\xC1\x00\x01", 3, "TLV needs an object path");
	decode_bad("/3/0/1", "", 0, "empty TLV payload for /3/0/1");
	decode_bad("/3/0/6/1", "", 0, "empty TLV payload");
	/* the same thing twice */
	decode_bad("/3/0", "\xC1\x00\x01\xC1\x00\x02", 6, "holds /3/0/0 twice");
	decode_bad("/3/0", "\x86\x06\x41\x00\x01\x41\x00\x05", 8, "holds /3/0/6/0 twice");
	decode_bad("/3/0", "\x80\x06\xC1\x06\x01", 5, "holds /3/0/6 twice");
	decode_bad("/3", "\x00\x00\x00\x00", 4, "holds /3/0 twice");
	decode_bad("/3/0/6", "\x41\x00\x01\x41\x00\x01", 6, "holds /3/0/6/0 twice");
}

/* Typed records -> TLV -> raw records -> coerced back: the same values. */
static void test_round_trip(void **state)
{
	struct dm_path base = path("/1/0");
	struct dm_recs in, back;
	struct errbuf err;
	struct dm_value v;
	struct buf out;
	size_t i;

	dm_recs_init(&in);
	add(&in, "/1/0/0", dm_int(INT64_MIN));
	add(&in, "/1/0/1", dm_int(-1));
	add(&in, "/1/0/2", dm_uint(UINT64_MAX));
	add(&in, "/1/0/3", dm_uint(40000));
	add(&in, "/1/0/4", dm_float(-0.1));
	add(&in, "/1/0/5", dm_float(1e300));
	add(&in, "/1/0/6", dm_float(-2.0));
	add(&in, "/1/0/7", dm_bool(false));
	add(&in, "/1/0/8", dm_objlnk(65535, 65535));
	add(&in, "/1/0/9", dm_time(-5));
	add(&in, "/1/0/10/0", dm_str("a"));
	add(&in, "/1/0/10/65534", dm_str("b"));
	add(&in, "/1/0/65534", dm_opaque("\0", 1));
	buf_init(&out);
	assert_int_equal(codec_tlv_encode(&base, &in, &out, &err), 0);
	decode_ok("/1/0", out.p, out.len, &back);
	assert_int_equal(back.n, in.n);
	for (i = 0; i < in.n; i++) {
		assert_int_equal(back.r[i].path.len, in.r[i].path.len);
		assert_memory_equal(back.r[i].path.id, in.r[i].path.id,
				    in.r[i].path.len * sizeof(uint16_t));
		if (dm_value_coerce(&back.r[i].v, in.r[i].v.type, &v, &err))
			fail_msg("record %zu: %s", i, err.msg);
		switch (v.type) {
		case DM_T_FLOAT:
			assert_true(v.f == in.r[i].v.f);
			break;
		case DM_T_BOOL:
			assert_int_equal(v.b, in.r[i].v.b);
			break;
		case DM_T_OBJLNK:
			assert_int_equal(v.lnk.oid, in.r[i].v.lnk.oid);
			assert_int_equal(v.lnk.iid, in.r[i].v.lnk.iid);
			break;
		case DM_T_STRING:
		case DM_T_OPAQUE:
			assert_int_equal(v.bytes.len, in.r[i].v.bytes.len);
			assert_memory_equal(v.bytes.p, in.r[i].v.bytes.p, v.bytes.len);
			break;
		default:
			assert_int_equal(v.u, in.r[i].v.u);
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
		cmocka_unit_test(test_encode_acl),
		cmocka_unit_test(test_encode_widths),
		cmocka_unit_test(test_encode_empty_markers),
		cmocka_unit_test(test_encode_bad),
		cmocka_unit_test(test_decode_device),
		cmocka_unit_test(test_decode_depths),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
