/* Unit tests for objects/device.c: the Device object over fake system trees
 * (objects/fixtures/{dmi,dt}, selected with LWM2MD_SYSROOT) and read through
 * the real data model. */
#include "../../../objects/device.c"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

/* agent_after_response() lives in main.c with the CoAP layer; here it only
 * records what would run after the response. */
static void (*after_fn)(struct agent *ag, void *arg);
static int after_calls;

int agent_after_response(struct agent *ag, void (*fn)(struct agent *ag, void *arg), void *arg)
{
	after_fn = fn;
	after_calls++;
	return 0;
}

struct fixture {
	struct agent ag;
	struct cfg cfg;
	struct dm *dm;
	struct dm_obj *obj;
	struct dm_recs recs;
	char state[64];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static struct fixture *fixture_new(const char *sysroot)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if (sysroot)
		setenv("LWM2MD_SYSROOT", sysroot, 1);
	else
		unsetenv("LWM2MD_SYSROOT");
	strcpy(f->state, "/tmp/lwm2md-device-XXXXXX");
	assert_non_null(mkdtemp(f->state));
	f->cfg.state_dir = f->state;
	f->ag.cfg = &f->cfg;
	f->dm = dm_new();
	assert_non_null(f->dm);
	f->obj = device_obj_new(&f->ag);
	assert_non_null(f->obj);
	assert_int_equal(dm_register(f->dm, f->obj), 0);
	dm_recs_init(&f->recs);
	after_calls = 0;
	after_fn = NULL;
	return f;
}

/* A second Device object on the same state folder, as after a restart. */
static void restart(struct fixture *f)
{
	dm_free(f->dm);
	device_obj_free(f->obj);
	f->dm = dm_new();
	f->obj = device_obj_new(&f->ag);
	assert_non_null(f->obj);
	assert_int_equal(dm_register(f->dm, f->obj), 0);
}

static void fixture_free(struct fixture *f)
{
	dm_recs_fini(&f->recs);
	dm_free(f->dm);
	device_obj_free(f->obj);
	nftw(f->state, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	unsetenv("LWM2MD_SYSROOT");
	free(f);
}

/* Reads /3/0/rid; on success the records are in f->recs. */
static int rd(struct fixture *f, uint16_t rid)
{
	struct dm_path p = { .id = { 3, 0, rid }, .len = 3 };

	dm_recs_fini(&f->recs);
	dm_recs_init(&f->recs);
	return dm_read(f->dm, &p, false, &f->recs);
}

static void assert_str(struct fixture *f, uint16_t rid, const char *want)
{
	int rc = rd(f, rid);

	if (rc)
		fail_msg("/3/0/%u: read failed: %d", rid, rc);
	assert_int_equal(f->recs.n, 1);
	assert_int_equal(f->recs.r[0].v.type, DM_T_STRING);
	assert_int_equal(f->recs.r[0].v.bytes.len, strlen(want));
	assert_memory_equal(f->recs.r[0].v.bytes.p, want, strlen(want));
}

static void assert_int(struct fixture *f, uint16_t rid, int64_t want)
{
	assert_int_equal(rd(f, rid), 0);
	assert_int_equal(f->recs.n, 1);
	assert_int_equal(f->recs.r[0].v.type, DM_T_INT);
	assert_int_equal(f->recs.r[0].v.i, want);
}

static int wr_str(struct fixture *f, uint16_t rid, const char *s)
{
	struct dm_value v = dm_str(s);

	return f->obj->ops->write(f->obj, f->obj->insts, rid, DM_NONE, &v);
}

static int exec(struct fixture *f, uint16_t rid)
{
	return f->obj->ops->execute(f->obj, f->obj->insts, rid, "", 0);
}

/* ---- system facts ----------------------------------------------------- */

static void test_dmi_system(void **state)
{
	struct fixture *f = fixture_new("objects/fixtures/dmi");

	assert_str(f, OMA_3_MANUFACTURER, "ACME Corp");
	assert_str(f, OMA_3_MODEL_NUMBER, "Gateway 3000");
	/* product_serial is a placeholder: the machine id stands in */
	assert_str(f, OMA_3_SERIAL_NUMBER, "4f1a2b3c4d5e6f708192a3b4c5d6e7f8");
	assert_str(f, OMA_3_FIRMWARE_VERSION,
		   "Debian GNU/Linux 12 (bookworm), Linux 6.1.0-test-amd64");
	assert_str(f, OMA_3_HARDWARE_VERSION, "rev B");
	assert_str(f, OMA_3_SOFTWARE_VERSION, LWM_VERSION);
	assert_str(f, OMA_3_DEVICE_TYPE, "gateway");
	assert_str(f, OMA_3_SUPPORTED_BINDING_AND_MODES, "UQ");
	assert_int(f, OMA_3_MEMORY_FREE, 1234567);
	assert_int(f, OMA_3_MEMORY_TOTAL, 2017428);
	/* the /etc/localtime link wins over /etc/timezone */
	assert_str(f, OMA_3_TIMEZONE, "Europe/Paris");

	assert_int_equal(rd(f, OMA_3_AVAILABLE_POWER_SOURCES), 0);
	assert_int_equal(f->recs.n, 1);
	assert_int_equal(f->recs.r[0].path.id[3], 0);
	assert_int_equal(f->recs.r[0].v.i, 0);

	assert_int_equal(rd(f, OMA_3_BATTERY_LEVEL), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_3_POWER_SOURCE_VOLTAGE), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_3_POWER_SOURCE_CURRENT), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_3_BATTERY_STATUS), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_3_EXT_DEV_INFO), LWM_ENOTFOUND);
	fixture_free(f);
}

static void test_device_tree_system(void **state)
{
	struct fixture *f = fixture_new("objects/fixtures/dt");

	assert_str(f, OMA_3_MANUFACTURER, "raspberrypi");
	assert_str(f, OMA_3_MODEL_NUMBER, "Raspberry Pi 4 Model B Rev 1.4");
	assert_str(f, OMA_3_SERIAL_NUMBER, "10000000abcdef01");
	assert_str(f, OMA_3_FIRMWARE_VERSION, "Buildroot 2023.02, Linux 5.10.92-v8+");
	assert_int_equal(rd(f, OMA_3_HARDWARE_VERSION), LWM_ENOTFOUND);
	/* no MemAvailable before Linux 3.14 */
	assert_int(f, OMA_3_MEMORY_FREE, 2000000);
	assert_int(f, OMA_3_MEMORY_TOTAL, 3884096);
	assert_str(f, OMA_3_TIMEZONE, "UTC");
	fixture_free(f);
}

static void test_nothing_readable(void **state)
{
	struct fixture *f = fixture_new("objects/fixtures/no-such-tree");
	struct dm_path inst = { .id = { 3, 0 }, .len = 2 };

	assert_str(f, OMA_3_MANUFACTURER, "unknown");
	assert_int_equal(rd(f, OMA_3_MODEL_NUMBER), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_3_SERIAL_NUMBER), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_3_FIRMWARE_VERSION), LWM_ENOTFOUND);
	assert_int_equal(rd(f, OMA_3_MEMORY_FREE), LWM_EUNAVAIL);
	/* the instance is still readable: what is missing is left out */
	dm_recs_fini(&f->recs);
	dm_recs_init(&f->recs);
	assert_int_equal(dm_read(f->dm, &inst, false, &f->recs), 0);
	assert_true(f->recs.n >= 8);
	fixture_free(f);
}

static void test_config_overrides(void **state)
{
	struct fixture *f = fixture_new("objects/fixtures/dmi");

	f->cfg.device = (struct cfg_device){
		.manufacturer = "Maker", .model = "M1", .serial = "S1", .firmware_version = "F1",
		.hardware_version = "H1", .device_type = "router", .timezone = "Asia/Tokyo",
		.utc_offset = "+09:00",
	};
	assert_str(f, OMA_3_MANUFACTURER, "Maker");
	assert_str(f, OMA_3_MODEL_NUMBER, "M1");
	assert_str(f, OMA_3_SERIAL_NUMBER, "S1");
	assert_str(f, OMA_3_FIRMWARE_VERSION, "F1");
	assert_str(f, OMA_3_HARDWARE_VERSION, "H1");
	assert_str(f, OMA_3_DEVICE_TYPE, "router");
	assert_str(f, OMA_3_TIMEZONE, "Asia/Tokyo");
	assert_str(f, OMA_3_UTC_OFFSET, "+09:00");
	/* what the server writes wins over the config */
	assert_int_equal(wr_str(f, OMA_3_TIMEZONE, "Europe/Rome"), 0);
	assert_str(f, OMA_3_TIMEZONE, "Europe/Rome");
	f->cfg.device = (struct cfg_device){ 0 };
	fixture_free(f);
}

static void test_utc_offset_from_tz(void **state)
{
	struct fixture *f = fixture_new("objects/fixtures/dmi");
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	setenv("TZ", "CET-1", 1);       /* POSIX form: UTC+1, no daylight saving */
	tzset();
	assert_str(f, OMA_3_UTC_OFFSET, "+01:00");
	setenv("TZ", "<-0530>5:30", 1);
	tzset();
	assert_str(f, OMA_3_UTC_OFFSET, "-05:30");
	setenv("TZ", "UTC0", 1);
	tzset();
	assert_str(f, OMA_3_UTC_OFFSET, "+00:00");
	if (old)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
	fixture_free(f);
}

/* ---- writes and the state file ---------------------------------------- */

static void test_writes_persist(void **state)
{
	struct fixture *f = fixture_new("objects/fixtures/dmi");
	struct dm_value t = dm_time(now_s() + 3600);
	struct errbuf err;
	struct buf b;

	assert_int_equal(f->obj->ops->write(f->obj, f->obj->insts, OMA_3_CURRENT_TIME, DM_NONE,
					    &t), 0);
	assert_int_equal(wr_str(f, OMA_3_UTC_OFFSET, "+02:00"), 0);
	assert_int_equal(wr_str(f, OMA_3_TIMEZONE, "Europe/Athens"), 0);
	f->obj->ops->changed(f->obj, f->obj->insts);

	buf_init(&b);
	assert_int_equal(store_read(f->state, "device.json", &b, &err), 0);
	assert_non_null(strstr(buf_str(&b), "\"timezone\": \"Europe/Athens\""));
	assert_non_null(strstr(buf_str(&b), "\"utc_offset\": \"+02:00\""));
	buf_fini(&b);

	restart(f);
	assert_str(f, OMA_3_UTC_OFFSET, "+02:00");
	assert_str(f, OMA_3_TIMEZONE, "Europe/Athens");
	assert_int_equal(rd(f, OMA_3_CURRENT_TIME), 0);
	assert_int_equal(f->recs.r[0].v.type, DM_T_TIME);
	assert_true(llabs(f->recs.r[0].v.i - (now_s() + 3600)) <= 2);

	/* clear goes back to the system's values */
	assert_int_equal(f->obj->ops->clear(f->obj, f->obj->insts, OMA_3_TIMEZONE), 0);
	assert_str(f, OMA_3_TIMEZONE, "Europe/Paris");
	fixture_free(f);
}

static void test_bad_writes(void **state)
{
	struct fixture *f = fixture_new("objects/fixtures/dmi");
	static const char *const bad_off[] = { "", "1", "+1", "+25:00", "+01:60", "+01:00x",
					       "UTC+", "abc", "+0100:" };
	static const char *const bad_tz[] = { "", "/etc/passwd", "../x", "Europe/Paris;rm",
					      "a b" };
	struct dm_value t = dm_time(-5);
	struct dm_value nul = { .type = DM_T_STRING, .bytes = { (const uint8_t *)"+01\0:00", 7 } };
	size_t i;

	for (i = 0; i < sizeof(bad_off) / sizeof(bad_off[0]); i++)
		assert_int_equal(wr_str(f, OMA_3_UTC_OFFSET, bad_off[i]), LWM_EBADREQ);
	for (i = 0; i < sizeof(bad_tz) / sizeof(bad_tz[0]); i++)
		assert_int_equal(wr_str(f, OMA_3_TIMEZONE, bad_tz[i]), LWM_EBADREQ);
	assert_int_equal(f->obj->ops->write(f->obj, f->obj->insts, OMA_3_UTC_OFFSET, DM_NONE,
					    &nul), LWM_EBADREQ);
	assert_int_equal(f->obj->ops->write(f->obj, f->obj->insts, OMA_3_CURRENT_TIME, DM_NONE,
					    &t), LWM_EBADREQ);
	assert_int_equal(wr_str(f, OMA_3_MANUFACTURER, "x"), LWM_ENOTALLOWED);
	assert_str(f, OMA_3_TIMEZONE, "Europe/Paris");
	fixture_free(f);
}

static void corrupt_state(const char *text, const char *want_tz)
{
	struct fixture *f = fixture_new("objects/fixtures/dmi");
	struct errbuf err;

	assert_int_equal(store_write(f->state, "device.json", text, strlen(text), &err), 0);
	restart(f);
	assert_str(f, OMA_3_TIMEZONE, want_tz);
	fixture_free(f);
}

static void test_corrupt_state(void **state)
{
	corrupt_state("{\"timezone\": \"Asia/Kolkata\"}", "Asia/Kolkata");     /* sanity */
	corrupt_state("{\"timezone\": \"Asia/Kol", "Europe/Paris");
	corrupt_state("[1, 2]", "Europe/Paris");
	corrupt_state("", "Europe/Paris");
	corrupt_state("{\"timezone\": 5}", "Europe/Paris");
	corrupt_state("{\"timezone\": \"../../x\"}", "Europe/Paris");
	corrupt_state("{\"time_offset\": \"soon\", \"timezone\": \"Asia/Kolkata\"}",
		      "Europe/Paris");
	corrupt_state("{\"utc_offset\": \"+99\", \"timezone\": \"Asia/Kolkata\"}",
		      "Europe/Paris");
}

/* ---- executes --------------------------------------------------------- */

static void test_reboot(void **state)
{
	struct fixture *f = fixture_new("objects/fixtures/dmi");

	/* no hook configured: 4.05 and nothing queued */
	assert_int_equal(exec(f, OMA_3_REBOOT), LWM_ENOTALLOWED);
	assert_int_equal(exec(f, OMA_3_FACTORY_RESET), LWM_ENOTALLOWED);
	f->cfg.hooks.reboot = "";
	assert_int_equal(exec(f, OMA_3_REBOOT), LWM_ENOTALLOWED);
	assert_int_equal(after_calls, 0);

	/* configured: queued to run after the response */
	f->cfg.hooks.reboot = "true";
	assert_int_equal(exec(f, OMA_3_REBOOT), 0);
	assert_int_equal(after_calls, 1);
	assert_ptr_equal(after_fn, run_reboot);
	f->cfg.hooks.factory_reset = "true";
	assert_int_equal(exec(f, OMA_3_FACTORY_RESET), 0);
	assert_int_equal(after_calls, 2);
	assert_ptr_equal(after_fn, run_factory_reset);
	f->cfg.hooks = (struct cfg_hooks){ 0 };
	fixture_free(f);
}

static void test_error_codes(void **state)
{
	struct fixture *f = fixture_new("objects/fixtures/dmi");

	assert_int_equal(rd(f, OMA_3_ERROR_CODE), 0);
	assert_int_equal(f->recs.n, 1);
	assert_int_equal(f->recs.r[0].v.i, 0);

	device_set_error(f->obj, 5);
	device_set_error(f->obj, 1);
	device_set_error(f->obj, 5);
	device_set_error(f->obj, 33);   /* a bug: logged, ignored */
	assert_int_equal(rd(f, OMA_3_ERROR_CODE), 0);
	assert_int_equal(f->recs.n, 2);
	assert_int_equal(f->recs.r[0].path.id[3], 0);
	assert_int_equal(f->recs.r[0].v.i, 1);
	assert_int_equal(f->recs.r[1].path.id[3], 1);
	assert_int_equal(f->recs.r[1].v.i, 5);

	device_clear_error(f->obj, 1);
	assert_int_equal(rd(f, OMA_3_ERROR_CODE), 0);
	assert_int_equal(f->recs.n, 1);
	assert_int_equal(f->recs.r[0].v.i, 5);

	assert_int_equal(exec(f, OMA_3_RESET_ERROR_CODE), 0);
	assert_int_equal(rd(f, OMA_3_ERROR_CODE), 0);
	assert_int_equal(f->recs.n, 1);
	assert_int_equal(f->recs.r[0].v.i, 0);
	fixture_free(f);
}

/* ---- helpers ---------------------------------------------------------- */

static void test_os_release(void **state)
{
	const char *text = "NAME=\"Foo Linux\"\nPRETTY_NAME='Foo 1.0'\nVERSION_ID=1.0\n"
			   "ID=foo\nVARIANT=\"say \\\"hi\\\"\"\nEMPTY=\n";
	char v[64];

	assert_true(os_release_get(text, "NAME", v, sizeof(v)));
	assert_string_equal(v, "Foo Linux");
	assert_true(os_release_get(text, "PRETTY_NAME", v, sizeof(v)));
	assert_string_equal(v, "Foo 1.0");
	assert_true(os_release_get(text, "VERSION_ID", v, sizeof(v)));
	assert_string_equal(v, "1.0");
	assert_true(os_release_get(text, "VARIANT", v, sizeof(v)));
	assert_string_equal(v, "say \"hi\"");
	assert_false(os_release_get(text, "EMPTY", v, sizeof(v)));
	assert_false(os_release_get(text, "VERSION", v, sizeof(v)));
	assert_false(os_release_get(text, "ID_LIKE", v, sizeof(v)));
	assert_true(os_release_get(text, "NAME", v, 4));        /* truncated, terminated */
	assert_string_equal(v, "Foo");
}

static void test_validators(void **state)
{
	assert_true(utc_offset_valid("+01:00"));
	assert_true(utc_offset_valid("-05:30"));
	assert_true(utc_offset_valid("+0530"));
	assert_true(utc_offset_valid("+02"));
	assert_true(utc_offset_valid("UTC+01:00"));
	assert_true(utc_offset_valid("Z"));
	assert_true(utc_offset_valid("UTC"));
	assert_false(utc_offset_valid("+15:00"));
	assert_false(utc_offset_valid("01:00"));
	assert_true(timezone_valid("America/Argentina/Buenos_Aires"));
	assert_true(timezone_valid("Etc/GMT+5"));
	assert_true(timezone_valid("UTC"));
	assert_false(timezone_valid("Europe/../../etc"));
	assert_true(placeholder("to be filled by o.e.m."));
	assert_false(placeholder("ACME"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dmi_system),
		cmocka_unit_test(test_device_tree_system),
		cmocka_unit_test(test_nothing_readable),
		cmocka_unit_test(test_config_overrides),
		cmocka_unit_test(test_utc_offset_from_tz),
		cmocka_unit_test(test_writes_persist),
		cmocka_unit_test(test_bad_writes),
		cmocka_unit_test(test_corrupt_state),
		cmocka_unit_test(test_reboot),
		cmocka_unit_test(test_error_codes),
		cmocka_unit_test(test_os_release),
		cmocka_unit_test(test_validators),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
