/* Unit tests for objects/portfolio.c: server operations through the real data
 * model and codecs, and the state file (kept, reloaded, damaged). */
#include "../../../objects/portfolio.c"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "codec.h"
#include "dm_req.h"

struct fixture {
	struct agent ag;
	struct cfg cfg;
	struct dm *dm;
	struct dm_obj *obj;
	struct dm_resp resp;
	struct errbuf err;
	char state[64];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void start(struct fixture *f)
{
	f->dm = dm_new();
	assert_non_null(f->dm);
	f->obj = portfolio_obj_new(&f->ag);
	assert_non_null(f->obj);
	assert_int_equal(dm_register(f->dm, f->obj), 0);
}

static void stop(struct fixture *f)
{
	dm_free(f->dm);
	portfolio_obj_free(f->obj);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->state, "/tmp/lwm2md-portfolio-XXXXXX");
	if (!mkdtemp(f->state))
		return -1;
	f->cfg.state_dir = f->state;
	f->ag.cfg = &f->cfg;
	buf_init(&f->resp.body);
	start(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	stop(f);
	buf_fini(&f->resp.body);
	nftw(f->state, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Serves one request; returns the CoAP code or the LWM_E* error. */
static int req(struct fixture *f, enum dm_method m, const char *path, int fmt,
	       const void *payload, size_t len)
{
	struct dm_req r = {
		.method = m, .format = fmt, .accept = LWM_FMT_NONE,
		.payload = payload, .len = len,
	};

	assert_int_equal(dm_path_parse(path, &r.path, &f->err), 0);
	buf_reset(&f->resp.body);
	return dm_handle(f->dm, &r, &f->resp, &f->err);
}

static int senml(struct fixture *f, enum dm_method m, const char *path, const char *json)
{
	return req(f, m, path, LWM_FMT_SENML_JSON, json, strlen(json));
}

/* The identities of instance iid as "riid=value;..." */
static const char *identities(struct fixture *f, uint16_t iid)
{
	static char s[512];
	struct dm_inst *inst = dm_find_inst(f->obj, iid);
	struct pf_inst *pi;
	size_t i, o = 0;

	if (!inst)
		return "(none)";
	pi = pi_of(inst);
	s[0] = 0;
	for (i = 0; i < pi->n; i++)
		o += (size_t)snprintf(s + o, sizeof(s) - o, "%u=%s;", pi->ids[i].riid,
				      pi->ids[i].s);
	return s;
}

static size_t count(struct fixture *f)
{
	return inst_count(f->obj);
}

static void restart(struct fixture *f)
{
	stop(f);
	start(f);
}

static void write_state(struct fixture *f, const char *text)
{
	assert_int_equal(store_write(f->state, "portfolio.json", text, strlen(text), &f->err), 0);
}

/* ---- server operations ------------------------------------------------ */

static void test_create_without_id(void **state)
{
	struct fixture *f = *state;
	/* TLV: multiple resource 0 with instances 0 "abc" and 1 "xy" */
	static const uint8_t tlv[] = { 0x88, 0x00, 0x09, 0x43, 0x00, 'a', 'b', 'c',
				       0x42, 0x01, 'x', 'y' };

	assert_int_equal(req(f, DM_M_POST, "/16", LWM_FMT_TLV, tlv, sizeof(tlv)),
			 COAP_RESPONSE_CODE(201));
	assert_string_equal(f->resp.location, "16/0");
	assert_string_equal(identities(f, 0), "0=abc;1=xy;");
	assert_int_equal(req(f, DM_M_POST, "/16", LWM_FMT_TLV, tlv, sizeof(tlv)),
			 COAP_RESPONSE_CODE(201));
	assert_string_equal(f->resp.location, "16/1");
	restart(f);
	assert_int_equal(count(f), 2);
	assert_string_equal(identities(f, 1), "0=abc;1=xy;");
}

static void test_create_write_delete(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(senml(f, DM_M_POST, "/16",
			       "[{\"bn\":\"/16/5/\",\"n\":\"0/0\",\"vs\":\"host-1\"},"
			       "{\"n\":\"0/3\",\"vs\":\"1.0\"}]"), COAP_RESPONSE_CODE(201));
	assert_string_equal(f->resp.location, "16/5");
	assert_string_equal(identities(f, 5), "0=host-1;3=1.0;");

	/* replace: the other identities go */
	assert_int_equal(senml(f, DM_M_PUT, "/16/5",
			       "[{\"bn\":\"/16/5/\",\"n\":\"0/1\",\"vs\":\"ACME\"}]"),
			 COAP_RESPONSE_CODE(204));
	assert_string_equal(identities(f, 5), "1=ACME;");

	/* partial update: added to */
	assert_int_equal(senml(f, DM_M_POST, "/16/5",
			       "[{\"bn\":\"/16/5/\",\"n\":\"0/2\",\"vs\":\"Model \\u00e9\"},"
			       "{\"n\":\"0/1\",\"vs\":\"ACME Inc\"}]"), COAP_RESPONSE_CODE(204));
	assert_string_equal(identities(f, 5), "1=ACME Inc;2=Model \xc3\xa9;");

	/* read back through the codec */
	assert_int_equal(req(f, DM_M_GET, "/16/5/0/2", LWM_FMT_NONE, NULL, 0),
			 COAP_RESPONSE_CODE(205));
	assert_int_equal(f->resp.body.len, strlen("Model \xc3\xa9"));

	restart(f);
	assert_string_equal(identities(f, 5), "1=ACME Inc;2=Model \xc3\xa9;");

	assert_int_equal(req(f, DM_M_DELETE, "/16/5", LWM_FMT_NONE, NULL, 0),
			 COAP_RESPONSE_CODE(202));
	assert_int_equal(count(f), 0);
	restart(f);
	assert_int_equal(count(f), 0);
}

static void test_optional_resources(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(senml(f, DM_M_POST, "/16",
			       "[{\"bn\":\"/16/0/\",\"n\":\"0/0\",\"vs\":\"h\"}]"),
			 COAP_RESPONSE_CODE(201));
	assert_int_equal(req(f, DM_M_POST, "/16/0/1", LWM_FMT_NONE, NULL, 0), LWM_ENOTALLOWED);
	assert_int_equal(req(f, DM_M_GET, "/16/0/2", LWM_FMT_NONE, NULL, 0), LWM_ENOTFOUND);
	assert_int_equal(req(f, DM_M_GET, "/16/0/3", LWM_FMT_NONE, NULL, 0), LWM_ENOTFOUND);
	/* an instance read has just the identities */
	assert_int_equal(req(f, DM_M_GET, "/16/0", LWM_FMT_NONE, NULL, 0),
			 COAP_RESPONSE_CODE(205));
}

static void test_bad_values(void **state)
{
	struct fixture *f = *state;
	struct dm_inst *inst;
	struct dm_value v;
	char big[MAX_LEN + 1];
	uint16_t i;

	assert_int_equal(senml(f, DM_M_POST, "/16",
			       "[{\"bn\":\"/16/0/\",\"n\":\"0/0\",\"vs\":\"h\"}]"),
			 COAP_RESPONSE_CODE(201));
	inst = dm_find_inst(f->obj, 0);
	v = dm_opaque("a\0b", 3);
	v.type = DM_T_STRING;
	assert_int_equal(f->obj->ops->write(f->obj, inst, 0, 1, &v), LWM_EBADREQ);
	v = dm_opaque("\xc3\x28", 2);
	v.type = DM_T_STRING;
	assert_int_equal(f->obj->ops->write(f->obj, inst, 0, 1, &v), LWM_EBADREQ);
	v = dm_opaque("\xed\xa0\x80", 3);       /* a UTF-16 surrogate */
	v.type = DM_T_STRING;
	assert_int_equal(f->obj->ops->write(f->obj, inst, 0, 1, &v), LWM_EBADREQ);
	memset(big, 'x', sizeof(big));
	v = dm_opaque(big, sizeof(big));
	v.type = DM_T_STRING;
	assert_int_equal(f->obj->ops->write(f->obj, inst, 0, 1, &v), LWM_EENTITY);
	v = dm_str("");
	assert_int_equal(f->obj->ops->write(f->obj, inst, 0, 1, &v), 0);
	for (i = 2; i < MAX_IDS; i++)
		assert_int_equal(f->obj->ops->write(f->obj, inst, 0, i, &v), 0);
	assert_int_equal(f->obj->ops->write(f->obj, inst, 0, MAX_IDS, &v), LWM_EBADREQ);
	assert_int_equal(f->obj->ops->write(f->obj, inst, 0, 5, &v), 0);       /* replace */
	assert_int_equal(f->obj->ops->write(f->obj, inst, 0, DM_NONE, &v), LWM_EBADREQ);
	assert_int_equal(f->obj->ops->write(f->obj, inst, 3, DM_NONE, &v), LWM_ENOTALLOWED);
	assert_string_equal(identities(f, 0), "0=h;1=;2=;3=;4=;5=;6=;7=;8=;9=;10=;11=;12=;13=;"
			    "14=;15=;16=;17=;18=;19=;20=;21=;22=;23=;24=;25=;26=;27=;28=;29=;30=;"
			    "31=;32=;33=;34=;35=;36=;37=;38=;39=;40=;41=;42=;43=;44=;45=;46=;47=;"
			    "48=;49=;50=;51=;52=;53=;54=;55=;56=;57=;58=;59=;60=;61=;62=;63=;");
}

static void test_too_many_instances(void **state)
{
	struct fixture *f = *state;
	static const uint8_t tlv[] = { 0x88, 0x00, 0x03, 0x41, 0x00, 'a' };
	int i;

	for (i = 0; i < MAX_INSTS; i++)
		assert_int_equal(req(f, DM_M_POST, "/16", LWM_FMT_TLV, tlv, sizeof(tlv)),
				 COAP_RESPONSE_CODE(201));
	assert_int_equal(req(f, DM_M_POST, "/16", LWM_FMT_TLV, tlv, sizeof(tlv)), LWM_EBADREQ);
	restart(f);
	assert_int_equal(count(f), MAX_INSTS);
}

/* ---- the state file --------------------------------------------------- */

static void test_state_good(void **state)
{
	struct fixture *f = *state;

	write_state(f, "{\"instances\": [{\"id\": 7, \"identity\": {\"3\": \"c\", \"0\": \"a\"}},"
		       " {\"id\": 2}, {\"id\": 65534, \"identity\": {}}]}");
	restart(f);
	assert_int_equal(count(f), 3);
	assert_string_equal(identities(f, 7), "0=a;3=c;");
	assert_string_equal(identities(f, 2), "");
	assert_string_equal(identities(f, 65534), "");
}

static void test_state_damaged(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"{\"instances\": [{\"id\": 1, \"identity\": {\"0\": \"a\"}}",
		"[]",
		"{}",
		"{\"instances\": {}}",
		"{\"instances\": [1]}",
		"{\"instances\": [{\"identity\": {}}]}",
		"{\"instances\": [{\"id\": -1}]}",
		"{\"instances\": [{\"id\": 65535}]}",
		"{\"instances\": [{\"id\": \"1\"}]}",
		"{\"instances\": [{\"id\": 1}, {\"id\": 1}]}",
		"{\"instances\": [{\"id\": 1, \"identity\": []}]}",
		"{\"instances\": [{\"id\": 1, \"identity\": {\"x\": \"a\"}}]}",
		"{\"instances\": [{\"id\": 1, \"identity\": {\"01\": \"a\"}}]}",
		"{\"instances\": [{\"id\": 1, \"identity\": {\"65535\": \"a\"}}]}",
		"{\"instances\": [{\"id\": 1, \"identity\": {\"0\": 5}}]}",
		"{\"instances\": [{\"id\": 1, \"identity\": {\"0\": \"a\\u0000b\"}}]}",
		"{\"instances\": [{\"id\": 1, \"identity\": {\"0\": \"a\", \"0\": \"b\"}}]}",
		/* a good instance before a bad one: nothing is kept */
		"{\"instances\": [{\"id\": 1, \"identity\": {\"0\": \"a\"}}, {\"id\": \"2\"}]}",
	};
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_state(f, bad[i]);
		restart(f);
		if (count(f))
			fail_msg("\"%s\" was loaded", bad[i]);
	}
}

static void test_state_unwritable(void **state)
{
	struct fixture *f = *state;

	f->cfg.state_dir = "/nonexistent/lwm2md-state";
	assert_int_equal(senml(f, DM_M_POST, "/16",
			       "[{\"bn\":\"/16/0/\",\"n\":\"0/0\",\"vs\":\"h\"}]"),
			 COAP_RESPONSE_CODE(201));     /* kept in memory, save logged */
	assert_string_equal(identities(f, 0), "0=h;");
	f->cfg.state_dir = f->state;
}

/* ---- helpers ---------------------------------------------------------- */

static void test_utf8(void **state)
{
	assert_true(utf8_valid((const uint8_t *)"", 0));
	assert_true(utf8_valid((const uint8_t *)"plain", 5));
	assert_true(utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	assert_false(utf8_valid((const uint8_t *)"\xc0\xaf", 2));           /* overlong */
	assert_false(utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));       /* overlong */
	assert_false(utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));   /* > U+10FFFF */
	assert_false(utf8_valid((const uint8_t *)"\xe2\x82", 2));           /* truncated */
	assert_false(utf8_valid((const uint8_t *)"\x80", 1));
	assert_int_equal(parse_id("0"), 0);
	assert_int_equal(parse_id("65534"), 65534);
	assert_int_equal(parse_id("65535"), -1);
	assert_int_equal(parse_id("007"), -1);
	assert_int_equal(parse_id("-1"), -1);
	assert_int_equal(parse_id(""), -1);
	assert_int_equal(parse_id("99999999999999999999"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_without_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_write_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_optional_resources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_instances, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_unwritable, setup, teardown),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
