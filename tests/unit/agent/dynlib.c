/* Unit tests for agent/dynlib.c: real dlopen of real libraries. */
#include "../../../agent/dynlib.c"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define M_FUNCS(X) X(cos) X(sqrt)
static struct { M_FUNCS(DYNLIB_MEMBER) } libm_tab;
#define M_SYM(f) DYNLIB_ENTRY(libm_tab, f)
static const struct dynlib_sym m_syms[] = { M_FUNCS(M_SYM) };

static void test_loads_and_calls(void **state)
{
	struct errbuf err = { "" };

	assert_int_equal(dynlib_load("libm.so.6", "libc6", m_syms, 2, &err), 0);
	assert_non_null(libm_tab.p_cos);
	assert_true(libm_tab.p_sqrt(16.0) == 4.0);
	assert_true(libm_tab.p_cos(0.0) == 1.0);
	/* a second call keeps what the first resolved */
	assert_int_equal(dynlib_load("libm.so.6", "libc6", m_syms, 2, &err), 0);
}

static void test_missing_library_named(void **state)
{
	static struct { M_FUNCS(DYNLIB_MEMBER) } tab;
#define T_SYM(f) DYNLIB_ENTRY(tab, f)
	static const struct dynlib_sym syms[] = { M_FUNCS(T_SYM) };
	struct errbuf err = { "" };

	assert_int_equal(dynlib_load("libnothere.so.9", "libnothere9", syms, 2, &err), -ENOSYS);
	assert_non_null(strstr(err.msg, "cannot load libnothere.so.9 (Debian package libnothere9)"));
	assert_null(tab.p_cos);
}

static void test_missing_symbol_leaves_nothing(void **state)
{
	static struct { double (*p_cos)(double); void (*p_no_such_function_here)(void); } tab;
	static const struct dynlib_sym syms[] = {
		{ "cos", &tab.p_cos }, { "no_such_function_here", &tab.p_no_such_function_here },
	};
	struct errbuf err = { "" };

	assert_int_equal(dynlib_load("libm.so.6", "libc6", syms, 2, &err), -ENOSYS);
	assert_non_null(strstr(err.msg, "libm.so.6 has no no_such_function_here"));
	assert_null(tab.p_cos);         /* not half loaded: the next call tries again */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads_and_calls),
		cmocka_unit_test(test_missing_library_named),
		cmocka_unit_test(test_missing_symbol_leaves_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
