/* Unit tests for objects/modem.c: ModemManager's access technologies to
 * Network Bearer values (4.xml), its operator code and 3GPP location
 * strings, and its signal quality back on the CSQ scale.  The D-Bus side
 * runs against the real ModemManager in tests/integration/test_modemmanager.py. */
#include "../../../objects/modem.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_bearer_of(void **state)
{
	assert_int_equal(modem_bearer_of(0), -1);
	assert_int_equal(modem_bearer_of(MM_TECH_POTS), 10);
	assert_int_equal(modem_bearer_of(MM_TECH_GSM), 0);
	assert_int_equal(modem_bearer_of(MM_TECH_GPRS | MM_TECH_EDGE), 0);
	assert_int_equal(modem_bearer_of(MM_TECH_UMTS), 2);
	assert_int_equal(modem_bearer_of(1u << 9), 2);          /* HSPA+ */
	assert_int_equal(modem_bearer_of(1u << 10), 3);         /* 1xRTT */
	assert_int_equal(modem_bearer_of(1u << 13), 3);         /* EV-DO rev B */
	assert_int_equal(modem_bearer_of(MM_TECH_LTE), 6);
	assert_int_equal(modem_bearer_of(MM_TECH_LTE_CAT_M), 6);
	assert_int_equal(modem_bearer_of(MM_TECH_LTE_NB_IOT), 7);
	assert_int_equal(modem_bearer_of(MM_TECH_5GNR | MM_TECH_LTE), 9);  /* NSA: 5G wins */
	assert_int_equal(modem_bearer_of(MM_TECH_UMTS | MM_TECH_GSM), 2);
}

static void test_operator(void **state)
{
	int mcc = -1, mnc = -1;

	assert_true(parse_operator("26201", &mcc, &mnc));
	assert_int_equal(mcc, 262);
	assert_int_equal(mnc, 1);
	assert_true(parse_operator("310410", &mcc, &mnc));
	assert_int_equal(mcc, 310);
	assert_int_equal(mnc, 410);
	assert_false(parse_operator("", &mcc, &mnc));
	assert_false(parse_operator("2620", &mcc, &mnc));
	assert_false(parse_operator("26201x", &mcc, &mnc));
}

static void test_cell(void **state)
{
	uint32_t lac = 0, ci = 0;

	assert_true(parse_cell("262,01,1A2B,1C3D4E5,0", &lac, &ci));
	assert_int_equal(lac, 0x1A2B);
	assert_int_equal(ci, 0x1C3D4E5);
	/* LTE: no LAC, the tracking area code stands in */
	assert_true(parse_cell("262,01,0,ABCDE,4D2", &lac, &ci));
	assert_int_equal(lac, 0x4D2);
	assert_int_equal(ci, 0xABCDE);
	assert_false(parse_cell("262,01,1A2B,0,0", &lac, &ci));        /* no cell */
	assert_false(parse_cell("", &lac, &ci));
}

static void test_signal(void **state)
{
	struct mmodem md;
	struct modem_info mi;
	unsigned csq;

	/* every CSQ value survives ModemManager's percentage */
	for (csq = 1; csq <= 31; csq++) {
		memset(&md, 0, sizeof(md));
		md.quality = csq * 100 / 31;
		fill_info(&md, &mi);
		assert_true(mi.has_signal);
		assert_int_equal(mi.rssi, -113 + 2 * (int)csq);
		assert_int_equal(mi.quality, (int)md.quality);
	}
	memset(&md, 0, sizeof(md));
	fill_info(&md, &mi);
	assert_false(mi.has_signal);
	assert_false(mi.has_operator);
	assert_false(mi.has_cell);
	assert_int_equal(mi.bearer, -1);
	assert_string_equal(mi.apn, "");
}

static void test_apn_of_connected_bearer(void **state)
{
	struct mmodem md;
	struct modem_info mi;

	memset(&md, 0, sizeof(md));
	md.nb = 2;
	snprintf(md.b[0].apn, sizeof(md.b[0].apn), "idle.apn");
	snprintf(md.b[1].apn, sizeof(md.b[1].apn), "internet");
	md.b[1].connected = true;
	fill_info(&md, &mi);
	assert_string_equal(mi.apn, "internet");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bearer_of),
		cmocka_unit_test(test_operator),
		cmocka_unit_test(test_cell),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_apn_of_connected_bearer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
