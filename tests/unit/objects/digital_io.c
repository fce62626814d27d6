/* Unit tests for the debounce and edge counting of objects/digital_io.c:
 * levels fed with explicit times, as edges and samples would bring them. */
#include "../../../objects/digital_io.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_debounce_zero_takes_every_edge(void **state)
{
	struct debounce d = { 0 };

	assert_true(debounce_feed(&d, true, 100, 0));
	assert_true(d.stable);
	assert_true(debounce_feed(&d, false, 100, 0));   /* the same millisecond */
	assert_false(d.stable);
	assert_false(debounce_feed(&d, false, 101, 0));  /* no change */
}

static void test_debounce_needs_the_level_to_hold(void **state)
{
	struct debounce d = { 0 };

	/* a bouncing contact: up, down, up within 20 ms */
	assert_false(debounce_feed(&d, true, 1000, 20));
	assert_false(debounce_feed(&d, false, 1003, 20));
	assert_false(debounce_feed(&d, true, 1007, 20));
	assert_false(debounce_settle(&d, 1020, 20));     /* 13 ms since the last edge */
	assert_false(d.stable);
	assert_true(debounce_settle(&d, 1027, 20));      /* held 20 ms: accepted */
	assert_true(d.stable);
	assert_false(debounce_settle(&d, 1100, 20));
	/* a glitch shorter than the debounce never counts */
	assert_false(debounce_feed(&d, false, 2000, 20));
	assert_false(debounce_feed(&d, true, 2005, 20));
	assert_false(debounce_settle(&d, 2100, 20));
	assert_true(d.stable);
	/* a sample that sees the level long after the edge accepts it at once */
	assert_true(debounce_feed(&d, false, 3000, 0));
}

static struct sensor *input(uint8_t edge, uint32_t debounce_ms, bool polarity)
{
	static struct sensor s;

	memset(&s, 0, sizeof(s));
	s.edge = edge;
	s.debounce_ms = debounce_ms;
	s.polarity = polarity;
	return &s;
}

static void test_counting_by_edge_selection(void **state)
{
	struct sensor *s = input(2, 0, false);
	uint64_t t = loop_now();

	assert_true(digital_input_level(s, false, t));  /* the starting level */
	assert_int_equal(s->counter, 0);
	assert_true(digital_input_level(s, true, t + 1));
	assert_true(digital_input_level(s, false, t + 2));
	assert_true(digital_input_level(s, true, t + 3));
	assert_int_equal(s->counter, 2);                /* rising edges */
	assert_false(digital_input_level(s, true, t + 4));
	s->edge = 1;
	assert_true(digital_input_level(s, false, t + 5));
	assert_int_equal(s->counter, 3);                /* and now a falling one */
	s->edge = 3;
	assert_true(digital_input_level(s, true, t + 6));
	assert_true(digital_input_level(s, false, t + 7));
	assert_int_equal(s->counter, 5);
}

static void test_polarity_and_debounce(void **state)
{
	struct sensor *s = input(2, 50, true);
	uint64_t t = loop_now();

	/* reversed: a low line is the active state */
	assert_true(digital_input_level(s, false, t));
	assert_true(s->state);
	assert_int_equal(s->counter, 0);
	assert_false(digital_input_level(s, true, t + 10));     /* waits for 50 ms */
	assert_int_equal(digital_input_due(s), t + 60);
	assert_false(digital_input_settle(s, t + 40));
	assert_true(digital_input_settle(s, t + 60));
	assert_false(s->state);
	assert_int_equal(digital_input_due(s), 0);
	assert_false(digital_input_level(s, false, t + 100));
	assert_true(digital_input_settle(s, t + 150));
	assert_true(s->state);
	assert_int_equal(s->counter, 1);                /* became active once */
	/* On/Off time: time spent in each state */
	assert_int_equal(s->off_ms, 90);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debounce_zero_takes_every_edge),
		cmocka_unit_test(test_debounce_needs_the_level_to_hold),
		cmocka_unit_test(test_counting_by_edge_selection),
		cmocka_unit_test(test_polarity_and_debounce),
	};

	return cmocka_run_group_tests_name("objects/digital_io", tests, NULL, NULL);
}
