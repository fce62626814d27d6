/* Unit tests for agent/attr.c: Write-Attributes parsing and validation
 * against a small test object, inheritance, Discover formatting, the
 * attributes.json round trip (and damage), and forgetting. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "attr.h"
#include "buf.h"
#include "dm.h"
#include "err.h"
#include "log.h"
#include "store.h"

/* A test object (id 9) with one resource of each kind that matters here. */
enum {
	R_STR = 0,
	R_INT = 1,
	R_FLOAT = 2,
	R_UINT = 3,
	R_BOOL = 4,
	R_TIME = 5,
	R_OPAQUE = 6,
	R_EXEC = 7,
	R_MULTI_INT = 8,
};

static const struct dm_res_def test_res[] = {
	{ R_STR, DM_OP_R | DM_OP_W, false, true, DM_T_STRING, "Name" },
	{ R_INT, DM_OP_R | DM_OP_W, false, true, DM_T_INT, "Count" },
	{ R_FLOAT, DM_OP_R, false, false, DM_T_FLOAT, "Temperature" },
	{ R_UINT, DM_OP_R, false, false, DM_T_UINT, "Bytes" },
	{ R_BOOL, DM_OP_R | DM_OP_W, false, false, DM_T_BOOL, "Open" },
	{ R_TIME, DM_OP_R, false, false, DM_T_TIME, "When" },
	{ R_OPAQUE, DM_OP_R, false, false, DM_T_OPAQUE, "Blob" },
	{ R_EXEC, DM_OP_E, false, false, DM_T_NONE, "Reset" },
	{ R_MULTI_INT, DM_OP_R, true, false, DM_T_INT, "Levels" },
};

static const struct dm_ops test_ops = { 0 };

struct fx {
	struct dm *dm;
	struct dm_obj obj;
	struct dm_inst inst0, inst1;
	struct attr_store *s;
	struct errbuf err;
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	log_set_level(LOG_ERR);         /* damaged files log warnings on purpose */
	strcpy(f->dir, "/tmp/lwm2md-attr-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->dm = dm_new();
	f->obj = (struct dm_obj){
		.oid = 9,
		.multi_inst = true,
		.res = test_res,
		.nres = sizeof(test_res) / sizeof(test_res[0]),
		.ops = &test_ops,
	};
	f->inst0.id = 0;
	f->inst1.id = 1;
	if (!f->dm || dm_register(f->dm, &f->obj) || dm_inst_add(&f->obj, &f->inst0) ||
	    dm_inst_add(&f->obj, &f->inst1))
		return -1;
	f->s = attr_store_new(NULL);
	if (!f->s)
		return -1;
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc;

	attr_store_free(f->s);
	dm_free(f->dm);
	rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

static struct dm_path P(const char *s)
{
	struct dm_path p;
	struct errbuf err;

	assert_int_equal(dm_path_parse(s, &p, &err), 0);
	return p;
}

/* Write-Attributes of query to path s; returns attr_write's code. */
static int wa_on(struct fx *f, struct attr_store *s, const char *path, const char *query, bool v12)
{
	struct dm_path p = P(path);

	f->err.msg[0] = 0;
	return attr_write(s, f->dm, &p, query, v12, &f->err);
}

static int wa(struct fx *f, const char *path, const char *query)
{
	return wa_on(f, f->s, path, query, false);
}

static int wa12(struct fx *f, const char *path, const char *query)
{
	return wa_on(f, f->s, path, query, true);
}

static const struct attrs *get(struct fx *f, const char *path)
{
	struct dm_path p = P(path);

	return attr_get(f->s, &p);
}

/* attr_format of path as a C string (static buffer). */
static const char *fmt_of(struct attr_store *s, const char *path)
{
	static char out[256];
	struct dm_path p = P(path);
	struct buf b;

	buf_init(&b);
	attr_format(s, &p, &b);
	snprintf(out, sizeof(out), "%s", b.len ? buf_str(&b) : "");
	buf_fini(&b);
	return out;
}

/* Field by field (struct attrs has padding). */
static void assert_attrs_equal(const struct attrs *x, const struct attrs *y)
{
	assert_int_equal(x->set, y->set);
	if (x->set & ATTR_PMIN)
		assert_int_equal(x->pmin, y->pmin);
	if (x->set & ATTR_PMAX)
		assert_int_equal(x->pmax, y->pmax);
	if (x->set & ATTR_EPMIN)
		assert_int_equal(x->epmin, y->epmin);
	if (x->set & ATTR_EPMAX)
		assert_int_equal(x->epmax, y->epmax);
	if (x->set & ATTR_HQMAX)
		assert_int_equal(x->hqmax, y->hqmax);
	if (x->set & ATTR_GT)
		assert_true(x->gt == y->gt);
	if (x->set & ATTR_LT)
		assert_true(x->lt == y->lt);
	if (x->set & ATTR_ST)
		assert_true(x->st == y->st);
	if (x->set & ATTR_CON)
		assert_int_equal(x->con, y->con);
	if (x->set & ATTR_EDGE)
		assert_int_equal(x->edge, y->edge);
}

/* Asserts that query on path is refused with 4.00, a reason, and that the
 * attributes of path are what they were before. */
static void refused(struct fx *f, const char *path, const char *query, bool v12)
{
	struct dm_path p = P(path);
	const struct attrs *a = attr_get(f->s, &p);
	struct attrs before = { 0 };
	bool had = a != NULL;
	int rc;

	if (a)
		before = *a;
	rc = wa_on(f, f->s, path, query, v12);
	if (rc != LWM_EBADREQ)
		fail_msg("%s?%s: expected LWM_EBADREQ (%d), got %d", path, query, LWM_EBADREQ, rc);
	if (!f->err.msg[0])
		fail_msg("%s?%s: refused without a reason", path, query);
	a = attr_get(f->s, &p);
	assert_int_equal(a != NULL, had);
	if (a)
		assert_attrs_equal(a, &before);
}

/* ---- parsing ---------------------------------------------------------- */

static void test_every_attribute(void **state)
{
	struct fx *f = *state;
	const struct attrs *a;

	assert_int_equal(wa12(f, "/9/0/2", "pmin=1&pmax=20&gt=50.5&lt=-3.25&st=2&epmin=1&epmax=30"
				 "&con=1&hqmax=5"), 0);
	a = get(f, "/9/0/2");
	assert_non_null(a);
	assert_int_equal(a->set, ATTR_PMIN | ATTR_PMAX | ATTR_GT | ATTR_LT | ATTR_ST | ATTR_EPMIN |
				 ATTR_EPMAX | ATTR_CON | ATTR_HQMAX);
	assert_int_equal(a->pmin, 1);
	assert_int_equal(a->pmax, 20);
	assert_true(a->gt == 50.5);
	assert_true(a->lt == -3.25);
	assert_true(a->st == 2);
	assert_int_equal(a->epmin, 1);
	assert_int_equal(a->epmax, 30);
	assert_true(a->con);
	assert_int_equal(a->hqmax, 5);
	/* con=0 is a value too, not an unset */
	assert_int_equal(wa12(f, "/9/0/2", "con=0"), 0);
	a = get(f, "/9/0/2");
	assert_true(a->set & ATTR_CON);
	assert_false(a->con);
}

static void test_values_are_whole_or_decimal(void **state)
{
	struct fx *f = *state;
	const struct attrs *a;

	/* the largest period there is, exponents and signs for the thresholds */
	assert_int_equal(wa(f, "/9/0/1", "pmin=0&pmax=4294967295&gt=1e3&lt=-2e1&st=+0.5"), 0);
	a = get(f, "/9/0/1");
	assert_int_equal(a->pmin, 0);
	assert_int_equal(a->pmax, 4294967295u);
	assert_true(a->gt == 1000);
	assert_true(a->lt == -20);
	assert_true(a->st == 0.5);
	/* negative thresholds are fine (a temperature below zero) */
	assert_int_equal(wa(f, "/9/0/2", "gt=-5&lt=-10"), 0);
	assert_true(get(f, "/9/0/2")->gt == -5);
}

static void test_bad_numbers(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"pmin=abc", "pmin=", "pmin=1.5", "pmin=-1", "pmin=10s", "pmin=4294967296",
		"pmax=-0", "pmax=0x10", "epmin=-2", "epmax=1e2", "gt=abc", "gt=", "lt=1,5",
		"gt=inf", "lt=-inf", "gt=nan", "st=-1", "st=x", "pmin=99999999999999999999",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(f, "/9/0/1", bad[i], false);
	assert_null(get(f, "/9/0/1"));
	/* 1.2's boolean-ish attributes take 0 or 1 only */
	refused(f, "/9/0/1", "con=2", true);
	refused(f, "/9/0/1", "con=true", true);
	refused(f, "/9/0/1", "hqmax=-1", true);
	refused(f, "/9/0/4", "edge=2", true);
}

static void test_unknown_names(void **state)
{
	struct fx *f = *state;

	refused(f, "/9/0/1", "foo=1", false);
	refused(f, "/9/0/1", "PMIN=1", false);          /* names are case-sensitive */
	refused(f, "/9/0/1", "pmin=1&foo=2", false);    /* one bad name spoils the lot */
	refused(f, "/9/0/1", "dim=2", false);           /* dim is read-only */
	refused(f, "/9/0/1", "ver=1.1", false);
	refused(f, "/9/0/1", "=5", false);
	assert_null(get(f, "/9/0/1"));
	/* an empty request carries nothing to write */
	refused(f, "/9/0/1", "", false);
	refused(f, "/9/0/1", "&&", false);
	assert_int_equal(wa(f, "/9/0/1", "pmin=1&&pmax=2"), 0);
}

static void test_bare_name_unsets(void **state)
{
	struct fx *f = *state;
	const struct attrs *a;

	assert_int_equal(wa(f, "/9/0/1", "pmin=10&pmax=60&gt=5"), 0);
	assert_int_equal(wa(f, "/9/0/1", "pmin"), 0);
	a = get(f, "/9/0/1");
	assert_non_null(a);
	assert_int_equal(a->set, ATTR_PMAX | ATTR_GT);
	assert_int_equal(a->pmax, 60);
	/* unset and set in one request */
	assert_int_equal(wa(f, "/9/0/1", "gt&lt=1"), 0);
	a = get(f, "/9/0/1");
	assert_int_equal(a->set, ATTR_PMAX | ATTR_LT);
	/* the last one gone: nothing left at the path */
	assert_int_equal(wa(f, "/9/0/1", "pmax&lt"), 0);
	assert_null(get(f, "/9/0/1"));
	assert_string_equal(fmt_of(f->s, "/9/0/1"), "");
	/* unsetting what is not there is harmless */
	assert_int_equal(wa(f, "/9/0/1", "pmin"), 0);
	assert_null(get(f, "/9/0/1"));
	/* the bare name of a 1.2 attribute is still 1.2 */
	refused(f, "/9/0/1", "con", false);
}

/* ---- validation ------------------------------------------------------- */

static void test_lt_st_gt(void **state)
{
	struct fx *f = *state;

	refused(f, "/9/0/1", "lt=10&gt=5", false);
	refused(f, "/9/0/1", "lt=10&gt=10", false);
	/* lt + 2*st must stay below gt: 10 + 2*5 = 20 is not below 20 */
	refused(f, "/9/0/1", "lt=10&gt=20&st=5", false);
	assert_int_equal(wa(f, "/9/0/1", "lt=10&gt=20&st=4.5"), 0);
	/* checked against the merged result, not the request alone */
	refused(f, "/9/0/1", "st=5", false);
	refused(f, "/9/0/1", "lt=19", false);
	refused(f, "/9/0/1", "gt=12", false);
	assert_true(get(f, "/9/0/1")->gt == 20);
	assert_true(get(f, "/9/0/1")->lt == 10);
	/* unsetting lt takes the condition away */
	assert_int_equal(wa(f, "/9/0/1", "lt&st=100"), 0);
	assert_int_equal(get(f, "/9/0/1")->set, ATTR_GT | ATTR_ST);
}

static void test_pmin_pmax(void **state)
{
	struct fx *f = *state;

	refused(f, "/9/0/1", "pmin=10&pmax=5", false);
	assert_int_equal(wa(f, "/9/0/1", "pmin=5&pmax=5"), 0);
	assert_int_equal(wa(f, "/9/0/1", "pmax=50"), 0);
	/* against the merged result */
	refused(f, "/9/0/1", "pmin=51", false);
	refused(f, "/9/0/1", "pmax=4", false);
	assert_int_equal(get(f, "/9/0/1")->pmin, 5);
	assert_int_equal(get(f, "/9/0/1")->pmax, 50);
	/* a request that unsets pmax may raise pmin past it */
	assert_int_equal(wa(f, "/9/0/1", "pmin=100&pmax"), 0);
	assert_int_equal(get(f, "/9/0/1")->set, ATTR_PMIN);
	/* on an object and an instance too */
	refused(f, "/9", "pmin=10&pmax=5", false);
	refused(f, "/9/0", "pmin=10&pmax=5", false);
}

static void test_epmin_epmax(void **state)
{
	struct fx *f = *state;

	refused(f, "/9/0/1", "epmin=10&epmax=5", false);
	assert_int_equal(wa(f, "/9/0/1", "epmin=5&epmax=5"), 0);
	refused(f, "/9/0/1", "epmin=6", false);
	refused(f, "/9/0/1", "epmax=4", false);
	assert_int_equal(get(f, "/9/0/1")->epmin, 5);
	assert_int_equal(get(f, "/9/0/1")->epmax, 5);
	assert_int_equal(wa(f, "/9/0/1", "epmax=60"), 0);
	assert_int_equal(wa(f, "/9/0/1", "epmin=59"), 0);
}

static void test_conditions_on_numeric_resources_only(void **state)
{
	struct fx *f = *state;

	/* numeric resources: Integer, Unsigned Integer, Float */
	assert_int_equal(wa(f, "/9/0/1", "gt=50"), 0);
	assert_int_equal(wa(f, "/9/0/2", "lt=-1&st=0.5"), 0);
	assert_int_equal(wa(f, "/9/0/3", "st=1"), 0);
	assert_int_equal(wa(f, "/9/0/8", "gt=3"), 0);
	assert_int_equal(wa(f, "/9/0/8/0", "gt=3"), 0);        /* a resource instance */
	/* anything else */
	refused(f, "/9/0/0", "gt=50", false);
	refused(f, "/9/0/0", "lt=1", false);
	refused(f, "/9/0/0", "st=1", false);
	refused(f, "/9/0/4", "gt=0", false);
	refused(f, "/9/0/6", "st=1", false);
	refused(f, "/9/0/7", "gt=1", false);
	refused(f, "/9/0/99", "gt=1", false);                  /* not in the table */
	/* value conditions belong to a resource: never on an object or instance */
	refused(f, "/9/0", "gt=1", false);
	refused(f, "/9", "st=1", false);
	refused(f, "/9/0/0", "pmin=1&gt=50", false);           /* all or nothing */
	/* periods fit anything */
	assert_int_equal(wa(f, "/9/0/0", "pmin=1&pmax=10"), 0);
	assert_int_equal(wa(f, "/9/0", "pmin=2"), 0);
	assert_int_equal(wa(f, "/9", "pmax=20&epmin=1&epmax=30"), 0);
	/* an unset needs no numeric resource */
	assert_int_equal(wa(f, "/9/0/0", "gt"), 0);
}

static void test_v12_attributes(void **state)
{
	struct fx *f = *state;

	/* refused on a 1.1 registration, with the reason */
	refused(f, "/9/0/1", "con=1", false);
	assert_non_null(strstr(f->err.msg, "1.2"));
	refused(f, "/9/0/1", "hqmax=3", false);
	refused(f, "/9/0/4", "edge=1", false);
	refused(f, "/9/0/1", "pmin=1&con=1", false);
	assert_null(get(f, "/9/0/1"));
	/* accepted on 1.2; con and hqmax fit any level */
	assert_int_equal(wa12(f, "/9/0/1", "con=1"), 0);
	assert_int_equal(wa12(f, "/9/0", "con=0&hqmax=3"), 0);
	assert_int_equal(wa12(f, "/9", "hqmax=10"), 0);
	assert_int_equal(get(f, "/9/0")->hqmax, 3);
	/* and 1.1 attributes still work the same on 1.2 */
	refused(f, "/9/0/1", "pmin=10&pmax=5", true);
	refused(f, "/9/0/0", "gt=1", true);
}

static void test_edge_is_for_boolean_resources(void **state)
{
	struct fx *f = *state;

	/* LwM2M 1.2 Core 5.1.2: edge (rising 1 / falling 0) applies to
	 * Boolean resources */
	if (wa12(f, "/9/0/4", "edge=1"))
		fail_msg("edge=1 on Boolean /9/0/4 refused: %s", f->err.msg);
	assert_true(get(f, "/9/0/4")->set & ATTR_EDGE);
	assert_true(get(f, "/9/0/4")->edge);
	assert_int_equal(wa12(f, "/9/0/4", "edge=0"), 0);
	assert_false(get(f, "/9/0/4")->edge);
	refused(f, "/9/0/0", "edge=1", true);
	refused(f, "/9/0", "edge=1", true);
}

/* ---- inheritance ------------------------------------------------------ */

static void effective(struct fx *f, const char *path, uint32_t dpmin, uint32_t dpmax,
		      struct attrs *out)
{
	struct dm_path p = P(path);

	attr_effective(f->s, &p, dpmin, dpmax, out);
}

static void test_inheritance(void **state)
{
	struct fx *f = *state;
	struct attrs a;

	assert_int_equal(wa(f, "/9", "pmin=1&pmax=100&epmin=2"), 0);
	assert_int_equal(wa(f, "/9/0", "pmin=5"), 0);
	assert_int_equal(wa(f, "/9/0/1", "pmax=50&gt=10"), 0);
	assert_int_equal(wa(f, "/9/0/8", "pmin=7"), 0);

	/* resource over instance over object */
	effective(f, "/9/0/1", 3, 300, &a);
	assert_int_equal(a.set, ATTR_PMIN | ATTR_PMAX | ATTR_EPMIN | ATTR_GT);
	assert_int_equal(a.pmin, 5);
	assert_int_equal(a.pmax, 50);
	assert_int_equal(a.epmin, 2);
	assert_true(a.gt == 10);
	/* a sibling resource gets the instance's and the object's */
	effective(f, "/9/0/2", 3, 300, &a);
	assert_int_equal(a.set, ATTR_PMIN | ATTR_PMAX | ATTR_EPMIN);
	assert_int_equal(a.pmin, 5);
	assert_int_equal(a.pmax, 100);
	/* another instance only the object's */
	effective(f, "/9/1/1", 3, 300, &a);
	assert_int_equal(a.pmin, 1);
	assert_int_equal(a.pmax, 100);
	/* a resource instance inherits from its resource */
	effective(f, "/9/0/8/3", 3, 300, &a);
	assert_int_equal(a.pmin, 7);
	assert_int_equal(a.pmax, 100);
	/* the instance and object themselves */
	effective(f, "/9/0", 3, 300, &a);
	assert_int_equal(a.pmin, 5);
	assert_int_equal(a.pmax, 100);
	effective(f, "/9", 3, 300, &a);
	assert_int_equal(a.pmin, 1);

	/* nothing written: the Server object's defaults */
	effective(f, "/5/0/1", 3, 300, &a);
	assert_int_equal(a.set, ATTR_PMIN | ATTR_PMAX);
	assert_int_equal(a.pmin, 3);
	assert_int_equal(a.pmax, 300);
	/* defaults of 0 mean none */
	effective(f, "/5/0/1", 0, 0, &a);
	assert_int_equal(a.set, 0);
	/* written values win over the defaults, even 0 */
	assert_int_equal(wa(f, "/9/1", "pmin=0"), 0);
	effective(f, "/9/1/1", 3, 0, &a);
	assert_int_equal(a.set, ATTR_PMIN | ATTR_PMAX | ATTR_EPMIN);
	assert_int_equal(a.pmin, 0);
	assert_int_equal(a.pmax, 100);
	/* an unset at the resource falls back to what is above it */
	assert_int_equal(wa(f, "/9/0/1", "pmax"), 0);
	effective(f, "/9/0/1", 3, 300, &a);
	assert_int_equal(a.pmax, 100);
}

static void test_conditions_not_inherited(void **state)
{
	struct fx *f = *state;
	static const char json[] = "[{\"path\":\"/9/0\",\"query\":\"gt=5&pmin=4\"},"
				   "{\"path\":\"/9\",\"query\":\"lt=1&st=2\"}]";
	struct attrs a;

	/* a state file may carry conditions above resource level (attr_load does
	 * not check applicability); they never reach a resource */
	assert_int_equal(attr_load(f->s, json, strlen(json), &f->err), 0);
	effective(f, "/9/0/1", 0, 0, &a);
	assert_int_equal(a.set, ATTR_PMIN);
	assert_int_equal(a.pmin, 4);
}

/* ---- Discover's attribute text ---------------------------------------- */

static void test_format(void **state)
{
	struct fx *f = *state;
	struct dm_path p = P("/9/0/1");
	struct buf b;
	double d;
	char *end;
	const char *s;

	assert_string_equal(fmt_of(f->s, "/9/0/1"), "");
	assert_int_equal(wa(f, "/9/0/1", "gt=50.5&pmax=60&pmin=10&lt=-2&st=1&epmax=9&epmin=3"), 0);
	assert_string_equal(fmt_of(f->s, "/9/0/1"),
			    ";pmin=10;pmax=60;gt=50.5;lt=-2;st=1;epmin=3;epmax=9");
	/* appends to what the buffer holds (the link being built) */
	buf_init(&b);
	buf_adds(&b, "</9/0/1>");
	attr_format(f->s, &p, &b);
	assert_string_equal(buf_str(&b), "</9/0/1>;pmin=10;pmax=60;gt=50.5;lt=-2;st=1;epmin=3;epmax=9");
	buf_fini(&b);
	/* only what was written at exactly that path */
	assert_int_equal(wa(f, "/9/0", "pmin=2"), 0);
	assert_string_equal(fmt_of(f->s, "/9/0"), ";pmin=2");
	assert_string_equal(fmt_of(f->s, "/9"), "");
	/* 1.2 attributes */
	assert_int_equal(wa12(f, "/9/0/3", "con=0&hqmax=4"), 0);
	assert_string_equal(fmt_of(f->s, "/9/0/3"), ";con=0;hqmax=4");
	/* a decimal threshold reads back as the same number */
	assert_int_equal(wa(f, "/9/0/2", "gt=0.1"), 0);
	s = fmt_of(f->s, "/9/0/2");
	assert_true(!strncmp(s, ";gt=", 4));
	d = strtod(s + 4, &end);
	assert_true(*end == 0 && d == 0.1);
}

/* ---- state file ------------------------------------------------------- */

static void assert_same_store(struct attr_store *a, struct attr_store *b, const char *const *paths)
{
	for (; *paths; paths++) {
		struct dm_path p = P(*paths);
		const struct attrs *x = attr_get(a, &p), *y = attr_get(b, &p);
		char fa[256];

		assert_int_equal(x != NULL, y != NULL);
		if (!x)
			continue;
		assert_attrs_equal(x, y);
		snprintf(fa, sizeof(fa), "%s", fmt_of(a, *paths));
		assert_string_equal(fa, fmt_of(b, *paths));
	}
}

static void test_save_load_roundtrip(void **state)
{
	struct fx *f = *state;
	static const char *const paths[] = { "/9", "/9/0", "/9/0/1", "/9/0/2", "/9/0/4",
					     "/9/0/8/2", "/9/1/1", "/5/0/1", NULL };
	struct attr_store *t = attr_store_new(NULL);
	struct buf b;

	assert_non_null(t);
	assert_int_equal(wa(f, "/9", "pmin=1&pmax=100"), 0);
	assert_int_equal(wa(f, "/9/0", "epmin=2&epmax=20"), 0);
	assert_int_equal(wa(f, "/9/0/1", "gt=50.5&lt=-3&st=0.25&pmin=0"), 0);
	assert_int_equal(wa(f, "/9/0/2", "gt=0.1"), 0);
	assert_int_equal(wa12(f, "/9/0/4", "con=1&hqmax=2"), 0);
	assert_int_equal(wa(f, "/9/0/8/2", "pmax=7"), 0);
	buf_init(&b);
	assert_int_equal(attr_save(f->s, &b), 0);
	assert_int_equal(attr_load(t, (const char *)b.p, b.len, &f->err), 0);
	assert_same_store(f->s, t, paths);
	buf_fini(&b);
	attr_store_free(t);

	/* an empty store saves as an empty list and loads as nothing */
	t = attr_store_new(NULL);
	buf_init(&b);
	assert_int_equal(attr_save(t, &b), 0);
	assert_string_equal(buf_str(&b), "[]");
	assert_int_equal(attr_load(t, "[]", 2, &f->err), 0);
	assert_null(attr_get(t, &(struct dm_path){ .len = 0 }));
	buf_fini(&b);
	attr_store_free(t);
}

static void test_state_folder(void **state)
{
	struct fx *f = *state;
	static const char *const paths[] = { "/9", "/9/0/1", "/9/0/2", NULL };
	struct attr_store *a = attr_store_new(f->dir), *b;
	struct errbuf err;
	struct buf file;

	assert_non_null(a);
	assert_int_equal(wa_on(f, a, "/9", "pmax=100", false), 0);
	assert_int_equal(wa_on(f, a, "/9/0/1", "gt=50", false), 0);
	assert_int_equal(wa_on(f, a, "/9/0/2", "pmin=2&pmax=3", false), 0);
	/* every change is on disk at once: a second store sees it */
	b = attr_store_new(f->dir);
	assert_non_null(b);
	assert_same_store(a, b, paths);
	attr_store_free(b);
	/* a refused request leaves the file alone */
	buf_init(&file);
	assert_int_equal(store_read(f->dir, "attributes.json", &file, &err), 0);
	assert_int_equal(wa_on(f, a, "/9/0/2", "pmin=10", false), LWM_EBADREQ);
	{
		struct buf again;

		buf_init(&again);
		assert_int_equal(store_read(f->dir, "attributes.json", &again, &err), 0);
		assert_string_equal(buf_str(&file), buf_str(&again));
		buf_fini(&again);
	}
	buf_fini(&file);
	/* an unset is kept too */
	assert_int_equal(wa_on(f, a, "/9/0/2", "pmin&pmax", false), 0);
	b = attr_store_new(f->dir);
	assert_null(attr_get(b, &(struct dm_path){ .id = { 9, 0, 2 }, .len = 3 }));
	assert_same_store(a, b, paths);
	attr_store_free(b);
	attr_store_free(a);
}

static void write_file(struct fx *f, const char *text)
{
	struct errbuf err;

	assert_int_equal(store_write(f->dir, "attributes.json", text, strlen(text), &err), 0);
}

static void test_damaged_state_file(void **state)
{
	struct fx *f = *state;
	static const char *const damaged[] = {
		"{not json",
		"",
		"{\"path\":\"/9\",\"query\":\"pmin=1\"}",
		"[{\"path\":5,\"query\":\"pmin=1\"}]",
		"[{\"path\":\"/9/0/1\"}]",
		"[{\"path\":\"/9/x\",\"query\":\"pmin=1\"}]",
		"[{\"path\":\"/9/0/1\",\"query\":\"pmin=1\"}, 7]",
		"\xff\xfe\x00garbage",
	};
	size_t i;

	for (i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		struct attr_store *s;
		struct errbuf err = { "" };
		struct attr_store *t = attr_store_new(NULL);

		/* attr_load says so */
		if (attr_load(t, damaged[i], strlen(damaged[i]), &err) != LWM_EBADREQ)
			fail_msg("damaged[%zu] loaded without an error", i);
		assert_true(err.msg[0] != 0);
		attr_store_free(t);
		/* the store starts empty rather than half-loaded, and works */
		write_file(f, damaged[i]);
		s = attr_store_new(f->dir);
		assert_non_null(s);
		assert_null(attr_get(s, &(struct dm_path){ .id = { 9, 0, 1 }, .len = 3 }));
		assert_null(attr_get(s, &(struct dm_path){ .id = { 9 }, .len = 1 }));
		assert_int_equal(wa_on(f, s, "/9/0/1", "pmin=3", false), 0);
		attr_store_free(s);
		s = attr_store_new(f->dir);
		assert_int_equal(attr_get(s, &(struct dm_path){ .id = { 9, 0, 1 }, .len = 3 })->pmin, 3);
		attr_store_free(s);
	}
}

static void test_load_skips_bad_queries(void **state)
{
	struct fx *f = *state;
	static const char json[] = "[{\"path\":\"/9/0/1\",\"query\":\"pmin=abc\"},"
				   "{\"path\":\"/9/0/2\",\"query\":\"foo=1\"},"
				   "{\"path\":\"/9/0/3\",\"query\":\"\"},"
				   "{\"path\":\"/9\",\"query\":\"pmax=30\"}]";
	struct attrs a;

	assert_int_equal(attr_load(f->s, json, strlen(json), &f->err), 0);
	assert_null(get(f, "/9/0/1"));
	assert_null(get(f, "/9/0/2"));
	assert_null(get(f, "/9/0/3"));
	assert_int_equal(get(f, "/9")->pmax, 30);
	effective(f, "/9/0/1", 0, 0, &a);
	assert_int_equal(a.set, ATTR_PMAX);
}

/* ---- forgetting ------------------------------------------------------- */

static void test_forget(void **state)
{
	struct fx *f = *state;
	struct attr_store *s = attr_store_new(f->dir), *again;

	assert_int_equal(wa_on(f, s, "/9", "pmin=1", false), 0);
	assert_int_equal(wa_on(f, s, "/9/0", "pmin=2", false), 0);
	assert_int_equal(wa_on(f, s, "/9/0/1", "pmin=3", false), 0);
	assert_int_equal(wa_on(f, s, "/9/0/8/1", "pmin=4", false), 0);
	assert_int_equal(wa_on(f, s, "/9/1/1", "pmin=5", false), 0);
	/* an instance went away: it and everything under it */
	attr_forget(s, &(struct dm_path){ .id = { 9, 0 }, .len = 2 });
	assert_null(attr_get(s, &(struct dm_path){ .id = { 9, 0 }, .len = 2 }));
	assert_null(attr_get(s, &(struct dm_path){ .id = { 9, 0, 1 }, .len = 3 }));
	assert_null(attr_get(s, &(struct dm_path){ .id = { 9, 0, 8, 1 }, .len = 4 }));
	assert_int_equal(attr_get(s, &(struct dm_path){ .id = { 9 }, .len = 1 })->pmin, 1);
	assert_int_equal(attr_get(s, &(struct dm_path){ .id = { 9, 1, 1 }, .len = 3 })->pmin, 5);
	/* and it stays forgotten after a restart */
	again = attr_store_new(f->dir);
	assert_null(attr_get(again, &(struct dm_path){ .id = { 9, 0, 1 }, .len = 3 }));
	assert_int_equal(attr_get(again, &(struct dm_path){ .id = { 9, 1, 1 }, .len = 3 })->pmin, 5);
	attr_store_free(again);
	/* a path with nothing under it changes nothing */
	attr_forget(s, &(struct dm_path){ .id = { 7 }, .len = 1 });
	assert_non_null(attr_get(s, &(struct dm_path){ .id = { 9 }, .len = 1 }));
	/* the root: everything */
	attr_forget(s, &(struct dm_path){ .len = 0 });
	assert_null(attr_get(s, &(struct dm_path){ .id = { 9 }, .len = 1 }));
	assert_null(attr_get(s, &(struct dm_path){ .id = { 9, 1, 1 }, .len = 3 }));
	attr_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_attribute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_are_whole_or_decimal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bare_name_unsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lt_st_gt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pmin_pmax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epmin_epmax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conditions_on_numeric_resources_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_v12_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge_is_for_boolean_resources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inheritance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conditions_not_inherited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_load_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_state_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_skips_bad_queries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
