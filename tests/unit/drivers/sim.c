/* Unit tests for drivers/sim.c: each waveform stays where it should, the
 * keys are checked, three axes are phase-shifted, outputs read back. */
#include "../../../drivers/sim.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util.h"

static struct drv_channel *open_sim(struct section *sec, const char *const *pairs)
{
	struct errbuf err = { "" };
	struct drv_channel *ch;
	int rc;

	section_init(sec, pairs);
	ch = drv_open(&drv_sim, &sec->s, 0, &rc, &err);
	if (!ch)
		fail_msg("open: %s", err.msg);
	return ch;
}

/* Reads n values spread over the wave by moving the start back. */
static void sweep(struct drv_channel *ch, double *lo, double *hi, int n, uint64_t span_ms)
{
	struct sim *s = ch->priv;
	struct errbuf err;
	double v;
	int i;

	*lo = INFINITY;
	*hi = -INFINITY;
	for (i = 0; i < n; i++) {
		s->t0 = now_ms() - span_ms * (uint64_t)i / (uint64_t)n;
		assert_int_equal(drv_sim.read(ch, &v, &err), 0);
		*lo = v < *lo ? v : *lo;
		*hi = v > *hi ? v : *hi;
	}
}

static void test_constant(void **state)
{
	struct section sec;
	struct drv_channel *ch = open_sim(&sec, (const char *[]){ "value=21.5", NULL });
	struct errbuf err;
	double v;

	assert_int_equal(drv_sim.read(ch, &v, &err), 0);
	assert_true(v == 21.5);
	assert_string_equal(ch->desc, "sim constant");
	drv_close(ch);
}

static void test_sine_ramp_square(void **state)
{
	struct section sec;
	struct drv_channel *ch;
	double lo, hi;

	ch = open_sim(&sec, (const char *[]){ "waveform=sine", "value=20", "amplitude=5",
					      "wave_period=10", NULL });
	sweep(ch, &lo, &hi, 200, 10000);
	assert_true(lo >= 15 - 1e-9 && lo < 15.1);
	assert_true(hi <= 25 + 1e-9 && hi > 24.9);
	drv_close(ch);

	ch = open_sim(&sec, (const char *[]){ "waveform=ramp", "value=0", "amplitude=100",
					      "wave_period=4", NULL });
	sweep(ch, &lo, &hi, 400, 4000);
	assert_true(lo >= 0 && lo < 1);
	assert_true(hi < 100 && hi > 99);
	drv_close(ch);

	ch = open_sim(&sec, (const char *[]){ "waveform=square", "value=0", "amplitude=1",
					      "wave_period=2", NULL });
	sweep(ch, &lo, &hi, 100, 2000);
	assert_true(lo == 0 && hi == 1);
	drv_close(ch);
}

static void test_random_walk_stays_in_bounds(void **state)
{
	struct section sec;
	struct drv_channel *ch = open_sim(&sec, (const char *[]){ "waveform=random", "value=50",
								   "amplitude=3", "step=2", NULL });
	struct errbuf err;
	double v, prev = 50;
	int i, moved = 0;

	for (i = 0; i < 10000; i++) {
		assert_int_equal(drv_sim.read(ch, &v, &err), 0);
		assert_true(v >= 47 && v <= 53);
		assert_true(fabs(v - prev) <= 2 + 1e-9);
		moved += v != prev;
		prev = v;
	}
	assert_true(moved > 5000);      /* clamped at a bound, it may repeat */
	drv_close(ch);
}

static void test_three_axes_are_a_third_apart(void **state)
{
	struct section sec;
	struct drv_channel *ch;
	struct errbuf err;
	double v[3];

	section_init(&sec, (const char *[]){ "waveform=ramp", "value=0", "amplitude=3",
					     "wave_period=3", NULL });
	sec.s.axes = 3;
	ch = drv_open(&drv_sim, &sec.s, 0, NULL, &err);
	assert_non_null(ch);
	((struct sim *)ch->priv)->t0 = now_ms();
	assert_int_equal(drv_sim.read(ch, v, &err), 0);
	assert_true(v[0] < 0.1);
	assert_true(fabs(v[1] - 1) < 0.1 && fabs(v[2] - 2) < 0.1);
	drv_close(ch);
}

static void test_output_reads_back(void **state)
{
	struct section sec;
	struct drv_channel *ch;
	struct errbuf err;
	double v;

	section_init(&sec, NULL);
	sec.s.output = true;
	ch = drv_open(&drv_sim, &sec.s, 1, NULL, &err);
	assert_non_null(ch);
	assert_int_equal(drv_sim.read(ch, &v, &err), 0);
	assert_true(v == 1);
	assert_int_equal(drv_sim.write(ch, 0, &err), 0);
	assert_int_equal(drv_sim.read(ch, &v, &err), 0);
	assert_true(v == 0);
	drv_close(ch);
}

static void expect_bad(const char *const *pairs, const char *key, const char *msg)
{
	struct drv_info info = { 0 };
	struct errbuf err = { "" };
	struct section sec;
	const char *bad = NULL;

	section_init(&sec, pairs);
	assert_int_equal(drv_sim.check(&sec.s, &info, &bad, &err), -EINVAL);
	assert_string_equal(bad, key);
	assert_string_equal(err.msg, msg);
}

static void test_check(void **state)
{
	struct drv_info info = { 0 };
	struct errbuf err = { "" };
	struct section sec;
	const char *bad = NULL;

	section_init(&sec, (const char *[]){ "waveform=sine", NULL });
	assert_int_equal(drv_sim.check(&sec.s, &info, &bad, &err), 0);
	assert_int_equal(info.qty, DRV_Q_ANY);
	expect_bad((const char *[]){ "waveform=saw", NULL }, "waveform",
		   "expected constant, sine, ramp, random or square");
	expect_bad((const char *[]){ "value=warm", NULL }, "value", "expected a number");
	expect_bad((const char *[]){ "wave_period=0", NULL }, "wave_period",
		   "out of range (0.1..31536000 s)");
	expect_bad((const char *[]){ "step=-1", NULL }, "step", "expected a number >= 0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constant),
		cmocka_unit_test(test_sine_ramp_square),
		cmocka_unit_test(test_random_walk_stays_in_bounds),
		cmocka_unit_test(test_three_axes_are_a_third_apart),
		cmocka_unit_test(test_output_reads_back),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests_name("drivers/sim", tests, NULL, NULL);
}
