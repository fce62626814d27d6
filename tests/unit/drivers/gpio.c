/* Unit tests for drivers/gpio.c: what can be checked without a GPIO chip
 * (the keys, the request flags, event time stamps, a missing chip).  Lines
 * of gpio-sim are requested, driven and watched in the VM tests. */
#include "../../../drivers/gpio.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util.h"

static int check(const char *const *pairs, struct drv_info *info, const char **bad,
		 struct errbuf *err)
{
	struct section sec;

	section_init(&sec, pairs);
	memset(info, 0, sizeof(*info));
	*bad = "unset";
	return drv_gpio.check(&sec.s, info, bad, err);
}

static void test_check(void **state)
{
	struct drv_info info;
	struct errbuf err = { "" };
	const char *bad;

	assert_int_equal(check((const char *[]){ "chip=gpiochip0", "line=17", NULL }, &info, &bad,
			       &err), 0);
	assert_int_equal(info.qty, DRV_Q_DIGITAL);
	assert_string_equal(info.exclusive, "GPIO line 17 of chip gpiochip0");
	assert_int_equal(check((const char *[]){ "line=GPIO17", NULL }, &info, &bad, &err), 0);
	assert_string_equal(info.exclusive, "GPIO line GPIO17");
	assert_int_equal(check((const char *[]){ "line=17", NULL }, &info, &bad, &err), -EINVAL);
	assert_string_equal(bad, "line");
	assert_string_equal(err.msg, "a line offset needs chip = (its label or name)");
	assert_int_equal(check((const char *[]){ "chip=gpiochip0", NULL }, &info, &bad, &err),
			 -EINVAL);
	assert_null(bad);
	assert_int_equal(check((const char *[]){ "line=BTN", "bias=up", NULL }, &info, &bad, &err),
			 -EINVAL);
	assert_string_equal(bad, "bias");
	assert_int_equal(check((const char *[]){ "line=BTN", "active_low=sometimes", NULL }, &info,
			       &bad, &err), -EINVAL);
	assert_string_equal(bad, "active_low");
}

static void test_flags(void **state)
{
	struct errbuf err = { "" };
	struct section sec;
	const char *bad = NULL;
	int flags;

	section_init(&sec, (const char *[]){ "line=BTN", "active_low=yes", "bias=pull-up", NULL });
	assert_int_equal(flags_of(&sec.s, &flags, &bad, &err), 0);
	assert_int_equal(flags, GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW |
				GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP);
	section_init(&sec, (const char *[]){ "line=BTN", "bias=pull-down", NULL });
	assert_int_equal(flags_of(&sec.s, &flags, &bad, &err), 0);
	assert_int_equal(flags, GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN);
	section_init(&sec, (const char *[]){ "line=BTN", "bias=as-is", "active_low=off", NULL });
	assert_int_equal(flags_of(&sec.s, &flags, &bad, &err), 0);
	assert_int_equal(flags, 0);
}

static void test_event_time(void **state)
{
	struct timespec ts = { .tv_sec = 100, .tv_nsec = 250000000 };

	/* a monotonic stamp of a moment ago is kept */
	assert_int_equal(event_time(&ts, 100300), 100250);
	/* a realtime stamp (kernels before 5.7) or one in the future is not */
	assert_int_equal(event_time(&ts, 900000), 900000);
	assert_int_equal(event_time(&ts, 100000), 100000);
}

static void test_missing_chip(void **state)
{
	struct errbuf err = { "" };
	struct section sec;
	int rc;

	section_init(&sec, (const char *[]){ "chip=no-such-chip-label", "line=3", NULL });
	assert_null(drv_open(&drv_gpio, &sec.s, 0, &rc, &err));
	assert_int_equal(rc, -ENODEV);
	assert_string_equal(err.msg, "GPIO chip no-such-chip-label: not found");
	assert_int_equal(drv_probe(&drv_gpio, &sec.s, &err), -ENODEV);
	section_init(&sec, (const char *[]){ "line=NO_SUCH_LINE_NAME", NULL });
	assert_null(drv_open(&drv_gpio, &sec.s, 0, &rc, &err));
	assert_int_equal(rc, -ENODEV);
	assert_string_equal(err.msg, "no GPIO line named NO_SUCH_LINE_NAME on any chip");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_event_time),
		cmocka_unit_test(test_missing_chip),
	};

	return cmocka_run_group_tests_name("drivers/gpio", tests, NULL, NULL);
}
