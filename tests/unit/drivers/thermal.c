/* Unit tests for drivers/thermal.c over a fixture tree (LWM2MD_SYSROOT). */
#include "../../../drivers/thermal.c"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util.h"

static char root[] = "/tmp/lwm2md-thermal-XXXXXX";

static int setup(void **state)
{
	if (!mkdtemp(root))
		return -1;
	put_file(root, "sys/class/thermal/thermal_zone0/type", "acpitz\n");
	put_file(root, "sys/class/thermal/thermal_zone0/temp", "27800\n");
	put_file(root, "sys/class/thermal/thermal_zone1/type", "cpu-thermal\n");
	put_file(root, "sys/class/thermal/thermal_zone1/temp", "51540\n");
	put_file(root, "sys/class/thermal/cooling_device0/type", "Processor\n");
	setenv("LWM2MD_SYSROOT", root, 1);
	return 0;
}

static int teardown(void **state)
{
	rm_tree(root);
	unsetenv("LWM2MD_SYSROOT");
	return 0;
}

static int read_zone(const char *zone, double *v, struct errbuf *err)
{
	struct section sec;
	struct drv_channel *ch;
	char kv[64];
	int rc;

	snprintf(kv, sizeof(kv), "zone=%s", zone);
	section_init(&sec, (const char *[]){ kv, NULL });
	ch = drv_open(&drv_thermal, &sec.s, 0, &rc, err);
	if (!ch)
		return rc;
	rc = drv_thermal.read(ch, v, err);
	drv_close(ch);
	return rc;
}

static void test_by_type_and_name(void **state)
{
	struct errbuf err = { "" };
	double v = 0;

	assert_int_equal(read_zone("cpu-thermal", &v, &err), 0);
	assert_true(fabs(v - 51.54) < 1e-9);
	assert_int_equal(read_zone("thermal_zone0", &v, &err), 0);
	assert_true(fabs(v - 27.8) < 1e-9);
	assert_int_equal(read_zone("gpu-thermal", &v, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "no thermal zone of type gpu-thermal under "));
	/* a cooling device is not a zone */
	assert_int_equal(read_zone("Processor", &v, &err), -ENODEV);
}

static void test_check(void **state)
{
	struct drv_info info = { 0 };
	struct errbuf err = { "" };
	struct section sec;
	const char *bad = NULL;

	section_init(&sec, (const char *[]){ "zone=cpu-thermal", NULL });
	assert_int_equal(drv_thermal.check(&sec.s, &info, &bad, &err), 0);
	assert_int_equal(info.qty, DRV_Q_TEMP);
	section_init(&sec, NULL);
	assert_int_equal(drv_thermal.check(&sec.s, &info, &bad, &err), -EINVAL);
	assert_null(bad);
	assert_non_null(strstr(err.msg, "zone is missing"));
	section_init(&sec, (const char *[]){ "zone=/sys/class/thermal/thermal_zone0", NULL });
	assert_int_equal(drv_thermal.check(&sec.s, &info, &bad, &err), -EINVAL);
	assert_string_equal(bad, "zone");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_type_and_name),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests_name("drivers/thermal", tests, setup, teardown);
}
