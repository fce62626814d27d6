/* Unit tests for drivers/iio.c: channel ids, the IIO ABI arithmetic and the
 * unit conversions.  Real IIO devices (tmp006, bmp280, iio_dummy) are read in
 * the VM tests (tests/hwsim); libiio cannot be pointed at a fixture tree. */
#include "../../../drivers/iio.c"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util.h"

static void spec(const char *id, enum drv_qty qty, double factor, int axes, const char *norm)
{
	struct chan_spec c;

	if (parse_channel(id, &c))
		fail_msg("%s: refused", id);
	assert_int_equal(c.qty, qty);
	assert_true(c.factor == factor);
	assert_int_equal(c.axes, axes);
	assert_string_equal(c.id, norm);
}

static void test_channel_ids(void **state)
{
	struct chan_spec c;

	spec("temp", DRV_Q_TEMP, 1e-3, 1, "temp");
	spec("in_temp", DRV_Q_TEMP, 1e-3, 1, "temp");
	spec("humidityrelative", DRV_Q_HUMIDITY, 1e-3, 1, "humidityrelative");
	spec("pressure", DRV_Q_PRESSURE, 10, 1, "pressure");
	spec("voltage0", DRV_Q_VOLTAGE, 1e-3, 1, "voltage0");
	spec("in_voltage0-voltage1", DRV_Q_VOLTAGE, 1e-3, 1, "voltage0-voltage1");
	spec("current1", DRV_Q_CURRENT, 1e-3, 1, "current1");
	spec("power", DRV_Q_POWER, 1e-3, 1, "power");
	spec("illuminance0", DRV_Q_ILLUMINANCE, 1, 1, "illuminance0");
	spec("concentration_co2", DRV_Q_CONCENTRATION, 1e4, 1, "concentration_co2");
	spec("distance", DRV_Q_DISTANCE, 1, 1, "distance");
	spec("accel", DRV_Q_ACCEL, 1, 3, "accel");
	spec("in_accel_x", DRV_Q_ACCEL, 1, 1, "accel_x");
	spec("anglvel", DRV_Q_GYRO, 1, 3, "anglvel");
	spec("magn", DRV_Q_MAGN, 1, 3, "magn");
	spec("proximity0", DRV_Q_OTHER, 1, 1, "proximity0");
	assert_int_equal(parse_channel("", &c), -EINVAL);
	assert_int_equal(parse_channel("in_", &c), -EINVAL);
	assert_int_equal(parse_channel("0temp", &c), -EINVAL);
	assert_int_equal(parse_channel("Temp", &c), -EINVAL);
	assert_int_equal(parse_channel("temp raw", &c), -EINVAL);
	assert_int_equal(parse_channel("temp/../x", &c), -EINVAL);
}

/* Readings as the IIO ABI defines them, converted to IPSO units. */
static void test_abi_value(void **state)
{
	struct chan_spec c;

	/* tmp006: in_temp_raw 800, in_temp_scale 31.25 (millidegrees) */
	parse_channel("temp", &c);
	assert_true(fabs(abi_value(800, 0, 31.25, c.factor) - 25.0) < 1e-9);
	/* a raw value with an offset: (raw + offset) * scale */
	assert_true(fabs(abi_value(1000, -273, 100, c.factor) - 72.7) < 1e-9);
	/* bmp280: in_pressure_input 100.125 kPa -> hPa */
	parse_channel("pressure", &c);
	assert_true(fabs(abi_value(100.125, 0, 1, c.factor) - 1001.25) < 1e-9);
	/* humidity in milli-percent */
	parse_channel("humidityrelative", &c);
	assert_true(fabs(abi_value(45123, 0, 1, c.factor) - 45.123) < 1e-9);
	/* iio_dummy voltage0: raw 73, scale 0.000344 (mV) */
	parse_channel("voltage0", &c);
	assert_true(fabs(abi_value(73, 0, 0.000344, c.factor) - 73 * 0.000344e-3) < 1e-15);
	/* CO2 in percent -> ppm */
	parse_channel("concentration_co2", &c);
	assert_true(fabs(abi_value(0.04, 0, 1, c.factor) - 400) < 1e-9);
	/* accelerometers are already in m/s^2 */
	parse_channel("accel_z", &c);
	assert_true(fabs(abi_value(-512, 0, 0.019163, c.factor) - -512 * 0.019163) < 1e-9);
}

static void test_check(void **state)
{
	struct drv_info info = { 0 };
	struct errbuf err = { "" };
	struct section sec;
	const char *bad = "unset";

	section_init(&sec, (const char *[]){ "device=bme280", "channel=pressure", NULL });
	assert_int_equal(drv_iio.check(&sec.s, &info, &bad, &err), 0);
	assert_int_equal(info.qty, DRV_Q_PRESSURE);
	assert_int_equal(info.axes, 1);
	section_init(&sec, (const char *[]){ "device=adxl345", "channel=accel", NULL });
	assert_int_equal(drv_iio.check(&sec.s, &info, &bad, &err), 0);
	assert_int_equal(info.axes, 3);
	section_init(&sec, (const char *[]){ "channel=temp", NULL });
	assert_int_equal(drv_iio.check(&sec.s, &info, &bad, &err), -EINVAL);
	assert_null(bad);
	assert_non_null(strstr(err.msg, "device is missing"));
	section_init(&sec, (const char *[]){ "device=x", "channel=in temp", NULL });
	assert_int_equal(drv_iio.check(&sec.s, &info, &bad, &err), -EINVAL);
	assert_string_equal(bad, "channel");
}

static void test_axes(void **state)
{
	int map[DRV_MAX_AXES];
	double sign[DRV_MAX_AXES];
	struct drv_info info = { 0 };
	struct errbuf err = { "" };
	struct section sec;
	const char *bad = NULL;

	assert_int_equal(parse_axes("x y z", map, sign), 0);
	assert_int_equal(map[0], 0);
	assert_int_equal(map[2], 2);
	assert_true(sign[0] == 1 && sign[1] == 1 && sign[2] == 1);
	assert_int_equal(parse_axes(" y, -x  z ", map, sign), 0);
	assert_int_equal(map[0], 1);
	assert_int_equal(map[1], 0);
	assert_true(sign[0] == 1 && sign[1] == -1 && sign[2] == 1);
	assert_int_equal(parse_axes("-z -y -x", map, sign), 0);
	assert_int_equal(map[0], 2);
	assert_true(sign[2] == -1);
	/* each axis once, three of them, nothing else */
	assert_int_equal(parse_axes("x x z", map, sign), -EINVAL);
	assert_int_equal(parse_axes("x y", map, sign), -EINVAL);
	assert_int_equal(parse_axes("x y z x", map, sign), -EINVAL);
	assert_int_equal(parse_axes("x y w", map, sign), -EINVAL);
	assert_int_equal(parse_axes("xy z", map, sign), -EINVAL);
	assert_int_equal(parse_axes("+x y z", map, sign), -EINVAL);
	assert_int_equal(parse_axes("", map, sign), -EINVAL);

	section_init(&sec, (const char *[]){ "device=mma7660", "channel=accel", "axes=y -x z", NULL });
	assert_int_equal(drv_iio.check(&sec.s, &info, &bad, &err), 0);
	assert_int_equal(info.axes, 3);
	section_init(&sec, (const char *[]){ "device=mma7660", "channel=accel", "axes=y x", NULL });
	assert_int_equal(drv_iio.check(&sec.s, &info, &bad, &err), -EINVAL);
	assert_string_equal(bad, "axes");
	assert_non_null(strstr(err.msg, "each once"));
	section_init(&sec, (const char *[]){ "device=bme280", "channel=temp", "axes=x y z", NULL });
	assert_int_equal(drv_iio.check(&sec.s, &info, &bad, &err), -EINVAL);
	assert_string_equal(bad, "axes");
	assert_non_null(strstr(err.msg, "three-axis"));
}

static void test_missing_device(void **state)
{
	struct errbuf err = { "" };
	struct section sec;
	int rc;

	section_init(&sec, (const char *[]){ "device=no-such-iio-device", "channel=temp", NULL });
	assert_null(drv_open(&drv_iio, &sec.s, 0, &rc, &err));
	assert_true(rc < 0);
	assert_true(err.msg[0] != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channel_ids),
		cmocka_unit_test(test_abi_value),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_axes),
		cmocka_unit_test(test_missing_device),
	};

	return cmocka_run_group_tests_name("drivers/iio", tests, NULL, NULL);
}
