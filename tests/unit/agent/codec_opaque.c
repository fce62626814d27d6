/* Unit tests for agent/codec_opaque.c: one Opaque value, byte for byte, and
 * everything else refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

static void test_encode(void **state)
{
	struct dm_path p = dm_path_make(3, 5, 0, 0), other = dm_path_make(2, 5, 0);
	struct dm_value v = dm_opaque("\0\xff\x10", 3), s = dm_str("abc");
	struct errbuf err = { "" };
	struct dm_recs l;
	struct buf out;

	dm_recs_init(&l);
	buf_init(&out);
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	assert_int_equal(codec_encode(LWM_FMT_OPAQUE, &p, &l, &out, &err), 0);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.p, "\0\xff\x10", 3);
	buf_reset(&out);
	assert_int_equal(codec_encode(LWM_FMT_OPAQUE, &other, &l, &out, &err), LWM_ENOTACCEPT);
	assert_non_null(strstr(err.msg, "/5/0 is not one"));
	assert_int_equal(dm_recs_add(&l, &p, &v), 0);
	assert_int_equal(codec_encode(LWM_FMT_OPAQUE, &p, &l, &out, &err), LWM_ENOTACCEPT);
	dm_recs_fini(&l);
	dm_recs_init(&l);
	assert_int_equal(dm_recs_add(&l, &p, &s), 0);
	assert_int_equal(codec_encode(LWM_FMT_OPAQUE, &p, &l, &out, &err), LWM_ENOTACCEPT);
	assert_string_equal(err.msg, "/5/0/0 is string, not opaque");
	assert_int_equal(out.len, 0);
	dm_recs_fini(&l);
	buf_fini(&out);
}

static void test_decode(void **state)
{
	struct dm_path p = dm_path_make(4, 5, 0, 0, 2), obj = dm_path_make(1, 5);
	struct errbuf err = { "" };
	struct dm_recs l;

	dm_recs_init(&l);
	assert_int_equal(codec_decode(LWM_FMT_OPAQUE, &p, (const uint8_t *)"\0\1", 2, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.r[0].v.type, DM_T_OPAQUE);
	assert_int_equal(l.r[0].v.raw, DM_RAW_NONE);
	assert_int_equal(l.r[0].path.len, 4);
	assert_memory_equal(l.r[0].v.bytes.p, "\0\1", 2);
	assert_int_equal(codec_decode(LWM_FMT_OPAQUE, &obj, (const uint8_t *)"x", 1, &l, &err),
			 LWM_EBADREQ);
	assert_string_equal(err.msg, "opaque needs a resource path");
	assert_int_equal(l.n, 1);
	dm_recs_fini(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
