/* Unit tests for objects/sensors.c with ipso_sensor.c and digital_io.c:
 * sensors built from a config, read and written through the real data model,
 * sampled by calling the group ticks directly; sim channels, and hwmon over a
 * fixture tree (LWM2MD_SYSROOT) for failures and present = device. */
#include "../../../objects/sensors.c"
#include "../../../drivers/sim.c"           /* its state, to move its clock */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec.h"
#include "../drivers/util.h"

struct fixture {
	struct agent ag;
	struct sensors *set;
	char dir[64];           /* state folder, config and sysroot */
	char ini[96];
	int links, changes;
	struct dm_path last;
};

static void on_links(void *arg)
{
	((struct fixture *)arg)->links++;
}

static void on_changed(void *arg, const struct dm_path *p)
{
	struct fixture *f = arg;

	f->changes++;
	f->last = *p;
}

static void load(struct fixture *f, const char *sensors)
{
	FILE *out = fopen(f->ini, "w");

	assert_non_null(out);
	fprintf(out, "[server]\nuri = coap://127.0.0.1\n[state]\ndir = %s/state\n%s", f->dir,
		sensors);
	fclose(out);
	cfg_free(f->ag.cfg);
	f->ag.cfg = cfg_load(f->ini, stderr);
	assert_non_null(f->ag.cfg);
}

static struct fixture *start(const char *sensors)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[128];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/lwm2md-sensors-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->ini, sizeof(f->ini), "%s/lwm2md.ini", f->dir);
	snprintf(p, sizeof(p), "%s/state", f->dir);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/root", f->dir);
	mkdir(p, 0755);
	setenv("LWM2MD_SYSROOT", p, 1);
	load(f, sensors);
	f->ag.loop = loop_new();
	f->ag.dm = dm_new();
	assert_non_null(f->ag.loop);
	assert_non_null(f->ag.dm);
	f->set = sensors_new(&f->ag);
	assert_non_null(f->set);
	/* hooks after start, as main() sets them */
	dm_set_links_hook(f->ag.dm, on_links, f);
	dm_set_changed_hook(f->ag.dm, on_changed, f);
	return f;
}

static void stop(struct fixture *f)
{
	sensors_free(f->set);
	dm_free(f->ag.dm);
	loop_free(f->ag.loop);
	cfg_free(f->ag.cfg);
	rm_tree(f->dir);
	unsetenv("LWM2MD_SYSROOT");
	free(f);
}

/* Runs every group's tick now. */
static void tick(struct fixture *f)
{
	struct group *g;

	for (g = f->set->groups; g; g = g->next)
		on_tick(&g->timer);
}

static struct sensor *sensor_at(struct fixture *f, uint16_t oid, uint16_t iid)
{
	struct dm_obj *obj = dm_find_obj(f->ag.dm, oid);
	struct dm_inst *inst = obj ? dm_find_inst(obj, iid) : NULL;

	return inst ? sensor_of(inst) : NULL;
}

/* Reads /oid/iid/rid: 0 and the value, or the error. */
static int get(struct fixture *f, uint16_t oid, uint16_t iid, uint16_t rid, struct dm_value *v)
{
	struct dm_path p = { .id = { oid, iid, rid }, .len = 3 };
	struct dm_recs recs;
	int rc;

	dm_recs_init(&recs);
	rc = dm_read(f->ag.dm, &p, false, &recs);
	if (!rc) {
		assert_int_equal(recs.n, 1);
		*v = recs.r[0].v;
		if (v->type == DM_T_STRING) {
			static char s[256];

			snprintf(s, sizeof(s), "%.*s", (int)v->bytes.len, v->bytes.p);
			v->bytes.p = (const uint8_t *)s;
		}
	}
	dm_recs_fini(&recs);
	return rc;
}

static double getf(struct fixture *f, uint16_t oid, uint16_t iid, uint16_t rid)
{
	struct dm_value v;

	assert_int_equal(get(f, oid, iid, rid, &v), 0);
	assert_int_equal(v.type, DM_T_FLOAT);
	return v.f;
}

static const char *gets_(struct fixture *f, uint16_t oid, uint16_t iid, uint16_t rid)
{
	struct dm_value v;

	assert_int_equal(get(f, oid, iid, rid, &v), 0);
	return (const char *)v.bytes.p;
}

/* A server request in text/plain; returns the CoAP code (2.04 = 68) or the
 * negative LWM_E*. */
static int request(struct fixture *f, enum dm_method m, uint16_t oid, uint16_t iid, uint16_t rid,
		   const char *text)
{
	struct dm_req req = {
		.method = m,
		.path = { .id = { oid, iid, rid }, .len = 3 },
		.format = text ? LWM_FMT_TEXT : LWM_FMT_NONE,
		.accept = LWM_FMT_NONE,
		.payload = (const uint8_t *)text,
		.len = text ? strlen(text) : 0,
	};
	struct dm_resp resp = { .format = LWM_FMT_NONE };
	struct errbuf err = { "" };
	int rc;

	buf_init(&resp.body);
	rc = dm_handle(f->ag.dm, &req, &resp, &err);
	buf_fini(&resp.body);
	return rc;
}

#define CHANGED COAP_RESPONSE_CODE(204)

/* ---- values ------------------------------------------------------------------ */

static void test_value_scale_offset_units(void **state)
{
	struct fixture *f = start("[sensor.t]\nobject = 3303\ndriver = sim\nvalue = 20\n"
				  "scale = 1.8\noffset = 32\nunits = degF\n"
				  "[sensor.h]\nobject = 3304\ndriver = sim\nvalue = 40\n"
				  "[sensor.g]\nobject = 3300\ndriver = sim\nvalue = 1\n");

	assert_true(fabs(getf(f, 3303, 0, 5700) - 68) < 1e-9);
	assert_string_equal(gets_(f, 3303, 0, 5701), "degF");
	assert_string_equal(gets_(f, 3304, 0, 5701), "%RH");
	/* a generic sensor fed by sim has no unit of its own */
	assert_int_equal(get(f, 3300, 0, 5701, &(struct dm_value){ 0 }), LWM_ENOTFOUND);
	assert_string_equal(gets_(f, 3300, 0, 5751), "sim constant");
	/* optional resources not configured are absent */
	assert_int_equal(get(f, 3303, 0, 5603, &(struct dm_value){ 0 }), LWM_ENOTFOUND);
	assert_int_equal(get(f, 3303, 0, 5750, &(struct dm_value){ 0 }), LWM_ENOTFOUND);
	stop(f);
}

static void test_max_age_samples_on_read(void **state)
{
	struct fixture *f = start("[sensor.fast]\nobject = 3303\ndriver = sim\nwaveform = ramp\n"
				  "amplitude = 1000\nwave_period = 1000\nperiod = 3600\n"
				  "max_age = 0.05\n"
				  "[sensor.slow]\nobject = 3303\ndriver = sim\nwaveform = ramp\n"
				  "amplitude = 1000\nwave_period = 1000\nperiod = 3600\n");
	double a = getf(f, 3303, 0, 5700), b = getf(f, 3303, 1, 5700);

	usleep(120000);
	assert_true(getf(f, 3303, 0, 5700) > a);        /* older than max_age: sampled */
	assert_true(getf(f, 3303, 1, 5700) == b);       /* max_age 3600 s: kept */
	/* what the read sampled is announced from a zero timer, not the read */
	assert_int_equal(f->changes, 0);
	assert_true(sensor_at(f, 3303, 0)->later.armed);
	on_later(&sensor_at(f, 3303, 0)->later);
	assert_int_equal(f->changes, 1);
	stop(f);
}

static void test_tick_notifies_only_changes(void **state)
{
	struct fixture *f = start("[sensor.c]\nobject = 3303\ndriver = sim\nvalue = 5\nperiod = 1\n"
				  "[sensor.r]\nobject = 3303\ndriver = sim\nwaveform = ramp\n"
				  "amplitude = 1000\nwave_period = 1000\nperiod = 1\n");

	/* one group for both: one timer */
	assert_non_null(f->set->groups);
	assert_null(f->set->groups->next);
	usleep(2000);
	tick(f);
	assert_int_equal(f->changes, 1);
	assert_int_equal(f->last.len, 2);
	assert_int_equal(f->last.id[0], 3303);
	assert_int_equal(f->last.id[1], 1);
	stop(f);
}

static void test_min_max_reset(void **state)
{
	struct fixture *f = start("[sensor.r]\nobject = 3303\ndriver = sim\nwaveform = ramp\n"
				  "amplitude = 1000\nwave_period = 1000\nperiod = 1\n");
	double mn = getf(f, 3303, 0, 5601), mx;

	usleep(20000);
	tick(f);
	mx = getf(f, 3303, 0, 5602);
	assert_true(mx > mn);
	assert_true(getf(f, 3303, 0, 5601) == mn);
	assert_true(getf(f, 3303, 0, 5700) == mx);
	assert_int_equal(request(f, DM_M_POST, 3303, 0, 5605, NULL), CHANGED);
	assert_true(getf(f, 3303, 0, 5601) == mx);
	assert_true(getf(f, 3303, 0, 5602) == mx);
	/* Sensor Value is read-only; Reset is not readable */
	assert_int_equal(request(f, DM_M_PUT, 3303, 0, 5700, "1"), LWM_ENOTALLOWED);
	stop(f);
}

static void test_three_axes(void **state)
{
	struct fixture *f = start("[sensor.g]\nobject = 3334\ndriver = sim\nwaveform = ramp\n"
				  "amplitude = 3\nwave_period = 3000\nperiod = 1\n");
	double x = getf(f, 3334, 0, 5702), y = getf(f, 3334, 0, 5703), z = getf(f, 3334, 0, 5704);

	assert_true(y > x + 0.9 && z > y + 0.9);
	assert_true(getf(f, 3334, 0, 5508) == x);       /* Min X */
	assert_true(getf(f, 3334, 0, 5513) == z);       /* Max Z */
	assert_string_equal(gets_(f, 3334, 0, 5701), "rad/s");
	stop(f);
}

/* ---- settings kept across restarts ------------------------------------------------- */

static void test_application_type_saved(void **state)
{
	const char *ini = "[sensor.t]\nobject = 3303\ndriver = sim\napplication_type = attic\n";
	struct fixture *f = start(ini);
	char p[128];

	assert_string_equal(gets_(f, 3303, 0, 5750), "attic");
	assert_int_equal(request(f, DM_M_PUT, 3303, 0, 5750, "cellar"), CHANGED);
	assert_string_equal(gets_(f, 3303, 0, 5750), "cellar");
	snprintf(p, sizeof(p), "%s/state/sensors.json", f->dir);
	assert_int_equal(access(p, R_OK), 0);
	/* a restart: what the server wrote wins over the config */
	sensors_free(f->set);
	f->set = sensors_new(&f->ag);
	assert_string_equal(gets_(f, 3303, 0, 5750), "cellar");
	stop(f);
}

/* ---- digital ------------------------------------------------------------------------- */

static void test_output(void **state)
{
	struct fixture *f = start("[sensor.relay]\nobject = 3201\ndriver = sim\ninitial = on\n");
	struct sensor *s = sensor_at(f, 3201, 0);
	struct errbuf err;
	struct dm_value v;
	struct stat st;
	char p[128];
	double level;
	ino_t ino;

	assert_int_equal(get(f, 3201, 0, 5550, &v), 0);
	assert_true(v.b);
	assert_int_equal(s->ch->ops->read(s->ch, &level, &err), 0);
	assert_true(level == 1);
	assert_int_equal(request(f, DM_M_PUT, 3201, 0, 5550, "0"), CHANGED);
	assert_int_equal(s->ch->ops->read(s->ch, &level, &err), 0);
	assert_true(level == 0);
	/* the state is no setting: nothing saved */
	snprintf(p, sizeof(p), "%s/state/sensors.json", f->dir);
	assert_int_equal(stat(p, &st), -1);
	/* reversed polarity: the same state, the other level; saved */
	assert_int_equal(request(f, DM_M_PUT, 3201, 0, 5551, "1"), CHANGED);
	assert_int_equal(s->ch->ops->read(s->ch, &level, &err), 0);
	assert_true(level == 1);
	assert_int_equal(stat(p, &st), 0);
	ino = st.st_ino;
	assert_int_equal(request(f, DM_M_PUT, 3201, 0, 5550, "1"), CHANGED);
	assert_int_equal(request(f, DM_M_PUT, 3201, 0, 5550, "0"), CHANGED);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_ino, ino);       /* not rewritten */
	assert_int_equal(get(f, 3201, 0, 5550, &v), 0);
	assert_false(v.b);
	/* not a boolean: refused by the core, nothing driven */
	assert_int_equal(request(f, DM_M_PUT, 3201, 0, 5550, "yes please"), LWM_EBADREQ);
	assert_int_equal(s->ch->ops->read(s->ch, &level, &err), 0);
	assert_true(level == 1);
	/* a missing line: 5.03 and no change */
	close_ch(s);
	s->failing = true;
	assert_int_equal(request(f, DM_M_PUT, 3201, 0, 5550, "1"), LWM_EUNAVAIL);
	assert_false(s->state);
	stop(f);
}

static void test_input_counts_edges(void **state)
{
	struct fixture *f = start("[sensor.door]\nobject = 3200\ndriver = sim\nwaveform = square\n"
				  "value = 0\namplitude = 1\nwave_period = 10\nperiod = 1\n");
	struct sensor *s = sensor_at(f, 3200, 0);
	struct sim *sim = s->ch->priv;
	struct dm_value v;

	assert_int_equal(get(f, 3200, 0, 5500, &v), 0);
	assert_false(v.b);
	/* move the wave to its second half: a rising edge */
	sim->t0 -= 6000;
	tick(f);
	assert_int_equal(get(f, 3200, 0, 5500, &v), 0);
	assert_true(v.b);
	assert_int_equal(get(f, 3200, 0, 5501, &v), 0);
	assert_int_equal(v.i, 1);
	sim->t0 -= 5000;        /* back low: not counted (rising edges only) */
	tick(f);
	assert_int_equal(get(f, 3200, 0, 5501, &v), 0);
	assert_int_equal(v.i, 1);
	assert_int_equal(request(f, DM_M_PUT, 3200, 0, 5504, "3"), CHANGED);
	sim->t0 -= 5000;
	tick(f);
	assert_int_equal(get(f, 3200, 0, 5501, &v), 0);
	assert_int_equal(v.i, 2);
	assert_int_equal(request(f, DM_M_POST, 3200, 0, 5505, NULL), CHANGED);
	assert_int_equal(get(f, 3200, 0, 5501, &v), 0);
	assert_int_equal(v.i, 0);
	assert_int_equal(request(f, DM_M_PUT, 3200, 0, 5504, "0"), LWM_EBADREQ);
	assert_int_equal(request(f, DM_M_PUT, 3200, 0, 5503, "60001"), LWM_EBADREQ);
	/* polarity reverses the state */
	assert_int_equal(get(f, 3200, 0, 5500, &v), 0);
	assert_true(v.b);
	assert_int_equal(request(f, DM_M_PUT, 3200, 0, 5502, "1"), CHANGED);
	assert_int_equal(get(f, 3200, 0, 5500, &v), 0);
	assert_false(v.b);
	stop(f);
}

/* ---- failures and hot-plug --------------------------------------------------------------- */

static void chip(struct fixture *f, int n, const char *name, const char *milli)
{
	char root[128], rel[96];

	snprintf(root, sizeof(root), "%s/root", f->dir);
	snprintf(rel, sizeof(rel), "sys/class/hwmon/hwmon%d/name", n);
	put_file(root, rel, name);
	snprintf(rel, sizeof(rel), "sys/class/hwmon/hwmon%d/temp1_input", n);
	put_file(root, rel, milli);
}

static void unplug(struct fixture *f, int n)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/root/sys/class/hwmon/hwmon%d", f->dir, n);
	rm_tree(p);
}

static void test_missing_then_present(void **state)
{
	struct fixture *f = start("[sensor.b]\nobject = 3303\ndriver = hwmon\ndevice = lm75\n"
				  "channel = temp1\nperiod = 1\n");
	struct sensor *s = sensor_at(f, 3303, 0);
	struct dm_path p = { .id = { 3303, 0 }, .len = 2 };
	struct dm_recs recs;
	struct dm_value v;

	assert_non_null(s);             /* the instance is there */
	assert_true(s->failing);
	assert_int_equal(get(f, 3303, 0, 5700, &v), LWM_EUNAVAIL);
	assert_int_equal(get(f, 3303, 0, 5601, &v), LWM_EUNAVAIL);
	assert_string_equal(gets_(f, 3303, 0, 5701), "Cel");
	/* an instance read leaves the value out */
	dm_recs_init(&recs);
	assert_int_equal(dm_read(f->ag.dm, &p, false, &recs), 0);
	assert_int_equal(recs.n, 1);
	dm_recs_fini(&recs);

	chip(f, 0, "lm75\n", "21500\n");
	s->last_try -= RETRY_MIN_MS;    /* retried once a second at most */
	tick(f);
	assert_false(s->failing);
	assert_true(getf(f, 3303, 0, 5700) == 21.5);
	assert_int_equal(f->changes, 1);        /* the value is back */
	assert_int_equal(f->links, 0);

	unplug(f, 0);
	tick(f);
	assert_true(s->failing);
	assert_null(s->ch);
	assert_int_equal(get(f, 3303, 0, 5700, &v), LWM_EUNAVAIL);
	assert_int_equal(f->changes, 2);        /* observers learn of the failure */
	assert_int_equal(f->last.id[1], 0);
	/* garbage is a failure too, and never a stale value */
	chip(f, 2, "lm75\n", "-\n");
	s->last_try -= RETRY_MIN_MS;
	tick(f);
	assert_true(s->failing);
	assert_int_equal(get(f, 3303, 0, 5700, &v), LWM_EUNAVAIL);
	chip(f, 2, "lm75\n", "22000\n");
	s->last_try -= RETRY_MIN_MS;
	tick(f);
	assert_true(getf(f, 3303, 0, 5700) == 22.0);
	assert_true(getf(f, 3303, 0, 5601) == 21.5);
	/* a device event: the pass looks at once, without the retry pause */
	unplug(f, 2);
	f->set->uev_all = true;                 /* as on_uevent() sets it */
	on_uev_pass(&f->set->uev_pass);
	assert_true(s->failing);
	chip(f, 3, "lm75\n", "23000\n");
	f->set->uev_all = true;
	on_uev_pass(&f->set->uev_pass);
	assert_false(s->failing);
	assert_true(getf(f, 3303, 0, 5700) == 23.0);
	stop(f);
}

static void test_present_device(void **state)
{
	struct fixture *f = start("[sensor.p]\nobject = 3303\ndriver = hwmon\ndevice = tmp102\n"
				  "channel = temp1\npresent = device\ninstance = 3\nperiod = 1\n");
	struct dm_value v;

	assert_null(sensor_at(f, 3303, 3));
	assert_non_null(dm_find_obj(f->ag.dm, 3303));  /* the object is, empty */
	assert_int_equal(get(f, 3303, 3, 5700, &v), LWM_ENOTFOUND);

	chip(f, 1, "tmp102\n", "19000\n");
	f->set->all[0]->last_try -= RETRY_MIN_MS;
	tick(f);
	assert_non_null(sensor_at(f, 3303, 3));
	assert_int_equal(f->links, 1);
	assert_true(getf(f, 3303, 3, 5700) == 19.0);

	unplug(f, 1);
	tick(f);
	assert_null(sensor_at(f, 3303, 3));
	assert_int_equal(f->links, 2);
	stop(f);
}

static void test_reload_keeps_unchanged(void **state)
{
	const char *a = "[sensor.a]\nobject = 3303\ndriver = sim\nvalue = 1\n";
	const char *b = "[sensor.b]\nobject = 3304\ndriver = sim\nvalue = 2\n";
	char both[256];
	struct fixture *f = start(a);
	struct sensor *sa = sensor_at(f, 3303, 0);
	struct cfg *old;

	snprintf(both, sizeof(both), "%s%s", a, b);
	old = f->ag.cfg;
	f->ag.cfg = NULL;
	load(f, both);
	sensors_reload(f->set, f->ag.cfg);
	cfg_free(old);
	assert_ptr_equal(sensor_at(f, 3303, 0), sa);    /* kept, with its state */
	assert_ptr_equal(sa->cfg, &f->ag.cfg->sensors[0]);
	assert_true(getf(f, 3304, 0, 5700) == 2.0);
	assert_int_equal(f->links, 1);

	old = f->ag.cfg;
	f->ag.cfg = NULL;
	load(f, b);
	sensors_reload(f->set, f->ag.cfg);
	cfg_free(old);
	assert_null(dm_find_obj(f->ag.dm, 3303));       /* no sensor left: no object */
	assert_true(getf(f, 3304, 0, 5700) == 2.0);
	assert_int_equal(f->links, 2);
	stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_scale_offset_units),
		cmocka_unit_test(test_max_age_samples_on_read),
		cmocka_unit_test(test_tick_notifies_only_changes),
		cmocka_unit_test(test_min_max_reset),
		cmocka_unit_test(test_three_axes),
		cmocka_unit_test(test_application_type_saved),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_input_counts_edges),
		cmocka_unit_test(test_missing_then_present),
		cmocka_unit_test(test_present_device),
		cmocka_unit_test(test_reload_keeps_unchanged),
	};

	return cmocka_run_group_tests_name("objects/sensors", tests, NULL, NULL);
}
