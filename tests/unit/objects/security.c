/* Unit tests for objects/security.c: the Security Mode (0/0/2) follows
 * [server] security_mode, no key resource exists, and the data model refuses
 * the object to the server (4.01) and to internal reads too (its resources
 * have no operations in the OMA definition: 4.05).  The object's read
 * callback is called directly, with a struct dm_out from agent/dm.c, which
 * is included for that. */
#include "../../../agent/dm.c"
#include "../../../objects/security.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

struct fixture {
	struct agent ag;
	struct cfg cfg;
	struct dm *dm;
	struct dm_obj *obj;
	struct dm_recs recs;
};

static void start(struct fixture *f, enum cfg_security mode, const char *uri)
{
	memset(f, 0, sizeof(*f));
	f->cfg.server.uri = (char *)uri;
	f->cfg.server.short_server_id = 1;
	f->cfg.server.security_mode = mode;
	f->ag.cfg = &f->cfg;
	f->dm = dm_new();
	assert_non_null(f->dm);
	f->obj = security_obj_new(&f->ag);
	assert_non_null(f->obj);
	assert_int_equal(dm_register(f->dm, f->obj), 0);
	dm_recs_init(&f->recs);
}

static void stop(struct fixture *f)
{
	dm_recs_fini(&f->recs);
	dm_free(f->dm);
	security_obj_free(f->obj);
}

/* What the object's own read callback gives for 0/0/rid: 0 and the value,
 * or its error. */
static int obj_read(struct fixture *f, uint16_t rid, struct dm_value *v)
{
	const struct dm_res_def *def = NULL;
	struct dm_out out;
	int rc;

	for (size_t i = 0; i < f->obj->nres; i++)
		if (f->obj->res[i].id == rid)
			def = &f->obj->res[i];
	assert_non_null(def);
	dm_recs_fini(&f->recs);
	dm_recs_init(&f->recs);
	out = (struct dm_out){ .recs = &f->recs, .path = { .id = { 0, 0, rid }, .len = 3 },
			       .want_riid = DM_NONE, .def = def };
	rc = f->obj->ops->read(f->obj, f->obj->insts, rid, &out);
	if (rc == 0) {
		assert_int_equal(f->recs.n, 1);
		*v = f->recs.r[0].v;
	}
	return rc;
}

static void test_mode_follows_config(void **state)
{
	static const struct {
		enum cfg_security mode;
		const char *uri;
		int64_t want;
	} cases[] = {
		{ CFG_SEC_PSK, "coaps://h", 0 },
		{ CFG_SEC_RPK, "coaps://h", 1 },
		{ CFG_SEC_CERT, "coaps://h", 2 },
		{ CFG_SEC_NOSEC, "coap://h", 3 },
	};
	struct fixture f;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dm_value v;

		start(&f, cases[i].mode, cases[i].uri);
		assert_int_equal(obj_read(&f, 2, &v), 0);
		assert_int_equal(v.i, cases[i].want);
		stop(&f);
	}
}

static void test_no_key_resources_and_server_refused(void **state)
{
	struct fixture f;
	struct dm_path p;
	struct errbuf err;
	int rid;

	struct dm_value v;

	start(&f, CFG_SEC_PSK, "coaps://h");
	for (rid = 3; rid <= 5; rid++)  /* Public Key or Identity, Server Public Key, Secret Key */
		assert_int_equal(obj_read(&f, (uint16_t)rid, &v), LWM_ENOTFOUND);
	assert_int_equal(dm_path_parse("/0/0/2", &p, &err), 0);
	assert_int_equal(dm_read(f.dm, &p, false, &f.recs), -COAP_RESPONSE_CODE(401));
	assert_int_equal(dm_read(f.dm, &p, true, &f.recs), LWM_ENOTALLOWED);
	stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_follows_config),
		cmocka_unit_test(test_no_key_resources_and_server_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
