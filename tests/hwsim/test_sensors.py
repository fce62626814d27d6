"""End to end: lwm2md runs inside the VM with conftest.SENSORS mapped to the simulated hardware
(real kernel drivers), registers with the test server in the run's network namespace, and the
server's reads, observations, writes and executes see the "outside world" the tests change
through i2c-stub registers and gpio-sim pulls.

Paths: /3303/0 tmp006 (IIO), /3303/1 lm75 (hwmon), /3303/2 tmp102 (hwmon by path),
/3303/3 + /3304/0 + /3315/0 bme280 (IIO), /3303/4 ACPI thermal zone, /3316/0 iio_dummy voltage0, /3200/0 button,
/3200/1 door (active-low), /3200/2 a line of a chip made later, /3201/0 relay,
/3201/1 led (initial = true)."""

from __future__ import annotations

import re
import time

import pytest

from conftest import (ENDPOINT, LINE_BUTTON, LINE_DOOR, LINE_LED, LINE_PUSH, LINE_RELAY, LINE_SWITCH,
                      LINE_VALVE)
from leshan import res
from reporting_util import (cancel_observe, events_since, is_notification_of, no_event, observe,
                            single_value, write_attributes)

EP = ENDPOINT
SENSOR_VALUE, UNITS, MIN_MEASURED, MAX_MEASURED, RESET_MIN_MAX = 5700, 5701, 5601, 5602, 5605
DI_STATE, DI_COUNTER, DI_POLARITY, DI_COUNTER_RESET = 5500, 5501, 5502, 5505
ON_OFF, ON_TIME, OFF_TIME = 5850, 5852, 5854
APPLICATION_TYPE = 5750
DO_STATE, DO_POLARITY = 5550, 5551


def read_value(rest, path: str):
    r = rest.read(EP, path)
    assert r.code == 205, f"read {path}: {r}"
    return r.content


def wait_value(rest, path: str, want, timeout: float = 10.0, tol: float = 1e-6):
    """Reads path until it gives want (for what is sampled on a period, not on demand, and for
    a device coming back: 5.03 meanwhile is no failure)."""
    deadline = time.monotonic() + timeout
    while True:
        r = rest.read(EP, path)
        assert r.code in (205, 503), f"read {path}: {r}"
        if r.code == 205 and r.content == pytest.approx(want, abs=tol):
            return r.content
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} answers {r}, not {want}, after {timeout} s")
        time.sleep(0.3)


@pytest.fixture
def lm75(hw):
    """Sets the lm75 temperature register (°C, 0.5 steps); restores 25 °C afterwards."""
    def set_c(c: float):
        hw.w16(0x48, 0x00, int(round(c * 2)) << 7)
    yield set_c
    set_c(25.0)


@pytest.fixture
def tmp006(hw):
    """Sets the tmp006 die temperature register (°C, 1/32 steps); restores 25 °C afterwards."""
    def set_c(c: float):
        hw.w16(0x40, 0x01, int(round(c * 32)) << 2)
    yield set_c
    set_c(25.0)


# --- values from real drivers ---------------------------------------------------------------------

def test_registers_with_sensor_objects(lwm2md, rest):
    reg = rest.client(EP)
    links = {l["url"] for l in reg["objectLinks"]}
    for p in ["/3303/0", "/3303/1", "/3303/2", "/3303/3", "/3303/4", "/3304/0", "/3315/0", "/3316/0",
              "/3200/0", "/3200/1", "/3201/0", "/3201/1", "/3313/0", "/3313/1", "/3314/0", "/3334/0",
              "/3342/0", "/3347/0", "/3306/0", "/3303/5", "/3303/6"]:
        assert p in links, f"{p} not registered: {sorted(links)}"


def test_tmp006_register_is_what_the_server_reads(lwm2md, rest, tmp006):
    """i2c-stub register 0x0c80 -> tmp006 raw 800 * 31.25 m°C -> 25.0 °C in /3303/0/5700."""
    assert read_value(rest, f"/3303/0/{SENSOR_VALUE}") == pytest.approx(25.0)
    assert read_value(rest, f"/3303/0/{UNITS}") == "Cel"
    tmp006(26.0)
    # max_age = 0: a read samples the device, so the very next read has the new value
    assert read_value(rest, f"/3303/0/{SENSOR_VALUE}") == pytest.approx(26.0)
    tmp006(21.5)
    assert read_value(rest, f"/3303/0/{SENSOR_VALUE}") == pytest.approx(21.5)


def test_lm75_register_is_what_the_server_reads(lwm2md, rest, lm75):
    assert read_value(rest, f"/3303/1/{SENSOR_VALUE}") == pytest.approx(25.0)
    lm75(27.5)
    assert read_value(rest, f"/3303/1/{SENSOR_VALUE}") == pytest.approx(27.5)


def test_tmp102_by_sysfs_path(lwm2md, rest):
    assert read_value(rest, f"/3303/2/{SENSOR_VALUE}") == pytest.approx(25.5)


def test_thermal_zone(lwm2md, rest, hw):
    """driver = thermal, zone = acpitz: Linux's ACPI thermal driver (guest/thermal.asl)."""
    assert read_value(rest, f"/3303/4/{SENSOR_VALUE}") == pytest.approx(30.0)
    try:
        hw.thermal(41.7)
        assert read_value(rest, f"/3303/4/{SENSOR_VALUE}") == pytest.approx(41.7)
    finally:
        hw.thermal(30.0)


def test_bme280_temperature_humidity_pressure(lwm2md, rest):
    """One IIO device, three objects; the units converted to IPSO's (m°C -> °C, m%RH -> %RH,
    kPa -> hPa). Values: the Bosch datasheet's calibration example (see guest/hw.sh)."""
    assert read_value(rest, f"/3303/3/{SENSOR_VALUE}") == pytest.approx(25.08)
    assert read_value(rest, f"/3304/0/{SENSOR_VALUE}") == pytest.approx(40.964)
    assert read_value(rest, f"/3304/0/{UNITS}") == "%RH"
    assert read_value(rest, f"/3315/0/{SENSOR_VALUE}") == pytest.approx(1006.53, abs=0.01)
    assert read_value(rest, f"/3315/0/{UNITS}") == "hPa"


def test_iio_dummy_voltage(lwm2md, rest):
    """in_voltage0: raw 73, offset 7, scale 0.001333 (mV) -> (73 + 7) * 0.001333 mV in V."""
    assert read_value(rest, f"/3316/0/{SENSOR_VALUE}") == pytest.approx(80 * 0.001333e-3, rel=1e-6)
    assert read_value(rest, f"/3316/0/{UNITS}") == "V"


# --- three axes ------------------------------------------------------------------------------------

X_VALUE, Y_VALUE, Z_VALUE = 5702, 5703, 5704
MIN_X, MAX_X, MIN_Z, MAX_Z = 5508, 5509, 5512, 5513


def axes_regs(hw, addr: int, reg: int, counts, fmt: str):
    """Sets a chip's x, y, z output registers (consecutive, from reg) to counts: "6" six-bit
    bytes (mma7660), "be16"/"le16" 16-bit words in that byte order."""
    data = []
    for c in counts:
        if fmt == "6":
            data.append(c & 0x3f)
        else:
            w = [(c >> 8) & 0xff, c & 0xff]
            data += w if fmt == "be16" else w[::-1]
    hw.vm.sh(f"sh /opt/hwsim/hw.sh w8 {addr:#x} {reg:#x} " + " ".join(f"{b:#x}" for b in data))


@pytest.mark.parametrize("inst,addr,reg,fmt,start,scale,units", [
    # mma7660: 6-bit counts, one range: (1.5 + 1.5) g * 9.81 / 63 = 0.467142857 m/s2 a count
    ("/3313/0", 0x4c, 0x00, "6", (5, -3, 21), 0.467142857, "m/s2"),
    # hmc5843: gain 1 (set by its probe) -> the driver's scale 0.000007692 gauss a count
    ("/3314/0", 0x1e, 0x03, "be16", (1000, -500, 250), 0.000007692, "G"),
    # bmg160: range 500 deg/s (set by its probe) -> 0.000266 rad/s a count
    ("/3334/0", 0x68, 0x02, "le16", (100, -200, 3000), 0.000266, "rad/s"),
])
def test_three_axis_chip_registers_are_what_the_server_reads(lwm2md, rest, hw, inst, addr, reg, fmt,
                                                            start, scale, units):
    """A real IIO driver per object (mma7660, hmc5843, bmg160 on i2c-stub, guest/hw.sh):
    channel = accel / magn / anglvel maps its _x, _y, _z channels to X, Y, Z Value, each
    (raw + offset) * scale as the IIO ABI says, in the object's unit."""
    def expect(counts):
        got = read_value(rest, inst)
        for rid, c in zip((X_VALUE, Y_VALUE, Z_VALUE), counts):
            assert got[rid] == pytest.approx(c * scale, rel=1e-6), f"{inst}/{rid}: {got}"
        assert got[UNITS] == units, got
        return got

    expect(start)
    moved = (-start[0], start[2], start[1])
    try:
        axes_regs(hw, addr, reg, moved, fmt)
        got = expect(moved)           # max_age = 0: a read samples the chip
        if inst == "/3334/0":         # Gyrometer: Min/Max per axis
            assert got[MIN_X] == pytest.approx(min(start[0], moved[0]) * scale, rel=1e-6), got
            assert got[MAX_X] == pytest.approx(max(start[0], moved[0]) * scale, rel=1e-6), got
            assert got[MAX_Z] == pytest.approx(max(start[2], moved[2]) * scale, rel=1e-6), got
        assert read_value(rest, f"{inst}/{Y_VALUE}") == pytest.approx(moved[1] * scale, rel=1e-6)
    finally:
        axes_regs(hw, addr, reg, start, fmt)
    expect(start)


def test_axes_key_maps_and_inverts_the_chips_axes(lwm2md, rest, hw):
    """/3313/1 reads the same mma7660 with axes = y -x z: X Value is the chip's y, Y Value its
    x inverted, Z Value its z."""
    scale = 0.467142857
    chip = read_value(rest, "/3313/0")
    mounted = read_value(rest, "/3313/1")
    assert chip[X_VALUE] == pytest.approx(5 * scale, rel=1e-6), chip
    assert mounted[X_VALUE] == pytest.approx(-3 * scale, rel=1e-6), mounted
    assert mounted[Y_VALUE] == pytest.approx(-5 * scale, rel=1e-6), mounted
    assert mounted[Z_VALUE] == pytest.approx(21 * scale, rel=1e-6), mounted
    try:
        axes_regs(hw, 0x4c, 0x00, (-7, 11, 2), "6")
        mounted = read_value(rest, "/3313/1")
        assert [mounted[r] for r in (X_VALUE, Y_VALUE, Z_VALUE)] == \
            pytest.approx([11 * scale, 7 * scale, 2 * scale], rel=1e-6), mounted
    finally:
        axes_regs(hw, 0x4c, 0x00, (5, -3, 21), "6")


# --- observation ----------------------------------------------------------------------------------

def test_lm75_change_is_notified_on_gt_lt_crossing(lwm2md, rest, events, lm75):
    path = f"/3303/1/{SENSOR_VALUE}"
    wait_value(rest, path, 25.0)
    stream = events()
    r = write_attributes(rest, EP, path, "gt=27&lt=20&pmin=0")
    assert r.code == 204, r
    r = observe(rest, EP, path)
    assert r.code == 205 and r.content == pytest.approx(25.0), r
    try:
        # within the band: no notification (the sensor is sampled every second)
        lm75(26.0)
        no_event(stream, "NOTIFICATION", is_notification_of(path), seconds=2.5)
        # crossing gt upwards
        lm75(28.5)
        e = stream.wait_for("NOTIFICATION", is_notification_of(path), timeout=10)
        assert single_value(e.data) == pytest.approx(28.5)
        # crossing lt downwards
        lm75(19.0)
        e = stream.wait_for("NOTIFICATION", is_notification_of(path), timeout=10)
        assert single_value(e.data) == pytest.approx(19.0)
    finally:
        cancel_observe(rest, EP, path, active=True)
        write_attributes(rest, EP, path, "gt&lt&pmin")


# --- GPIO -----------------------------------------------------------------------------------------

def test_gpio_pull_change_notifies_3200_state_and_counter(lwm2md, rest, events, hw):
    hw.pull(LINE_BUTTON, False)
    time.sleep(0.3)
    inst = "/3200/0"
    before = read_value(rest, inst)
    assert before[DI_STATE] is False
    count0 = before[DI_COUNTER]
    stream = events()
    r = observe(rest, EP, inst)
    assert r.code == 205, r
    try:
        hw.pull(LINE_BUTTON, True)
        e = stream.wait_for("NOTIFICATION", lambda d: d.get("res") == inst, timeout=10)
        got = single_value(e.data)
        assert got[DI_STATE] is True
        assert got[DI_COUNTER] == count0 + 1
        hw.pull(LINE_BUTTON, False)
        e = stream.wait_for("NOTIFICATION", lambda d: d.get("res") == inst, timeout=10)
        assert single_value(e.data)[DI_STATE] is False
    finally:
        cancel_observe(rest, EP, inst, active=True)


def test_gpio_active_low_input(lwm2md, rest, hw):
    hw.pull(LINE_DOOR, True)
    wait_value(rest, f"/3200/1/{DI_STATE}", False, timeout=5)
    hw.pull(LINE_DOOR, False)
    wait_value(rest, f"/3200/1/{DI_STATE}", True, timeout=5)


def test_gpio_counter_reset(lwm2md, rest, hw):
    hw.pull(LINE_BUTTON, True)
    hw.pull(LINE_BUTTON, False)
    deadline = time.monotonic() + 5
    while read_value(rest, f"/3200/0/{DI_COUNTER}") == 0:
        assert time.monotonic() < deadline, "the counter did not count"
        time.sleep(0.2)
    r = rest.execute(EP, f"/3200/0/{DI_COUNTER_RESET}")
    assert r.code == 204, r
    assert read_value(rest, f"/3200/0/{DI_COUNTER}") == 0


def test_gpio_output_starts_at_initial(lwm2md, rest, hw):
    """initial = true: the line is driven high from the start, before any write."""
    assert hw.line_value(LINE_LED) == 1
    assert read_value(rest, f"/3201/1/{DO_STATE}") is True
    assert hw.line_value(LINE_RELAY) == 0


def test_server_write_to_3201_drives_the_line(lwm2md, rest, hw):
    for want in (True, False, True):
        r = rest.write(EP, f"/3201/0/{DO_STATE}", res(DO_STATE, want))
        assert r.code == 204, r
        assert hw.line_value(LINE_RELAY) == int(want)
        assert read_value(rest, f"/3201/0/{DO_STATE}") is want
    # the second output, opened by chip name and offset
    r = rest.write(EP, f"/3201/1/{DO_STATE}", res(DO_STATE, True))
    assert r.code == 204, r
    assert hw.line_value(LINE_LED) == 1
    r = rest.write(EP, f"/3201/1/{DO_STATE}", res(DO_STATE, False))
    assert r.code == 204, r
    assert hw.line_value(LINE_LED) == 0


def test_on_off_switch_3342_follows_the_line(lwm2md, rest, events, hw):
    hw.pull(LINE_SWITCH, False)
    wait_value(rest, f"/3342/0/{DI_STATE}", False, timeout=5)
    count0 = read_value(rest, f"/3342/0/{DI_COUNTER}")
    path = f"/3342/0/{DI_STATE}"
    stream = events()
    r = observe(rest, EP, path)
    assert r.code == 205 and r.content is False, r
    try:
        hw.pull(LINE_SWITCH, True)
        e = stream.wait_for("NOTIFICATION", is_notification_of(path), timeout=10)
        assert single_value(e.data) is True
        hw.pull(LINE_SWITCH, False)
        e = stream.wait_for("NOTIFICATION", is_notification_of(path), timeout=10)
        assert single_value(e.data) is False
    finally:
        cancel_observe(rest, EP, path, active=True)
    inst = read_value(rest, "/3342/0")
    assert inst[DI_COUNTER] == count0 + 1, inst      # one rising edge
    assert inst[ON_TIME] >= 0 and inst[OFF_TIME] >= 0, inst
    r = rest.write(EP, f"/3342/0/{ON_TIME}", res(ON_TIME, 0))
    assert r.code == 204, r


def bounce(hw, line: int, levels):
    """The outside world sets the line's pull to each level in turn, as fast as the guest's shell
    goes (one script: far quicker than the 2000 ms debounce of the push button)."""
    hw.vm.sh("; ".join(f"echo {'pull-up' if up else 'pull-down'} > {hw.gpiosim}/sim_gpio{line}/pull"
                       for up in levels))


def test_push_button_3347_debounce_notifies_the_settled_state_only(lwm2md, rest, events, hw):
    """debounce = 2000 ms: a bouncing press gives one notification, with the settled state and
    one count; a bounce that ends where it started gives none."""
    inst = "/3347/0"
    hw.pull(LINE_PUSH, False)
    wait_value(rest, f"{inst}/{DI_STATE}", False, timeout=10)
    count0 = read_value(rest, f"{inst}/{DI_COUNTER}")
    stream = events()
    mine = lambda d: d.get("res") == inst  # noqa: E731
    r = observe(rest, EP, inst)
    assert r.code == 205, r
    try:
        start = len(stream.events)
        bounce(hw, LINE_PUSH, [True, False, True, False, True])          # a press that bounces
        e = stream.wait_for("NOTIFICATION", mine, timeout=15)
        got = single_value(e.data)
        assert got[DI_STATE] is True and got[DI_COUNTER] == count0 + 1, got
        no_event(stream, "NOTIFICATION", mine, seconds=3)
        seen = [single_value(x.data) for x in events_since(stream, "NOTIFICATION", start, mine)]
        assert len(seen) == 1, f"bounces were notified: {seen}"
        bounce(hw, LINE_PUSH, [False, True, False, True])                # back where it was
        no_event(stream, "NOTIFICATION", mine, seconds=4)
        hw.pull(LINE_PUSH, False)                                        # released
        e = stream.wait_for("NOTIFICATION", mine, timeout=15)
        got = single_value(e.data)
        assert got[DI_STATE] is False and got[DI_COUNTER] == count0 + 1, got
    finally:
        cancel_observe(rest, EP, inst, active=True)


def test_server_write_to_3306_drives_the_line(lwm2md, rest, hw):
    assert hw.line_value(LINE_VALVE) == 0
    for want in (True, False):
        r = rest.write(EP, f"/3306/0/{ON_OFF}", res(ON_OFF, want))
        assert r.code == 204, r
        assert hw.line_value(LINE_VALVE) == int(want)
        assert read_value(rest, f"/3306/0/{ON_OFF}") is want


def test_polarity_writes_invert_input_and_output(lwm2md, rest, hw):
    """A server write of Polarity (3200/5502, 3201/5551) changes how the line is read or driven
    from then on."""
    state, pol = f"/3200/0/{DI_STATE}", f"/3200/0/{DI_POLARITY}"
    hw.pull(LINE_BUTTON, False)
    wait_value(rest, state, False, timeout=5)
    try:
        r = rest.write(EP, pol, res(DI_POLARITY, True))
        assert r.code == 204, r
        assert read_value(rest, state) is True            # the same low line, read inverted
        hw.pull(LINE_BUTTON, True)
        wait_value(rest, state, False, timeout=5)
    finally:
        rest.write(EP, pol, res(DI_POLARITY, False))
        hw.pull(LINE_BUTTON, False)
    wait_value(rest, state, False, timeout=5)

    out, opol = f"/3201/0/{DO_STATE}", f"/3201/0/{DO_POLARITY}"
    r = rest.write(EP, out, res(DO_STATE, False))
    assert r.code == 204, r
    assert hw.line_value(LINE_RELAY) == 0
    try:
        r = rest.write(EP, opol, res(DO_POLARITY, True))
        assert r.code == 204, r
        assert hw.line_value(LINE_RELAY) == 1             # state off, driven inverted
        assert read_value(rest, out) is False
        r = rest.write(EP, out, res(DO_STATE, True))
        assert r.code == 204, r
        assert hw.line_value(LINE_RELAY) == 0
    finally:
        rest.write(EP, opol, res(DO_POLARITY, False))
        rest.write(EP, out, res(DO_STATE, False))
    assert hw.line_value(LINE_RELAY) == 0


# --- failures ---------------------------------------------------------------------------------------

def test_device_error_gives_503_then_values_again(lwm2md, rest, hw):
    """The bme280 reports a skipped measurement (0x80000 in the temperature registers): its
    driver fails the read with EIO, so /3303/3 answers 5.03, never the last value; once the
    registers hold a measurement again, values come back."""
    value = f"/3303/3/{SENSOR_VALUE}"
    assert read_value(rest, value) == pytest.approx(25.08)
    hw.vm.sh("sh /opt/hwsim/hw.sh w8 0x76 0xfa 0x80 0x00 0x00")
    try:
        vm_says = hw.vm.run(f"cat /sys/bus/iio/devices/{hw.bme280_iio}/in_temp_input")
        assert vm_says[0] != 0, f"the driver did not fail: {vm_says}"
        deadline = time.monotonic() + 25
        while (r := rest.read(EP, value)).code != 503:
            assert r.code == 205, r
            assert time.monotonic() < deadline, f"{value} still answers {r} while the device fails"
            time.sleep(0.3)
    finally:
        hw.vm.sh("sh /opt/hwsim/hw.sh w8 0x76 0xfa 0x7e 0xed 0x00")
    wait_value(rest, value, 25.08, timeout=25, tol=1e-3)


def test_check_config_warns_about_missing_hardware(lwm2md, vm, hw):
    """--check-config on the VM's real devices: sections naming hardware that is not there get
    a warning with FILE:LINE (exit 0: a missing device is not a config error); present ones
    get none."""
    lines = [
        "[server]", "uri = coap://10.77.0.1:5683", "",
        "[sensor.present]", "object = 3303", "driver = hwmon", "device = lm75", "channel = temp1", "",
        "[sensor.no-iio]", "object = 3303", "driver = iio", "device = nosuch", "channel = temp", "",
        "[sensor.no-line]", "object = 3200", "driver = gpio", "chip = hwsim-gpio", "line = nosuch", "",
        "[sensor.no-zone]", "object = 3303", "driver = thermal", "zone = nosuch", "",
    ]
    vm.write_file("/tmp/missing.ini", "\n".join(lines))
    rc, out = vm.run("lwm2md --check-config -c /tmp/missing.ini")
    assert rc == 0, out
    for name in ("no-iio", "no-line", "no-zone"):
        first = lines.index(f"[sensor.{name}]") + 1
        last = first + lines[first:].index("")
        m = re.search(rf"/tmp/missing\.ini:(\d+): \[sensor\.{name}\].*warning", out)
        assert m and first <= int(m.group(1)) <= last, f"no warning within lines {first}-{last}:\n{out}"
    assert "sensor.present" not in out, out


# --- Reset Min and Max Measured Value ---------------------------------------------------------------

def test_reset_min_max(lwm2md, rest, lm75):
    base = "/3303/1"
    r = rest.execute(EP, f"{base}/{RESET_MIN_MAX}")
    assert r.code == 204, r
    for c in (30.0, 22.0, 25.0):
        lm75(c)
        wait_value(rest, f"{base}/{SENSOR_VALUE}", c)
    inst = read_value(rest, base)
    assert inst[MIN_MEASURED] == pytest.approx(22.0)
    assert inst[MAX_MEASURED] == pytest.approx(30.0)
    r = rest.execute(EP, f"{base}/{RESET_MIN_MAX}")
    assert r.code == 204, r
    inst = read_value(rest, base)
    assert inst[MIN_MEASURED] == pytest.approx(25.0)
    assert inst[MAX_MEASURED] == pytest.approx(25.0)


# --- hot-plug: the device goes away and comes back -------------------------------------------------

@pytest.mark.parametrize("path,client,driver", [
    ("/3303/1", "lm75", "lm75"),        # hwmon
    ("/3303/0", "tmp006", "tmp006"),    # IIO
])
def test_unbind_gives_503_and_rebind_gives_values_again(lwm2md, rest, hw, path, client, driver):
    dev = getattr(hw, client)
    value = f"{path}/{SENSOR_VALUE}"
    wait_value(rest, value, 25.0)
    hw.i2c_unbind(dev, driver)
    try:
        deadline = time.monotonic() + 10
        while True:
            r = rest.read(EP, value)
            if r.code == 503:
                break
            assert r.code == 205, r
            assert time.monotonic() < deadline, f"{value} still answers {r} with the device unbound"
            time.sleep(0.3)
    finally:
        hw.i2c_bind(dev, driver)
    wait_value(rest, value, 25.0, timeout=20)
    assert lwm2md.alive()


def test_failure_is_pushed_to_observers_and_ends_the_observation(lwm2md, rest, events, hw, lm75):
    """An observed value whose device goes away: the observer gets a 5.03 notification at once
    (not at the next read), which ends the observation (RFC 7641 3.2: an error carries no
    Observe); with the device back a new observation notifies again."""
    path = f"/3303/1/{SENSOR_VALUE}"
    wait_value(rest, path, 25.0)
    stream = events()
    r = observe(rest, EP, path)
    assert r.code == 205, r
    start = len(stream.events)
    hw.i2c_unbind(hw.lm75, "lm75")
    try:
        e = stream.wait_for("NOTIFICATION", is_notification_of(path), timeout=20)
        assert e.data.get("val") is None, f"not an error notification: {e.data}"
        # the server has no observation left to cancel
        r = cancel_observe(rest, EP, path, active=True)
        assert r.http == 404 and "no observation" in str(r.body), \
            f"the observation of {path} still exists at the server: {r}"
        assert f"observation of {path} ended: it can no longer be read" in lwm2md.log()
    finally:
        hw.i2c_bind(hw.lm75, "lm75")
    wait_value(rest, path, 25.0, timeout=20)
    # nothing more for the ended observation, whatever the value does
    lm75(26.5)
    wait_value(rest, path, 26.5)
    notes = events_since(stream, "NOTIFICATION", start, is_notification_of(path))
    assert len(notes) == 1, f"notifications after the observation ended: {[n.data for n in notes]}"
    r = observe(rest, EP, path)
    assert r.code == 205 and r.content == pytest.approx(26.5), r
    try:
        lm75(24.0)
        e = stream.wait_for("NOTIFICATION", lambda d: is_notification_of(path)(d) and
                            single_value(d) == pytest.approx(24.0), timeout=10)
    finally:
        cancel_observe(rest, EP, path, active=True)


def test_present_device_instance_follows_the_device(lwm2md, rest, events, hw):
    """present = device: /3303/2 (tmp102) exists only while its device does; the registration is
    updated when it goes and when it comes back."""
    links = lambda d: {l["url"] for l in d["registration"]["objectLinks"]}  # noqa: E731
    assert "/3303/2" in {l["url"] for l in rest.client(EP)["objectLinks"]}
    stream = events()
    hw.i2c_unbind(hw.tmp102, "tmp102")
    try:
        e = stream.wait_for("UPDATED", lambda d: "/3303/2" not in links(d), timeout=20)
        assert "/3303/1" in links(e.data)
        r = rest.read(EP, f"/3303/2/{SENSOR_VALUE}")
        assert r.code == 404, r
    finally:
        hw.i2c_bind(hw.tmp102, "tmp102")
    stream.wait_for("UPDATED", lambda d: "/3303/2" in links(d), timeout=20)
    assert read_value(rest, f"/3303/2/{SENSOR_VALUE}") == pytest.approx(25.5)


def test_uevents_show_a_device_going_and_coming_without_waiting_for_the_period(lwm2md, rest, events,
                                                                             hw):
    """/3303/5 (lm75) and /3303/6 (tmp102, present = device) are sampled every 300 s and their
    values count as fresh for as long: only the kernel's device events can make lwm2md look
    at them again within the run. Unbound: 5.03, and /3303/6 deleted with an Update; bound
    again: values, and /3303/6 back with an Update, all well before a tick could do it."""
    links = lambda d: {l["url"] for l in d["registration"]["objectLinks"]}  # noqa: E731
    value, inlet = f"/3303/5/{SENSOR_VALUE}", f"/3303/6/{SENSOR_VALUE}"
    assert rest.read(EP, value).code == 205
    assert "/3303/6" in {l["url"] for l in rest.client(EP)["objectLinks"]}
    stream = events()
    hw.i2c_unbind(hw.lm75, "lm75")
    hw.i2c_unbind(hw.tmp102, "tmp102")
    try:
        deadline = time.monotonic() + 30
        while (r := rest.read(EP, value)).code != 503:
            assert r.code == 205, r
            assert time.monotonic() < deadline, f"{value} still answers {r} with its device unbound"
            time.sleep(0.3)
        stream.wait_for("UPDATED", lambda d: "/3303/6" not in links(d), timeout=30)
    finally:
        hw.i2c_bind(hw.lm75, "lm75")
        hw.i2c_bind(hw.tmp102, "tmp102")
    wait_value(rest, value, 25.0, timeout=30)
    stream.wait_for("UPDATED", lambda d: "/3303/6" in links(d), timeout=30)
    assert read_value(rest, inlet) == pytest.approx(25.5)
    assert "netlink uevent" not in lwm2md.log(), "lwm2md did not listen to device events"


def test_gpio_chip_added_and_removed_at_run_time(lwm2md, rest, events, hw):
    """/3200/2 names chip "hwsim-late", absent at start: 5.03 until the chip appears, then the
    line's state (and its edges), and 5.03 again when the chip is gone; an observer of the
    state gets that 5.03 as its last notification."""
    value = f"/3200/2/{DI_STATE}"
    r = rest.read(EP, value)
    assert r.code == 503, r
    late = hw.late_chip(add=True)
    stream = events()
    try:
        pull = f"{late['late_gpiosim']}/sim_gpio0/pull"
        hw.vm.sh(f"echo pull-up > {pull}")
        wait_value(rest, value, True, timeout=20)
        hw.vm.sh(f"echo pull-down > {pull}")
        wait_value(rest, value, False, timeout=5)
        r = observe(rest, EP, value)
        assert r.code == 205 and r.content is False, r
    finally:
        hw.late_chip(add=False)
    e = stream.wait_for("NOTIFICATION", is_notification_of(value), timeout=20)
    assert e.data.get("val") is None, f"not an error notification: {e.data}"
    r = cancel_observe(rest, EP, value, active=True)
    assert r.http == 404 and "no observation" in str(r.body), r
    deadline = time.monotonic() + 20
    while (r := rest.read(EP, value)).code != 503:
        assert r.code == 205, r
        assert time.monotonic() < deadline, f"{value} still answers {r} with its chip gone"
        time.sleep(0.3)
    assert lwm2md.alive()


# --- restart (last: it restarts the session's daemon) ----------------------------------------------

def test_restart_keeps_application_type_and_releases_lines(lwm2md, rest, hw):
    """Application Type is writable and kept in the state folder; SIGTERM releases every GPIO
    line; the new process registers again and drives its outputs from initial."""
    r = rest.write(EP, f"/3303/1/{APPLICATION_TYPE}", res(APPLICATION_TYPE, "board temperature"))
    assert r.code == 204, r
    assert lwm2md.stop() == 0
    held = hw.vm.sh("gpioinfo hwsim-gpio | grep -F '\"lwm2md\"' || true")
    assert not held, f"lines still requested after lwm2md exited:\n{held}"
    rest.wait_gone(EP, timeout=10)
    lwm2md.start()
    rest.wait_client(EP, timeout=60)
    assert read_value(rest, f"/3303/1/{APPLICATION_TYPE}") == "board temperature"
    assert read_value(rest, f"/3303/1/{SENSOR_VALUE}") == pytest.approx(25.0)
    assert hw.line_value(LINE_LED) == 1
