/* Unit tests for agent/err.c: the errno mapping and errbuf_set(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"

static void test_from_errno(void **state)
{
	assert_int_equal(lwm_err_from_errno(-EINVAL), LWM_EBADREQ);
	assert_int_equal(lwm_err_from_errno(-ERANGE), LWM_EBADREQ);
	assert_int_equal(lwm_err_from_errno(-ENOENT), LWM_ENOTFOUND);
	assert_int_equal(lwm_err_from_errno(-EPERM), LWM_ENOTALLOWED);
	assert_int_equal(lwm_err_from_errno(-EACCES), LWM_ENOTALLOWED);
	assert_int_equal(lwm_err_from_errno(-EIO), LWM_EUNAVAIL);
	assert_int_equal(lwm_err_from_errno(-ENODEV), LWM_EUNAVAIL);
	assert_int_equal(lwm_err_from_errno(-ETIMEDOUT), LWM_EUNAVAIL);
	assert_int_equal(lwm_err_from_errno(-EAGAIN), LWM_EUNAVAIL);
	assert_int_equal(lwm_err_from_errno(-ENXIO), LWM_EUNAVAIL);
	assert_int_equal(lwm_err_from_errno(-ENOMEM), LWM_EINTERNAL);
	assert_int_equal(lwm_err_from_errno(-EBADF), LWM_EINTERNAL);
	assert_int_equal(lwm_err_from_errno(0), LWM_EINTERNAL);
	/* the codes are negated CoAP codes: 4.00 is 0x80 */
	assert_int_equal(LWM_EBADREQ, -(4 << 5));
	assert_int_equal(LWM_EUNAVAIL, -((5 << 5) | 3));
}

static void test_errbuf(void **state)
{
	struct errbuf err;
	char big[400];

	assert_int_equal(errbuf_set(&err, LWM_EBADREQ, "x=%d %s", 5, "y"), LWM_EBADREQ);
	assert_string_equal(err.msg, "x=5 y");
	assert_int_equal(errbuf_set(NULL, LWM_EINTERNAL, "nobody reads %s", "this"),
			 LWM_EINTERNAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	errbuf_set(&err, 0, "%s", big);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_errno),
		cmocka_unit_test(test_errbuf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
