/* Unit tests for drivers/drv.c: the driver table, number parsing and the
 * sysfs text helpers. */
#include "../../../drivers/drv.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util.h"

static void test_find(void **state)
{
	assert_ptr_equal(drv_find("sim"), &drv_sim);
	assert_ptr_equal(drv_find("hwmon"), &drv_hwmon);
	assert_ptr_equal(drv_find("thermal"), &drv_thermal);
	assert_ptr_equal(drv_find("iio"), &drv_iio);
	assert_ptr_equal(drv_find("gpio"), &drv_gpio);
	assert_null(drv_find("usb"));
	assert_null(drv_find(""));
}

static void test_units(void **state)
{
	assert_string_equal(drv_qty_unit(DRV_Q_TEMP), "Cel");
	assert_string_equal(drv_qty_unit(DRV_Q_HUMIDITY), "%RH");
	assert_string_equal(drv_qty_unit(DRV_Q_PRESSURE), "hPa");
	assert_string_equal(drv_qty_unit(DRV_Q_ACCEL), "m/s2");
	assert_null(drv_qty_unit(DRV_Q_ANY));
	assert_null(drv_qty_unit(DRV_Q_DIGITAL));
	assert_string_equal(drv_qty_name(DRV_Q_VOLTAGE), "voltage");
}

static void test_parse_number(void **state)
{
	double v = 0;

	assert_int_equal(drv_parse_number("25000", &v), 0);
	assert_true(v == 25000);
	assert_int_equal(drv_parse_number(" -12.5\n", &v), 0);
	assert_true(v == -12.5);
	assert_int_equal(drv_parse_number("0.031250", &v), 0);
	assert_true(v == 0.03125);
	assert_int_equal(drv_parse_number("", &v), -EIO);
	assert_int_equal(drv_parse_number("  ", &v), -EIO);
	assert_int_equal(drv_parse_number("12abc", &v), -EIO);
	assert_int_equal(drv_parse_number("nan", &v), -EIO);
	assert_int_equal(drv_parse_number("inf", &v), -EIO);
	assert_int_equal(drv_parse_number("1e999", &v), -EIO);
	assert_int_equal(drv_parse_number("12 13", &v), -EIO);
}

static void test_read_text(void **state)
{
	char dir[] = "/tmp/lwm2md-drv-XXXXXX", p[64], buf[16];
	int fd;

	assert_non_null(mkdtemp(dir));
	put_file(dir, "a", "hello  \n");
	snprintf(p, sizeof(p), "%s/a", dir);
	assert_int_equal(drv_read_text(p, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "hello");
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	put_file(dir, "a", "again\n");          /* same file, new text: re-read */
	assert_int_equal(drv_pread_text(fd, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "again");
	unlink(p);                              /* gone, as an unbound chip's */
	assert_int_equal(drv_pread_text(fd, buf, sizeof(buf)), -ENODEV);
	close(fd);
	assert_int_equal(drv_read_text(p, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(drv_path(buf, sizeof(buf), "%s", "0123456789abcdef"), -ENAMETOOLONG);
	assert_int_equal(drv_path(buf, sizeof(buf), "%s", "short"), 0);
	rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_parse_number),
		cmocka_unit_test(test_read_text),
	};

	return cmocka_run_group_tests_name("drivers/drv", tests, NULL, NULL);
}
