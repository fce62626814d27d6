/* Unit tests for objects/connstat.c: Start/Stop/Collection Period, counters
 * relative to Start over a change of interface, message sizes, and the
 * state file across restarts and reboots.  Connectivity Monitoring is
 * replaced by a stand-in whose interface counters the tests set. */
#include "../../../objects/connstat.c"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "dm_req.h"

/* ---- a stand-in for connmon ------------------------------------------- */

static struct connmon_link fake_link;   /* what connmon_link() answers */
static void (*link_hook)(void *arg, const struct connmon_link *old,
			 const struct connmon_link *now);
static void *link_hook_arg;

int connmon_link(struct dm_obj *connmon, struct connmon_link *out)
{
	*out = fake_link;
	return 0;
}

void connmon_set_link_hook(struct dm_obj *connmon,
			   void (*fn)(void *arg, const struct connmon_link *old,
				      const struct connmon_link *now), void *arg)
{
	link_hook = fn;
	link_hook_arg = arg;
}

/* The interface changes: connmon tells the hook, then answers for the new one. */
static void switch_link(struct connmon_link old, struct connmon_link now)
{
	fake_link = now;
	if (link_hook)
		link_hook(link_hook_arg, &old, &now);
}

static const struct dm_res_def no_res[1];
static struct dm_obj fake_connmon = { .oid = 4, .res = no_res, .nres = 0 };

/* ---- fixture ---------------------------------------------------------- */

struct fixture {
	struct agent ag;
	struct cfg cfg;
	struct dm_obj *obj;
	struct connstat *cs;
	struct dm_recs recs;
	char state[64];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void open_obj(struct fixture *f)
{
	f->obj = connstat_obj_new(&f->ag);
	assert_non_null(f->obj);
	assert_int_equal(dm_register(f->ag.dm, f->obj), 0);
	f->cs = container_of(f->obj, struct connstat, obj);
}

static void close_obj(struct fixture *f)
{
	dm_unregister(f->ag.dm, f->obj);
	connstat_obj_free(f->obj);
	f->obj = NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->state, "/tmp/lwm2md-connstat-XXXXXX");
	assert_non_null(mkdtemp(f->state));
	f->cfg.state_dir = f->state;
	f->ag.cfg = &f->cfg;
	f->ag.dm = dm_new();
	assert_non_null(f->ag.dm);
	fake_connmon.insts = NULL;
	assert_int_equal(dm_register(f->ag.dm, &fake_connmon), 0);
	fake_link = (struct connmon_link){ .ifindex = 3, .tx_bytes = 100000, .rx_bytes = 200000 };
	link_hook = NULL;
	open_obj(f);
	dm_recs_init(&f->recs);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dm_recs_fini(&f->recs);
	if (f->obj)
		close_obj(f);
	dm_unregister(f->ag.dm, &fake_connmon);
	dm_free(f->ag.dm);
	nftw(f->state, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int64_t rd(struct fixture *f, uint16_t rid)
{
	struct dm_path p = { .id = { 7, 0, rid }, .len = 3 };

	dm_recs_fini(&f->recs);
	dm_recs_init(&f->recs);
	assert_int_equal(dm_read(f->ag.dm, &p, false, &f->recs), 0);
	assert_int_equal(f->recs.n, 1);
	assert_int_equal(f->recs.r[0].v.type, DM_T_INT);
	return f->recs.r[0].v.i;
}

static int exec(struct fixture *f, uint16_t rid)
{
	return f->obj->ops->execute(f->obj, f->obj->insts, rid, "", 0);
}

static int write_period(struct fixture *f, int64_t s)
{
	struct dm_value v = dm_int(s);

	return f->obj->ops->write(f->obj, f->obj->insts, OMA_7_COLLECTION_PERIOD, DM_NONE, &v);
}

static void traffic(uint64_t tx, uint64_t rx)
{
	fake_link.tx_bytes += tx;
	fake_link.rx_bytes += rx;
}

static void msg(struct fixture *f, size_t len, bool tx)
{
	assert_non_null(f->ag.msg_hook);
	f->ag.msg_hook(f->ag.msg_hook_arg, len, tx);
}

/* ---- tests ------------------------------------------------------------ */

static void test_nothing_before_start(void **state)
{
	struct fixture *f = *state;
	uint16_t rid;

	traffic(50000, 50000);
	msg(f, 500, true);
	for (rid = 0; rid <= 5; rid++)
		assert_int_equal(rd(f, rid), 0);
	assert_int_equal(rd(f, OMA_7_COLLECTION_PERIOD), 0);
	/* Start and Stop are not readable */
	assert_int_equal(exec(f, OMA_7_SMS_TX_COUNTER), LWM_ENOTALLOWED);
}

static void test_counts_from_start(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(exec(f, OMA_7_START), 0);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 0);
	traffic(5 * 1024 + 1023, 3 * 1024);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 5);      /* whole kB, rounded down */
	assert_int_equal(rd(f, OMA_7_RX_DATA), 3);
	assert_int_equal(rd(f, OMA_7_SMS_TX_COUNTER), 0);
	assert_int_equal(rd(f, OMA_7_SMS_RX_COUNTER), 0);
	msg(f, 100, true);
	msg(f, 301, false);
	msg(f, 50, true);
	assert_int_equal(rd(f, OMA_7_MAX_MESSAGE_SIZE), 301);
	assert_int_equal(rd(f, OMA_7_AVERAGE_MESSAGE_SIZE), 150);       /* 451 / 3 */
}

static void test_stop_keeps_start_resets(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(exec(f, OMA_7_START), 0);
	traffic(4096, 2048);
	msg(f, 200, true);
	assert_int_equal(exec(f, OMA_7_STOP), 0);
	traffic(40960, 40960);
	msg(f, 1000, true);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 4);
	assert_int_equal(rd(f, OMA_7_RX_DATA), 2);
	assert_int_equal(rd(f, OMA_7_MAX_MESSAGE_SIZE), 200);
	assert_int_equal(exec(f, OMA_7_STOP), 0);               /* again: nothing changes */
	assert_int_equal(rd(f, OMA_7_TX_DATA), 4);
	assert_int_equal(exec(f, OMA_7_START), 0);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 0);
	assert_int_equal(rd(f, OMA_7_MAX_MESSAGE_SIZE), 0);
	assert_int_equal(rd(f, OMA_7_AVERAGE_MESSAGE_SIZE), 0);
}

static void test_interface_change(void **state)
{
	struct fixture *f = *state;
	struct connmon_link old;

	assert_int_equal(exec(f, OMA_7_START), 0);
	traffic(2048, 1024);
	/* the route moves to interface 5, whose counters are its own */
	old = fake_link;
	switch_link(old, (struct connmon_link){ 5, 7777777, 8888888 });
	assert_int_equal(rd(f, OMA_7_TX_DATA), 2);
	traffic(3072, 1024);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 5);
	assert_int_equal(rd(f, OMA_7_RX_DATA), 2);
	/* no route for a while: what was counted stays */
	old = fake_link;
	traffic(1024, 0);
	old.tx_bytes += 1024;   /* carried before it went, read at the change */
	switch_link(old, (struct connmon_link){ 0 });
	assert_int_equal(rd(f, OMA_7_TX_DATA), 6);
	switch_link((struct connmon_link){ 0 }, (struct connmon_link){ 3, 500000, 500000 });
	traffic(1024, 1024);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 7);
	assert_int_equal(rd(f, OMA_7_RX_DATA), 3);
	/* counters that went backwards (a driver reset) count as nothing */
	fake_link.tx_bytes = 0;
	assert_int_equal(rd(f, OMA_7_TX_DATA), 6);
}

static void test_period(void **state)
{
	struct fixture *f = *state;
	int64_t before = loop_wall();

	assert_int_equal(write_period(f, -1), LWM_EBADREQ);
	assert_int_equal(write_period(f, 60), 0);
	assert_int_equal(rd(f, OMA_7_COLLECTION_PERIOD), 60);
	assert_int_equal(exec(f, OMA_7_START), 0);
	assert_true(f->cs->until >= before + 60000 && f->cs->until <= loop_wall() + 60000);
	/* a write applies to the next collection */
	assert_int_equal(write_period(f, 0), 0);
	assert_true(f->cs->until >= before + 60000);
	traffic(2048, 0);
	on_period_end(&f->cs->timer);
	assert_false(f->cs->collecting);
	traffic(2048, 0);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 2);
	assert_int_equal(exec(f, OMA_7_START), 0);
	assert_int_equal(f->cs->until, 0);      /* period 0: until Stop */
}

static void test_restart_same_boot(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(write_period(f, 3600), 0);
	assert_int_equal(exec(f, OMA_7_START), 0);
	traffic(2048, 1024);
	msg(f, 400, false);
	close_obj(f);
	/* lwm2md is down; the kernel keeps counting */
	traffic(1024, 1024);
	open_obj(f);
	/* connmon's first look: the same interface as before */
	switch_link((struct connmon_link){ 0 }, fake_link);
	traffic(1024, 0);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 4);
	assert_int_equal(rd(f, OMA_7_RX_DATA), 2);
	assert_int_equal(rd(f, OMA_7_MAX_MESSAGE_SIZE), 400);
	assert_int_equal(rd(f, OMA_7_COLLECTION_PERIOD), 3600);
	assert_true(f->cs->collecting);
}

static void rewrite_state(struct fixture *f, const char *key, json_t *v)
{
	char p[256];
	json_t *j;

	snprintf(p, sizeof(p), "%s/%s", f->state, STATE_FILE);
	j = json_load_file(p, 0, NULL);
	assert_non_null(j);
	json_object_set_new(j, key, v);
	assert_int_equal(json_dump_file(j, p, 0), 0);
	json_decref(j);
}

static void test_restart_after_reboot(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(exec(f, OMA_7_START), 0);
	traffic(3072, 0);
	close_obj(f);
	rewrite_state(f, "boot_id", json_string("another-boot"));
	/* after a reboot the interface counts from zero */
	fake_link = (struct connmon_link){ .ifindex = 2, .tx_bytes = 2048, .rx_bytes = 1024 };
	open_obj(f);
	switch_link((struct connmon_link){ 0 }, fake_link);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 3 + 2);
	assert_int_equal(rd(f, OMA_7_RX_DATA), 1);
	/* and only the first time */
	switch_link(fake_link, (struct connmon_link){ 4, 9999, 9999 });
	assert_int_equal(rd(f, OMA_7_TX_DATA), 5);
}

static void test_period_ended_while_down(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(write_period(f, 10), 0);
	assert_int_equal(exec(f, OMA_7_START), 0);
	traffic(1024, 0);
	close_obj(f);
	rewrite_state(f, "until", json_integer(loop_wall() - 1000));
	traffic(8192, 0);
	open_obj(f);
	assert_false(f->cs->collecting);
	assert_int_equal(rd(f, OMA_7_TX_DATA), 1);
}

static void test_damaged_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(write_period(f, 10), 0);
	close_obj(f);
	rewrite_state(f, "period", json_string("ten"));
	open_obj(f);
	assert_int_equal(rd(f, OMA_7_COLLECTION_PERIOD), 0);
	close_obj(f);
	rewrite_state(f, "period", json_integer(5));
	rewrite_state(f, "tx", json_integer(-5));
	open_obj(f);
	assert_int_equal(rd(f, OMA_7_COLLECTION_PERIOD), 0);
}

static void test_hooks_released(void **state)
{
	struct fixture *f = *state;

	assert_ptr_equal(f->ag.msg_hook_arg, f->cs);
	assert_ptr_equal(link_hook_arg, f->cs);
	close_obj(f);
	assert_null(f->ag.msg_hook);
	assert_null(link_hook);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nothing_before_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_from_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_keeps_start_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interface_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_same_boot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_after_reboot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_period_ended_while_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_released, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
