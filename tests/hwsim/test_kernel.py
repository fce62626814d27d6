"""Kernel-side checks: the VM boots Debian's kernel and its drivers present the simulated hardware
through the interfaces lwm2md's drivers use (GPIO character device via libgpiod 1.6, IIO via
libiio 0.24, hwmon sysfs). No lwm2md here: when these fail, the harness is broken, not lwm2md."""

import re

from conftest import LINE_PROBE_IN, LINE_PROBE_OUT


def test_kernel_is_debians(vm):
    out = vm.sh("uname -r; cat /proc/version")
    assert out.splitlines()[0] == vm.kv
    assert "Debian" in out


def test_network_reaches_namespace_only(vm):
    """The guest has its tap address and a route to the namespace's subnet, nothing else."""
    from conftest import GUEST_IP, HOST_IP, need_network
    need_network()
    out = vm.sh("ip -4 addr show eth0; ip route")
    assert GUEST_IP in out
    assert "default" not in out
    vm.sh(f"ping -c 1 -W 5 {HOST_IP}", timeout=20)


# --- GPIO: gpio-sim (built from linux-source with the irq_sim patch) ----------------------------

def test_gpiosim_chip(vm, hw):
    out = vm.sh("gpiodetect; gpioinfo hwsim-gpio")
    assert re.search(rf"{hw.gpiochip} \[hwsim-gpio\] \(12 lines\)", out), out
    assert vm.sh("gpiofind button") == f"{hw.gpiochip} 0"
    assert vm.sh("gpiofind probe-in") == f"{hw.gpiochip} {LINE_PROBE_IN}"


def test_gpiosim_input_follows_pull(vm, hw):
    hw.pull(LINE_PROBE_IN, True)
    assert vm.sh(f"gpioget {hw.gpiochip} {LINE_PROBE_IN}") == "1"
    hw.pull(LINE_PROBE_IN, False)
    assert vm.sh(f"gpioget {hw.gpiochip} {LINE_PROBE_IN}") == "0"
    # active-low as libgpiod applies it
    assert vm.sh(f"gpioget --active-low {hw.gpiochip} {LINE_PROBE_IN}") == "1"


def test_gpiosim_output_drives_line(vm, hw):
    vm.sh(f"gpioset --mode=signal {hw.gpiochip} {LINE_PROBE_OUT}=1 >/dev/null 2>&1 & echo $! > /run/gpioset.pid; "
          f"sleep 0.3")
    try:
        assert hw.line_value(LINE_PROBE_OUT) == 1
    finally:
        vm.sh("kill $(cat /run/gpioset.pid); sleep 0.2")
    # released: gpio-sim shows the pull again (pull-down by default)
    assert hw.line_value(LINE_PROBE_OUT) == 0


def test_gpiosim_edges_reach_gpiomon(vm, hw):
    hw.pull(LINE_PROBE_IN, False)
    out = vm.sh(f"gpiomon --num-events=2 --format='%e %o' {hw.gpiochip} {LINE_PROBE_IN} > /run/mon.txt 2>&1 & "
                f"P=$!; sleep 0.3; "
                f"echo pull-up > {hw.gpiosim}/sim_gpio{LINE_PROBE_IN}/pull; sleep 0.1; "
                f"echo pull-down > {hw.gpiosim}/sim_gpio{LINE_PROBE_IN}/pull; "
                f"wait $P; cat /run/mon.txt", timeout=30)
    assert out.split() == ["1", str(LINE_PROBE_IN), "0", str(LINE_PROBE_IN)], out


# --- IIO ----------------------------------------------------------------------------------------

def iio_attr(vm, dev, chan, attr):
    return vm.sh(f"iio_attr -u local: -i -c {dev} {chan} {attr}")


def test_iio_dummy(vm, hw):
    out = vm.sh("iio_info -u local: 2>/dev/null | grep -E '^\\s+iio:device'")
    assert "dummy0" in out
    assert iio_attr(vm, "dummy0", "voltage0", "raw") == "73"
    assert iio_attr(vm, "dummy0", "voltage0", "offset") == "7"
    assert iio_attr(vm, "dummy0", "voltage0", "scale") == "0.001333"


def test_iio_tmp006_on_i2c_stub(vm, hw):
    # tmp006 names its IIO device after the i2c client ("0-0040"), channel plain "temp"
    assert vm.sh(f"cat /sys/bus/iio/devices/{hw.tmp006_iio}/name") == hw.tmp006
    assert iio_attr(vm, hw.tmp006, "temp", "raw") == "800"
    assert iio_attr(vm, hw.tmp006, "temp", "scale") == "31.250000"
    try:
        hw.w16(0x40, 0x01, 0x0d00)              # 832 * 31.25 m°C = 26.0 °C
        assert iio_attr(vm, hw.tmp006, "temp", "raw") == "832"
    finally:
        hw.w16(0x40, 0x01, 0x0c80)


def test_iio_bme280_on_i2c_stub(vm, hw):
    d = f"/sys/bus/iio/devices/{hw.bme280_iio}"
    assert vm.sh(f"cat {d}/name") == "bme280"
    assert vm.sh(f"cat {d}/in_temp_input") == "25080"                   # m°C
    assert vm.sh(f"cat {d}/in_pressure_input").startswith("100.653")    # kPa
    assert vm.sh(f"cat {d}/in_humidityrelative_input") == "40964"       # m%RH


# --- hwmon ---------------------------------------------------------------------------------------

def test_hwmon_lm75_tmp102(vm, hw):
    # through the i2c client: the hwmonN number changes when a device is bound again
    lm75 = f"/sys/bus/i2c/devices/{hw.lm75}/hwmon/hwmon*"
    tmp102 = f"/sys/bus/i2c/devices/{hw.tmp102}/hwmon/hwmon*"
    assert vm.sh(f"cat {lm75}/name {tmp102}/name").split() == ["lm75", "tmp102"]
    assert vm.sh(f"cat {lm75}/temp1_input") == "25000"
    assert vm.sh(f"cat {tmp102}/temp1_input") == "25500"
    try:
        hw.w16(0x48, 0x00, 0x1a80)              # 26.5 °C
        assert vm.sh(f"cat {lm75}/temp1_input") == "26500"
    finally:
        hw.w16(0x48, 0x00, 0x1900)


def test_i2c_unbind_and_bind(vm, hw):
    """What the hot-plug cases do to lwm2md: the hwmon device goes away and comes back."""
    hw.i2c_unbind(hw.lm75, "lm75")
    try:
        assert vm.sh(f"ls /sys/bus/i2c/devices/{hw.lm75}/ | grep -c hwmon || true") == "0"
    finally:
        hw.i2c_bind(hw.lm75, "lm75")
    out = vm.sh(f"cat /sys/bus/i2c/devices/{hw.lm75}/hwmon/hwmon*/name /sys/bus/i2c/devices/{hw.lm75}/hwmon/hwmon*/temp1_input")
    assert out.split() == ["lm75", "25000"]


# --- thermal: an ACPI thermal zone from guest/thermal.asl ------------------------------------------

def test_acpi_thermal_zone(vm, hw):
    z = f"/sys/class/thermal/{hw.thermal_zone}"
    assert vm.sh(f"cat {z}/type") == "acpitz"
    assert vm.sh(f"cat {z}/temp") == "30000"
    try:
        vm.sh("sh /opt/hwsim/hw.sh thermal 47.3")
        assert vm.sh(f"cat {z}/temp") == "47300"
    finally:
        vm.sh("sh /opt/hwsim/hw.sh thermal 30.0")
