/* Unit tests for agent/cfg.c: every key of a good file, and each bad_*.ini
 * fixture, whose first line "; expect: ..." is the message it must produce. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfg_helpers.h"

#include "cfg.h"
#include "log.h"

static void test_good(void **state)
{
	struct cfg *c = cfg_load("agent/cfg/good.ini", stderr);

	assert_non_null(c);
	assert_string_equal(c->server.uri, "coap://127.0.0.1:5683");
	assert_string_equal(c->server.host, "127.0.0.1");
	assert_int_equal(c->server.port, 5683);
	assert_false(c->server.secure);
	assert_string_equal(c->server.endpoint, "gw-1");
	assert_int_equal(c->server.lifetime, 120);
	assert_string_equal(c->server.binding, "UQ");
	assert_int_equal(c->server.short_server_id, 7);
	assert_int_equal(c->server.default_pmin, 1);
	assert_int_equal(c->server.default_pmax, 60);
	assert_int_equal(c->server.disable_timeout, 30);
	assert_false(c->server.notification_storing);
	assert_int_equal(c->server.retry_count, 3);
	assert_int_equal(c->server.retry_timer, 2);
	assert_int_equal(c->server.sequence_delay, 10);
	assert_int_equal(c->server.sequence_retry_count, 2);
	assert_string_equal(c->device.manufacturer, "Acme");
	assert_string_equal(c->device.model, "GW");
	assert_string_equal(c->device.serial, "123");
	assert_null(c->device.timezone);
	assert_string_equal(c->hooks.reboot, "touch /tmp/x");
	assert_null(c->hooks.factory_reset);
	assert_int_equal(c->hooks.timeout, 5);
	assert_int_equal(c->firmware.coap_block_size, 512);
	assert_string_equal(c->state_dir, "/tmp/lwm2md-state");
	assert_int_equal(c->log_level, LOG_DEBUG);
	cfg_free(c);
}

static void test_defaults(void **state)
{
	FILE *f = fopen("/tmp/lwm2md-cfg-min.ini", "w");
	struct cfg *c;

	assert_non_null(f);
	fputs("[server]\nuri = coap://[::1]\n", f);
	fclose(f);
	c = cfg_load("/tmp/lwm2md-cfg-min.ini", stderr);
	assert_non_null(c);
	assert_string_equal(c->server.host, "::1");
	assert_int_equal(c->server.port, 5683);
	assert_int_equal(c->server.lifetime, 300);
	assert_string_equal(c->server.binding, "U");
	assert_int_equal(c->server.short_server_id, 1);
	assert_string_equal(c->server.lwm2m_version, "1.1");
	assert_int_equal(c->firmware.coap_block_size, 1024);
	assert_string_equal(c->state_dir, "/var/lib/lwm2md");
	assert_non_null(c->server.endpoint);       /* the host name */
	cfg_free(c);
	remove("/tmp/lwm2md-cfg-min.ini");
}

static void test_missing_file(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&out, &len);

	assert_null(cfg_load("agent/cfg/no-such-file.ini", err));
	fclose(err);
	assert_non_null(strstr(out, "agent/cfg/no-such-file.ini: cannot open: No such file"));
	free(out);
}

static void test_bad_files(void **state)
{
	check_bad_fixtures("agent/cfg", 10);
}

static void test_all_errors_reported(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&out, &len);

	assert_null(cfg_load("agent/cfg/bad_many.ini", err));
	fclose(err);
	assert_non_null(strstr(out, ":4: [server] lifetime = \"-1\""));
	assert_non_null(strstr(out, ":5: [server] binding = \"X\""));
	assert_non_null(strstr(out, ":6: [server] retry_count = \"0\": out of range"));
	free(out);
}

static void test_server_differs(void **state)
{
	struct cfg *a = cfg_load("agent/cfg/good.ini", stderr);
	struct cfg *b = cfg_load("agent/cfg/good.ini", stderr);

	assert_false(cfg_server_differs(a, b));
	b->server.lifetime = 999;               /* an Update, not a new registration */
	assert_false(cfg_server_differs(a, b));
	free(b->server.endpoint);
	b->server.endpoint = strdup("other");
	assert_true(cfg_server_differs(a, b));
	cfg_free(a);
	cfg_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_server_differs),
	};

	return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
