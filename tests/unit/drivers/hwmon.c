/* Unit tests for drivers/hwmon.c over a fixture sysfs tree built in a
 * temporary folder (LWM2MD_SYSROOT): lookup by name, label and device path,
 * unit conversion of every channel type, and the failures. */
#include "../../../drivers/hwmon.c"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util.h"

static char root[] = "/tmp/lwm2md-hwmon-XXXXXX";

/* A chip: its device folder dev (under sys/devices) and the class link. */
static void chip(int n, const char *dev, const char *const *files)
{
	char rel[256], link[512], target[256];

	for (; *files; files += 2) {
		snprintf(rel, sizeof(rel), "sys/devices/%s/hwmon/hwmon%d/%s", dev, n, files[0]);
		put_file(root, rel, files[1]);
	}
	snprintf(link, sizeof(link), "%s/sys/class/hwmon/hwmon%d", root, n);
	snprintf(target, sizeof(target), "../../devices/%s/hwmon/hwmon%d", dev, n);
	mkdir(strcat(strcpy(rel, root), "/sys/class"), 0755);
	mkdir(strcat(strcpy(rel, root), "/sys/class/hwmon"), 0755);
	assert_int_equal(symlink(target, link), 0);
}

static int setup(void **state)
{
	char link[256];

	if (!mkdtemp(root))
		return -1;
	chip(0, "platform/coretemp.0", (const char *[]){
		"name", "coretemp\n", "temp1_input", "45000\n", "temp1_label", "Package id 0\n",
		"temp2_input", "43000\n", "temp2_label", "Core 0\n", NULL });
	chip(1, "i2c-1/1-0048", (const char *[]){ "name", "lm75\n", "temp1_input", "25500\n", NULL });
	chip(2, "i2c-1/1-0049", (const char *[]){ "name", "lm75\n", "temp1_input", "26000\n", NULL });
	chip(3, "i2c-1/1-0040", (const char *[]){
		"name", "ina219\n", "in0_input", "1234\n", "curr1_input", "500\n",
		"power1_input", "617000\n", NULL });
	chip(4, "i2c-1/1-0044", (const char *[]){
		"name", "sht3x\n", "humidity1_input", "45500\n", NULL });
	chip(5, "platform/fan.0", (const char *[]){ "name", "pwmfan\n", "fan1_input", "1200\n", NULL });
	chip(6, "platform/old.0", (const char *[]){
		"device/name", "olddrv\n", "device/temp1_input", "30000\n", NULL });
	chip(7, "platform/bad.0", (const char *[]){ "name", "badchip\n", "temp1_input", "abc\n", NULL });
	put_file(root, "sys/bus/i2c/devices/.keep", "");
	snprintf(link, sizeof(link), "%s/sys/bus/i2c/devices/1-0049", root);
	assert_int_equal(symlink("../../../devices/i2c-1/1-0049", link), 0);
	setenv("LWM2MD_SYSROOT", root, 1);
	return 0;
}

static int teardown(void **state)
{
	rm_tree(root);
	unsetenv("LWM2MD_SYSROOT");
	return 0;
}

/* Opens a section of pairs and reads it once; returns the rc of open or read. */
static int read_one(const char *const *pairs, double *v, struct errbuf *err)
{
	struct section sec;
	struct drv_channel *ch;
	int rc;

	section_init(&sec, pairs);
	ch = drv_open(&drv_hwmon, &sec.s, 0, &rc, err);
	if (!ch)
		return rc;
	rc = drv_hwmon.read(ch, v, err);
	drv_close(ch);
	return rc;
}

static void expect(const char *const *pairs, double want)
{
	struct errbuf err = { "" };
	double v = -1;
	int rc = read_one(pairs, &v, &err);

	if (rc)
		fail_msg("%s: %s", pairs[0], err.msg);
	if (fabs(v - want) > 1e-9)
		fail_msg("%s %s: %g, want %g", pairs[0], pairs[1], v, want);
}

static void test_units(void **state)
{
	expect((const char *[]){ "device=coretemp", "channel=temp1", NULL }, 45.0);
	expect((const char *[]){ "device=ina219", "channel=in0", NULL }, 1.234);
	expect((const char *[]){ "device=ina219", "channel=curr1_input", NULL }, 0.5);
	expect((const char *[]){ "device=ina219", "channel=power1", NULL }, 0.617);
	expect((const char *[]){ "device=sht3x", "channel=humidity1", NULL }, 45.5);
	expect((const char *[]){ "device=pwmfan", "channel=fan1", NULL }, 1200);
	/* attributes under device/, as older drivers have them */
	expect((const char *[]){ "device=olddrv", "channel=temp1", NULL }, 30.0);
}

static void test_label_and_path(void **state)
{
	expect((const char *[]){ "device=coretemp", "channel=temp", "label=Core 0", NULL }, 43.0);
	expect((const char *[]){ "device=coretemp", "channel=temp", "label=Package id 0", NULL },
	       45.0);
	expect((const char *[]){ "device=/sys/bus/i2c/devices/1-0049", "channel=temp1", NULL },
	       26.0);
	expect((const char *[]){ "device=/sys/devices/i2c-1/1-0048", "channel=temp1", NULL }, 25.5);
}

static void expect_fail(const char *const *pairs, int want, const char *msg)
{
	struct errbuf err = { "" };
	double v;
	int rc = read_one(pairs, &v, &err);

	assert_int_equal(rc, want);
	if (!strstr(err.msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, msg);
}

static void test_failures(void **state)
{
	expect_fail((const char *[]){ "device=lm75", "channel=temp1", NULL }, -ENOTUNIQ,
		    "2 hwmon devices are named lm75 (hwmon1, hwmon2, ...): give the chip's sysfs "
		    "path as device instead");
	expect_fail((const char *[]){ "device=nochip", "channel=temp1", NULL }, -ENODEV,
		    "no hwmon device named nochip under ");
	expect_fail((const char *[]){ "device=coretemp", "channel=temp9", NULL }, -ENODEV,
		    "hwmon0/temp9_input: no such channel");
	expect_fail((const char *[]){ "device=coretemp", "channel=temp", "label=GPU", NULL },
		    -ENODEV, "no temp channel labelled \"GPU\"");
	expect_fail((const char *[]){ "device=badchip", "channel=temp1", NULL }, -EIO,
		    "temp1_input: not a number");
	expect_fail((const char *[]){ "device=/sys/bus/i2c/devices/9-0048", "channel=temp1", NULL },
		    -ENODEV, "No such file or directory");
}

static void test_unbound_while_open(void **state)
{
	struct errbuf err = { "" };
	struct section sec;
	struct drv_channel *ch;
	char p[256];
	double v;

	section_init(&sec, (const char *[]){ "device=sht3x", "channel=humidity1", NULL });
	ch = drv_open(&drv_hwmon, &sec.s, 0, NULL, &err);
	assert_non_null(ch);
	snprintf(p, sizeof(p), "%s/sys/devices/i2c-1/1-0044/hwmon/hwmon4/humidity1_input", root);
	put_file(root, "sys/devices/i2c-1/1-0044/hwmon/hwmon4/humidity1_input", "50000\n");
	assert_int_equal(drv_hwmon.read(ch, &v, &err), 0);
	assert_true(v == 50.0);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(drv_hwmon.read(ch, &v, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "humidity1_input: No such device"));
	drv_close(ch);
}

static void check_ok(const char *const *pairs, enum drv_qty qty)
{
	struct drv_info info = { 0 };
	struct errbuf err = { "" };
	struct section sec;
	const char *bad = NULL;

	section_init(&sec, pairs);
	if (drv_hwmon.check(&sec.s, &info, &bad, &err))
		fail_msg("%s: %s", pairs[1], err.msg);
	assert_int_equal(info.qty, qty);
	assert_int_equal(info.axes, 1);
}

static void check_bad(const char *const *pairs, const char *key, const char *msg)
{
	struct drv_info info = { 0 };
	struct errbuf err = { "" };
	struct section sec;
	const char *bad = "unset";

	section_init(&sec, pairs);
	assert_int_equal(drv_hwmon.check(&sec.s, &info, &bad, &err), -EINVAL);
	if (key)
		assert_string_equal(bad, key);
	else
		assert_null(bad);
	if (!strstr(err.msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, msg);
}

static void test_check(void **state)
{
	check_ok((const char *[]){ "device=x", "channel=temp1", NULL }, DRV_Q_TEMP);
	check_ok((const char *[]){ "device=x", "channel=in3", NULL }, DRV_Q_VOLTAGE);
	check_ok((const char *[]){ "device=x", "channel=curr1", NULL }, DRV_Q_CURRENT);
	check_ok((const char *[]){ "device=x", "channel=power2_input", NULL }, DRV_Q_POWER);
	check_ok((const char *[]){ "device=x", "channel=humidity1", NULL }, DRV_Q_HUMIDITY);
	check_ok((const char *[]){ "device=x", "channel=fan1", NULL }, DRV_Q_RPM);
	check_ok((const char *[]){ "device=x", "channel=temp", "label=CPU", NULL }, DRV_Q_TEMP);
	check_bad((const char *[]){ "channel=temp1", NULL }, NULL, "device is missing");
	check_bad((const char *[]){ "device=x", NULL }, NULL, "channel is missing");
	check_bad((const char *[]){ "device=x", "channel=volt1", NULL }, "channel", "expected temp1");
	check_bad((const char *[]){ "device=x", "channel=temp1_max", NULL }, "channel",
		  "expected temp1");
	check_bad((const char *[]){ "device=x", "channel=temp", NULL }, "channel",
		  "a channel number (temp1) or a label = is needed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_label_and_path),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_unbound_while_open),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests_name("drivers/hwmon", tests, setup, teardown);
}
