/* Unit tests for agent/hook.c: real /bin/sh children under the real loop. */
#include "../../../agent/hook.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

struct fixture {
	struct agent ag;
	struct cfg cfg;
	struct loop_timer watchdog;
	int calls, status;
	char *name;             /* as passed to done, copied */
	FILE *log;              /* stderr while a test runs */
	int saved_stderr;
};

static struct fixture *fx;

static void on_done(struct agent *ag, const char *name, int status)
{
	fx->calls++;
	fx->status = status;
	free(fx->name);
	fx->name = strdup(name);
	loop_stop(ag->loop);
}

static void watchdog(struct loop_timer *t)
{
	fail_msg("hook did not finish in time");
}

static int setup(void **state)
{
	fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	fx->ag.cfg = &fx->cfg;
	fx->ag.loop = loop_new();
	fx->cfg.hooks.timeout = 10;
	fx->watchdog.cb = watchdog;
	fx->status = -2;
	/* Log lines (and the hooks' own output) go to a file the test reads. */
	fflush(stderr);
	fx->log = tmpfile();
	fx->saved_stderr = dup(2);
	if (!fx->ag.loop || !fx->log || fx->saved_stderr < 0 || dup2(fileno(fx->log), 2) < 0)
		return -1;
	*state = fx;
	return 0;
}

static char *logged(void);

static int teardown(void **state)
{
	char *s = logged();

	/* Replayed on the real stderr: cmocka's own failure messages are in it. */
	dup2(fx->saved_stderr, 2);
	close(fx->saved_stderr);
	fputs(s, stderr);
	free(s);
	fclose(fx->log);
	assert_null(runs);
	loop_free(fx->ag.loop);
	free(fx->name);
	free(fx);
	fx = NULL;
	return 0;
}

/* Everything logged so far, as one string (freed by the caller). */
static char *logged(void)
{
	long n;
	char *s;

	fflush(stderr);
	n = lseek(fileno(fx->log), 0, SEEK_END);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(pread(fileno(fx->log), s, (size_t)n, 0), n);
	return s;
}

static void assert_logged(const char *what)
{
	char *s = logged();

	if (!strstr(s, what))
		fail_msg("log has no \"%s\":\n%s", what, s);
	free(s);
}

/* Runs cmd to its end; returns the seconds it took. */
static double run(const char *cmd)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(hook_run(&fx->ag, "reboot", cmd, on_done), 0);
	loop_timer_set(fx->ag.loop, &fx->watchdog, 15000);
	assert_int_equal(loop_run(fx->ag.loop), 0);
	loop_timer_cancel(fx->ag.loop, &fx->watchdog);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->name, "reboot");
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void test_exit_status(void **state)
{
	run("exit 3");
	assert_true(WIFEXITED(fx->status));
	assert_int_equal(WEXITSTATUS(fx->status), 3);
	assert_logged("hook reboot: started: exit 3");
	assert_logged("hook reboot: exited with status 3");
}

static void test_success(void **state)
{
	run("true");
	assert_true(WIFEXITED(fx->status));
	assert_int_equal(WEXITSTATUS(fx->status), 0);
	assert_logged("hook reboot: exited with status 0");
}

/* stdin is /dev/null, the child leads its own process group, and no signal
 * the daemon blocks for its signalfd stays blocked in the hook. The mask is
 * read by what the shell finally execs: dash blocks every signal of its own
 * while it waits for a child, so its /proc/$$/status is a racy witness. */
static void test_child_environment(void **state)
{
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	run("test \"$(readlink /proc/self/fd/0)\" = /dev/null || exit 10; "
	    "set -- $(cat /proc/$$/stat); test \"$5\" = \"$$\" || exit 11; "
	    "exec grep -q '^SigBlk:[[:space:]]*0*$' /proc/self/status");
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_true(WIFEXITED(fx->status));
	assert_int_equal(WEXITSTATUS(fx->status), 0);
}

static void test_timeout_sigterm(void **state)
{
	double took;

	fx->cfg.hooks.timeout = 1;
	took = run("sleep 30");
	assert_true(took >= 0.9 && took < 4);
	assert_true(WIFSIGNALED(fx->status));
	assert_int_equal(WTERMSIG(fx->status), SIGTERM);
	assert_logged("hook reboot: killed after 1 s");
}

static void test_timeout_sigkill(void **state)
{
	double took;

	fx->cfg.hooks.timeout = 1;
	took = run("trap '' TERM; sleep 30; sleep 30");
	assert_true(took >= 0.9 + HOOK_GRACE_MS / 1000.0 && took < 10);
	assert_true(WIFSIGNALED(fx->status));
	assert_int_equal(WTERMSIG(fx->status), SIGKILL);
	assert_logged("hook reboot: killed after 1 s");
}

static void test_no_command(void **state)
{
	assert_int_equal(hook_run(&fx->ag, "reboot", "", on_done), -EINVAL);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->status, -1);
	assert_int_equal(hook_run(&fx->ag, "reboot", NULL, NULL), -EINVAL);
	assert_logged("hook reboot: no command configured");
}

/* At shutdown a running hook is left to finish and its state freed. */
static void test_fini(void **state)
{
	pid_t pid;

	assert_int_equal(hook_run(&fx->ag, "reboot", "sleep 30", on_done), 0);
	assert_non_null(runs);
	pid = runs->pid;
	hook_fini(&fx->ag);
	assert_null(runs);
	assert_int_equal(fx->calls, 0);
	assert_int_equal(kill(-pid, SIGKILL), 0);     /* still running */
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_logged("left to finish");
}

static struct hook_result last;
static char last_out[8192];

static void on_done_opts(struct agent *ag, const char *name, const struct hook_result *r)
{
	fx->calls++;
	last = *r;
	snprintf(last_out, sizeof(last_out), "%s", r->out);
	last.out = last_out;
	loop_stop(ag->loop);
}

static void run_opts(const char *cmd, const struct hook_opts *o)
{
	assert_int_equal(hook_run_opts(&fx->ag, "probe", cmd, o, on_done_opts), 0);
	loop_timer_set(fx->ag.loop, &fx->watchdog, 30000);
	assert_int_equal(loop_run(fx->ag.loop), 0);
	loop_timer_cancel(fx->ag.loop, &fx->watchdog);
	assert_int_equal(fx->calls, 1);
}

/* stdout is kept for the callback; stderr still goes to the daemon's. */
static void test_capture(void **state)
{
	run_opts("echo ustate=2; echo to-stderr >&2; exit 4", &(struct hook_opts){ .capture = 64 });
	assert_false(last.timed_out);
	assert_true(WIFEXITED(last.status));
	assert_int_equal(WEXITSTATUS(last.status), 4);
	assert_string_equal(last.out, "ustate=2\n");
	assert_logged("to-stderr");
}

/* Past the limit the output is read and dropped: a child writing far more
 * than a pipe holds still finishes. */
static void test_capture_limit(void **state)
{
	run_opts("head -c 1000000 /dev/zero | tr '\\0' x; echo", &(struct hook_opts){ .capture = 10 });
	assert_true(WIFEXITED(last.status));
	assert_int_equal(WEXITSTATUS(last.status), 0);
	assert_string_equal(last.out, "xxxxxxxxxx");
}

/* The run's own timeout wins over [hooks] timeout, and the callback says so. */
static void test_own_timeout(void **state)
{
	fx->cfg.hooks.timeout = 3600;
	run_opts("exec sleep 60", &(struct hook_opts){ .timeout = 1 });
	assert_true(last.timed_out);
	assert_true(WIFSIGNALED(last.status));
	assert_string_equal(last.out, "");
	assert_logged("hook probe: killed after 1 s");
}

static void test_opts_no_command(void **state)
{
	assert_int_equal(hook_run_opts(&fx->ag, "probe", "", &(struct hook_opts){ .capture = 8 },
				       on_done_opts), -EINVAL);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(last.status, -1);
	assert_string_equal(last.out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exit_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_sigterm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fini, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capture_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opts_no_command, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
