/* Unit tests for agent/cfg_sensor.c: every key of a good file with its
 * defaults and instance numbering, each bad_*.ini fixture in cfg_sensor/
 * (whose first line "; expect: ..." is the message it must produce), all
 * errors of a file reported, and the hardware warnings of --check-config. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg_helpers.h"

#include "cfg.h"
#include "drv.h"

static const struct cfg_sensor *find(const struct cfg *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nsensors; i++)
		if (!strcmp(c->sensors[i].name, name))
			return &c->sensors[i];
	fail_msg("no [sensor.%s]", name);
	return NULL;
}

static void test_good(void **state)
{
	struct cfg *c = cfg_load("agent/cfg_sensor/good.ini", stderr);
	const struct cfg_sensor *s;

	assert_non_null(c);
	assert_int_equal(c->nsensors, 7);

	s = find(c, "room");
	assert_int_equal(s->oid, 3303);
	assert_int_equal(s->iid, 1);            /* 0 is taken by [sensor.cpu] */
	assert_ptr_equal(s->drv, &drv_sim);
	assert_int_equal(s->period_ms, 10000);  /* the defaults */
	assert_int_equal(s->max_age_ms, 10000);
	assert_true(s->scale == 1 && s->offset == 0);
	assert_false(s->has_min_range || s->has_max_range || s->present_device || s->output);
	assert_null(s->application_type);
	assert_int_equal(s->axes, 1);
	assert_string_equal(cfg_sensor_get(s, "waveform"), "sine");
	assert_null(cfg_sensor_get(s, "colour"));

	s = find(c, "cpu");
	assert_int_equal(s->iid, 0);
	assert_ptr_equal(s->drv, &drv_thermal);
	assert_int_equal(s->period_ms, 2500);
	assert_int_equal(s->max_age_ms, 0);
	assert_string_equal(s->application_type, "CPU");
	assert_string_equal(s->units, "degC");
	assert_true(s->scale == 1.8 && s->offset == 32);
	assert_true(s->has_min_range && s->min_range == -40);
	assert_true(s->has_max_range && s->max_range == 125);

	s = find(c, "outside");
	assert_int_equal(s->oid, 3303);
	assert_int_equal(s->iid, 2);

	s = find(c, "bme280-p");
	assert_int_equal(s->oid, 3315);
	assert_int_equal(s->iid, 0);
	assert_true(s->present_device);

	s = find(c, "acc");
	assert_int_equal(s->axes, 3);
	assert_ptr_equal(s->drv, &drv_iio);

	s = find(c, "button");
	assert_int_equal(s->debounce_ms, 20);
	assert_int_equal(s->edge, 3);
	assert_false(s->output);

	s = find(c, "relay");
	assert_true(s->output);
	assert_true(s->initial);
	cfg_free(c);
}

static void test_bad_files(void **state)
{
	check_bad_fixtures("agent/cfg_sensor", 30);
}

static const char many[] =
	"[server]\n"
	"uri = coap://127.0.0.1\n"
	"[sensor.a]\n"                  /* 3 */
	"object = 3303\n"
	"driver = sim\n"
	"period = 0\n"                  /* 6 */
	"scale = x\n"                   /* 7 */
	"[sensor.b]\n"
	"object = 1\n"                  /* 9 */
	"driver = nope\n"               /* 10 */
	"[sensor.c]\n"
	"object = 3303\n"
	"driver = hwmon\n"
	"device = lm75\n"
	"channel = curr1\n";            /* 15 */

static void test_all_errors_reported(void **state)
{
	const char *path = "/tmp/lwm2md-cfg-sensor-many.ini";
	FILE *f = fopen(path, "w"), *err;
	char *out = NULL;
	size_t len = 0;

	assert_non_null(f);
	fputs(many, f);
	fclose(f);
	err = open_memstream(&out, &len);
	assert_null(cfg_load(path, err));
	fclose(err);
	assert_non_null(strstr(out, ":6: [sensor.a] period = \"0\": out of range"));
	assert_non_null(strstr(out, ":7: [sensor.a] scale = \"x\": expected a number"));
	assert_non_null(strstr(out, ":9: [sensor.b] object = \"1\": unknown object"));
	assert_non_null(strstr(out, ":10: [sensor.b] driver = \"nope\": unknown driver"));
	assert_non_null(strstr(out, ":15: [sensor.c] channel = \"curr1\": a current channel; "
				    "3303 (Temperature) needs temperature"));
	free(out);
	remove(path);
}

static void test_probe_warns(void **state)
{
	char root[] = "/tmp/lwm2md-cfg-sensor-XXXXXX", *out = NULL;
	struct cfg *c;
	size_t len = 0;
	FILE *err;

	assert_non_null(mkdtemp(root));
	setenv("LWM2MD_SYSROOT", root, 1);      /* no hwmon, no thermal zones */
	c = cfg_load("agent/cfg_sensor/good.ini", stderr);
	assert_non_null(c);
	err = open_memstream(&out, &len);
	assert_true(cfg_sensors_probe(c, err) >= 2);
	fclose(err);
	assert_non_null(strstr(out, "good.ini:11: [sensor.cpu]: warning: no thermal zone of type "
				    "cpu-thermal"));
	assert_non_null(strstr(out, "answers 5.03 until the device appears"));
	assert_non_null(strstr(out, "[sensor.outside]: warning: no hwmon device named lm75"));
	/* sim needs nothing */
	assert_null(strstr(out, "[sensor.room]"));
	free(out);
	cfg_free(c);
	unsetenv("LWM2MD_SYSROOT");
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_probe_warns),
	};

	return cmocka_run_group_tests_name("cfg_sensor", tests, NULL, NULL);
}
