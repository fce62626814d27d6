/* Unit tests for drivers/uevent.c: which kernel device events concern the
 * sensors, and that only the kernel's count. */
#include "../../../drivers/uevent.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../agent/err.h"

/* A message as the kernel sends it: NUL-separated fields. */
#define MSG(s) s, sizeof(s) - 1

static void test_subsystems(void **state)
{
	assert_true(drv_uevent_hw(MSG("add@/devices/platform/i2c/i2c-0/0-0048/hwmon/hwmon3\0"
				      "ACTION=add\0DEVPATH=/devices/platform/i2c/i2c-0/0-0048/hwmon/hwmon3\0"
				      "SUBSYSTEM=hwmon\0SEQNUM=1234\0")));
	assert_true(drv_uevent_hw(MSG("remove@/devices/x/iio:device2\0ACTION=remove\0"
				      "SUBSYSTEM=iio\0")));
	assert_true(drv_uevent_hw(MSG("bind@/devices/x/0-0049\0ACTION=bind\0SUBSYSTEM=i2c\0"
				      "DRIVER=tmp102\0")));
	assert_true(drv_uevent_hw(MSG("add@/devices/platform/gpio-sim.0/gpiochip2\0ACTION=add\0"
				      "SUBSYSTEM=gpio\0")));
	assert_true(drv_uevent_hw(MSG("change@/devices/virtual/thermal/thermal_zone0\0"
				      "ACTION=change\0SUBSYSTEM=thermal")));   /* last NUL missing */
	/* other subsystems, and names that only start like ours */
	assert_false(drv_uevent_hw(MSG("add@/devices/x/net/eth1\0ACTION=add\0SUBSYSTEM=net\0")));
	assert_false(drv_uevent_hw(MSG("add@/devices/x\0ACTION=add\0SUBSYSTEM=iiox\0")));
	assert_false(drv_uevent_hw(MSG("add@/devices/x\0ACTION=add\0SUBSYSTEM=i2c-dev\0")));
	assert_false(drv_uevent_hw(MSG("add@/devices/x\0ACTION=add\0SUBSYSTEM=\0")));
	/* no SUBSYSTEM, no header, udev's own format, nothing */
	assert_false(drv_uevent_hw(MSG("add@/devices/x\0ACTION=add\0")));
	assert_false(drv_uevent_hw(MSG("ACTION=add\0SUBSYSTEM=iio\0")));
	assert_false(drv_uevent_hw(MSG("libudev\0\xfe\xed\xca\xfe")));
	assert_false(drv_uevent_hw("", 0));
}

static void test_socket(void **state)
{
	struct errbuf err = { "" };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	static const char fake[] = "add@/devices/x/iio:device9\0ACTION=add\0SUBSYSTEM=iio\0";
	bool hw = true;
	int fd = drv_uevent_open(&err), tx;

	assert_true(fd >= 0);
	/* nothing pending: none taken, nothing to look at, no blocking */
	assert_int_equal(drv_uevent_read(fd, &hw), 0);
	assert_false(hw);
	/* a process's own message on the kernel's group: refused by the kernel to
	 * non-root, and not counted as the kernel's when root may send it */
	tx = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	assert_true(tx >= 0);
	if (sendto(tx, fake, sizeof(fake) - 1, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		assert_int_equal(errno, EPERM);
	} else {
		/* netlink delivers a multicast at once, into fd's queue */
		assert_true(drv_uevent_read(fd, &hw) >= 1);
		assert_false(hw);
	}
	close(tx);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subsystems),
		cmocka_unit_test(test_socket),
	};

	return cmocka_run_group_tests_name("drivers/uevent", tests, NULL, NULL);
}
