"""[sensor.NAME] sections as IPSO objects, seen from the test server: the sim
driver (values, units, min/max and their reset, Application Type written and
kept across a restart, observation with gt/lt as the ramp moves, digital
inputs and outputs), a hwmon sensor whose chip is missing (5.03, one log line),
a hwmon fixture tree under LWM2MD_SYSROOT that comes and goes (hot-plug, and
present = device instances created and deleted with a registration Update),
SIGHUP adding a sensor, and --check-config on bad sensor sections.

Real kernel drivers (IIO, hwmon, GPIO) are tested in the VM (tests/hwsim)."""

import json
import re
import shutil
import signal
import time

import pytest

import rawpeer as rp
from conftest import wait_registered
from daemon import REPO, run_cli
from leshan import res
from reporting_util import (is_notification_of, observe, single_value, wait_count,
                            write_attributes)

FAST = 0.2      # s: sampling period of the sensors under test


def sensor(**kv) -> dict:
    return {k: v for k, v in kv.items()}


def value(r):
    """The value of a single-resource read."""
    assert r.code == 205, r
    return r.content


def wait_until(fn, timeout=10.0, step=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(step)


def links(rest, ep) -> set:
    reg = rest.client(ep)
    return {lk["url"] for lk in reg["objectLinks"]}


# --- values ----------------------------------------------------------------------

def test_temperature_in_celsius_with_units(daemon, rest, endpoint):
    daemon(sections={"sensor.room": sensor(object=3303, driver="sim", waveform="constant",
                                           value=21.5)})
    assert value(rest.read(endpoint, "3303/0/5700")) == 21.5
    assert value(rest.read(endpoint, "3303/0/5701")) == "Cel"
    # the registration announces the object with its version
    reg = rest.client(endpoint)
    ver = {lk["url"]: lk["attributes"].get("ver") for lk in reg["objectLinks"]}
    assert ver.get("/3303") == "1.1" and "/3303/0" in ver, reg["objectLinks"]


def test_scale_offset_units_and_range(daemon, rest, endpoint):
    daemon(sections={"sensor.tank": sensor(object=3300, driver="sim", value=200, scale=0.5,
                                           offset=-10, units="cm", min_range=0,
                                           max_range=150, sensor_type="level probe")})
    assert value(rest.read(endpoint, "3300/0/5700")) == 90.0
    assert value(rest.read(endpoint, "3300/0/5701")) == "cm"
    assert value(rest.read(endpoint, "3300/0/5603")) == 0.0
    assert value(rest.read(endpoint, "3300/0/5604")) == 150.0
    assert value(rest.read(endpoint, "3300/0/5751")) == "level probe"


def test_min_max_and_reset(daemon, rest, endpoint):
    """A ramp of 1 unit a second: the extremes spread, a reset brings them
    back to the value of the moment, and they spread again from there."""
    daemon(sections={"sensor.ramp": sensor(object=3303, driver="sim", waveform="ramp", value=10,
                                           amplitude=100, wave_period=100, period=FAST)})
    mn = value(rest.read(endpoint, "3303/0/5601"))
    wait_until(lambda: value(rest.read(endpoint, "3303/0/5602")) > mn + 2, what="max moving up")
    assert value(rest.read(endpoint, "3303/0/5601")) == mn
    r = rest.execute(endpoint, "3303/0/5605")
    assert r.code == 204, r
    got = rest.read(endpoint, "3303/0").content
    assert got[5601] > mn + 2, got
    assert got[5601] <= got[5700] <= got[5602] and got[5602] - got[5601] < 1.5, got
    # the reading timestamp is now-ish
    assert abs(got[5518].timestamp() - time.time()) < 5, got


def test_application_type_written_and_kept_across_restart(daemon, rest, endpoint, leshan):
    d = daemon(sections={"sensor.room": sensor(object=3303, driver="sim", value=20,
                                               application_type="living room")})
    assert value(rest.read(endpoint, "3303/0/5750")) == "living room"
    r = rest.write(endpoint, "3303/0/5750", res(5750, "greenhouse"))
    assert r.code == 204, r
    assert value(rest.read(endpoint, "3303/0/5750")) == "greenhouse"
    saved = json.loads((d.workdir / "state" / "sensors.json").read_text())
    assert saved == {"room": {"application_type": "greenhouse"}}, saved
    # a read-only resource stays read-only
    assert rest.write(endpoint, "3303/0/5700", res(5700, 1.0)).code == 405

    assert d.stop(signal.SIGTERM, timeout=15) == 0
    d.waited = False
    d.start()
    wait_registered(d, leshan)
    assert value(rest.read(endpoint, "3303/0/5750")) == "greenhouse"


def test_three_axes(daemon, rest, endpoint):
    daemon(sections={"sensor.tilt": sensor(object=3313, driver="sim", waveform="sine", value=0,
                                           amplitude=9.81, wave_period=30)})
    got = rest.read(endpoint, "3313/0").content
    assert {5702, 5703, 5704} <= set(got), got
    assert all(abs(got[r]) <= 9.81 for r in (5702, 5703, 5704)), got
    assert got[5701] == "m/s2", got


# --- observation with gt/lt as the ramp moves ----------------------------------------

@pytest.mark.parametrize("attr", ["gt=50", "lt=50"])
def test_observe_notifies_on_crossings_only(daemon, rest, endpoint, events, attr):
    """A sawtooth from 0 to 100 in 4 s, sampled every 0.2 s: some 20 new values
    a cycle, and two crossings of 50 (up through it, and down when it wraps)."""
    daemon(server_opts={"default_pmin": 0, "default_pmax": 0},
           sections={"sensor.ramp": sensor(object=3303, driver="sim", waveform="ramp", value=0,
                                           amplitude=100, wave_period=4, period=FAST)})
    ev = events(endpoint)
    assert write_attributes(rest, endpoint, "3303/0/5700", attr).code == 204
    r = observe(rest, endpoint, "3303/0/5700")
    assert r.code == 205, r
    t0 = time.monotonic()
    got = wait_count(ev, "NOTIFICATION", 4, pred=is_notification_of("/3303/0/5700"), timeout=20)
    elapsed = time.monotonic() - t0
    vals = [r.content] + [single_value(e.data) for e in got]
    sides = [v > 50 for v in vals] if attr.startswith("gt") else [v < 50 for v in vals]
    assert all(a != b for a, b in zip(sides, sides[1:])), f"a notification without a crossing: {vals}"
    # no more than the crossings there were (2 per 4 s cycle, plus one of slack)
    seen = len([e for e in ev.seen("NOTIFICATION", is_notification_of("/3303/0/5700"))])
    assert seen <= 2 * (time.monotonic() - t0) / 4 + 2, f"{seen} notifications in {elapsed:.1f} s"


# --- digital inputs and outputs --------------------------------------------------------

def test_digital_input_counts_and_notifies(daemon, rest, endpoint, events):
    daemon(server_opts={"default_pmin": 0, "default_pmax": 0},
           sections={"sensor.door": sensor(object=3200, driver="sim", waveform="square", value=0,
                                           amplitude=1, wave_period=1, period=0.1,
                                           edge="both")})
    ev = events(endpoint)
    assert value(rest.read(endpoint, "3200/0/5504")) == 3
    r = observe(rest, endpoint, "3200/0/5500")
    assert r.code == 205, r
    got = wait_count(ev, "NOTIFICATION", 3, pred=is_notification_of("/3200/0/5500"), timeout=15)
    states = [r.content] + [single_value(e.data) for e in got]
    assert all(a != b for a, b in zip(states, states[1:])), states
    n = value(rest.read(endpoint, "3200/0/5501"))
    assert n >= 3, n
    assert rest.execute(endpoint, "3200/0/5505").code == 204
    assert value(rest.read(endpoint, "3200/0/5501")) < n
    # settings the server may write
    assert rest.write(endpoint, "3200/0/5503", res(5503, 20)).code == 204
    assert value(rest.read(endpoint, "3200/0/5503")) == 20
    assert rest.write(endpoint, "3200/0/5504", res(5504, 4)).code == 400
    assert rest.write(endpoint, "3200/0/5503", res(5503, -1)).code == 400


def test_digital_output_written_by_the_server(daemon, rest, endpoint):
    d = daemon(sections={"sensor.relay": sensor(object=3201, driver="sim", initial="on"),
                         "sensor.pump": sensor(object=3306, driver="sim")})
    assert value(rest.read(endpoint, "3201/0/5550")) is True
    assert rest.write(endpoint, "3201/0/5550", res(5550, False)).code == 204
    assert value(rest.read(endpoint, "3201/0/5550")) is False
    assert rest.write(endpoint, "3201/0/5551", res(5551, True)).code == 204
    assert value(rest.read(endpoint, "3201/0/5551")) is True
    assert value(rest.read(endpoint, "3306/0/5850")) is False
    assert rest.write(endpoint, "3306/0/5850", res(5850, True)).code == 204
    time.sleep(1.2)
    assert value(rest.read(endpoint, "3306/0/5852")) >= 1
    assert rest.write(endpoint, "3306/0/5852", res(5852, 0)).code == 204
    assert value(rest.read(endpoint, "3306/0/5852")) == 0
    assert rest.write(endpoint, "3306/0/5852", res(5852, 5)).code == 400
    # the written polarity is a setting: kept
    saved = json.loads((d.workdir / "state" / "sensors.json").read_text())
    assert saved == {"relay": {"polarity": True}}, saved


def test_bad_value_written_to_an_output_is_400(daemon, rawpeer):
    """What Leshan will not send (it checks types first): through a raw peer."""
    peer = rawpeer()
    daemon(server=peer, sections={"sensor.relay": sensor(object=3201, driver="sim")})
    r = peer.put("/3201/0/5550", b"maybe", cf=rp.CF_TEXT)
    assert r.code == rp.BAD_REQUEST, r
    r = peer.put("/3201/0/5550", b"1", cf=rp.CF_TEXT)
    assert r.code == rp.CHANGED, r
    r = peer.get("/3201/0/5550", accept=rp.CF_TEXT)
    assert (r.code, r.text()) == (rp.CONTENT, "1"), r


# --- failures and hot-plug -----------------------------------------------------------------

def test_missing_chip_answers_503_and_logs_once(daemon, rest, endpoint):
    d = daemon(sections={"sensor.board": sensor(object=3303, driver="hwmon",
                                                device="no-such-chip", channel="temp1",
                                                period=FAST)})
    r = rest.read(endpoint, "3303/0/5700")
    assert r.code == 503, r
    # the instance is there, with what it knows without the chip
    inst = rest.read(endpoint, "3303/0")
    assert inst.code == 205 and inst.content.get(5701) == "Cel", inst
    time.sleep(2.5)         # several retries
    assert rest.read(endpoint, "3303/0/5700").code == 503
    lines = [ln for ln in d.log().splitlines() if "3303/0 board" in ln]
    assert len(lines) == 1, lines
    assert "cannot open: no hwmon device named no-such-chip" in lines[0], lines
    assert "answering 5.03 until it works" in lines[0], lines


def hwmon(root, n, name, milli):
    d = root / "sys" / "class" / "hwmon" / f"hwmon{n}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "name").write_text(name + "\n")
    set_input(d, milli)
    return d


def set_input(d, milli):
    tmp = d / "temp1_input.tmp"
    tmp.write_text(f"{milli}\n")
    tmp.replace(d / "temp1_input")     # a new file, as a rebound chip's would be


def test_hwmon_unplugged_and_back(daemon, rest, endpoint, tmp_path, monkeypatch):
    root = tmp_path / "root"
    chip = hwmon(root, 0, "lm75", 25000)
    monkeypatch.setenv("LWM2MD_SYSROOT", str(root))
    d = daemon(sections={"sensor.board": sensor(object=3303, driver="hwmon", device="lm75",
                                                channel="temp1", period=FAST)})
    assert value(rest.read(endpoint, "3303/0/5700")) == 25.0
    set_input(chip, 26500)
    wait_until(lambda: rest.read(endpoint, "3303/0/5700").content == 26.5, what="26.5")
    # unbound: 5.03, one log line
    shutil.rmtree(chip)
    wait_until(lambda: rest.read(endpoint, "3303/0/5700").code == 503, what="5.03")
    d.wait_log(r"3303/0 board: read failed: .*hwmon0/temp1_input.*answering 5\.03")
    # bound again, under another number: values again, one log line
    hwmon(root, 3, "lm75", 27125)
    wait_until(lambda: rest.read(endpoint, "3303/0/5700").content == 27.125, what="27.125")
    d.wait_log(r"3303/0 board: working again: .*hwmon3/temp1_input")
    log = d.log()
    assert log.count("3303/0 board: read failed") == 1, log
    assert log.count("3303/0 board: working again") == 1, log
    # min/max span both chips' values
    assert value(rest.read(endpoint, "3303/0/5601")) == 25.0
    assert value(rest.read(endpoint, "3303/0/5602")) == 27.125


def test_present_device_instances_come_and_go(daemon, rest, endpoint, tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "sys" / "class" / "hwmon").mkdir(parents=True)
    monkeypatch.setenv("LWM2MD_SYSROOT", str(root))
    d = daemon(sections={"sensor.plug": sensor(object=3303, driver="hwmon", device="tmp102",
                                               channel="temp1", present="device", instance=5,
                                               period=FAST)})
    assert "/3303/5" not in links(rest, endpoint)
    assert rest.read(endpoint, "3303/5/5700").code == 404
    chip = hwmon(root, 1, "tmp102", 19500)
    rest.wait_client(endpoint, timeout=10, pred=lambda reg: "/3303/5" in
                     {lk["url"] for lk in reg["objectLinks"]}, what="updated with /3303/5")
    assert value(rest.read(endpoint, "3303/5/5700")) == 19.5
    shutil.rmtree(chip)
    rest.wait_client(endpoint, timeout=10, pred=lambda reg: "/3303/5" not in
                     {lk["url"] for lk in reg["objectLinks"]}, what="updated without /3303/5")
    assert rest.read(endpoint, "3303/5/5700").code == 404
    d.wait_log(r"3303/5 plug: device present .*: instance created")


def test_reload_adds_a_sensor(daemon, rest, endpoint):
    d = daemon(sections={"sensor.a": sensor(object=3303, driver="sim", value=1)})
    assert value(rest.read(endpoint, "3303/0/5700")) == 1.0
    assert rest.write(endpoint, "3303/0/5750", res(5750, "kept")).code == 204
    d.reconfigure(**{"sensor.b": sensor(object=3303, driver="sim", value=2)})
    d.signal(signal.SIGHUP)
    rest.wait_client(endpoint, timeout=10, pred=lambda reg: "/3303/1" in
                     {lk["url"] for lk in reg["objectLinks"]}, what="updated with /3303/1")
    assert value(rest.read(endpoint, "3303/1/5700")) == 2.0
    # the unchanged sensor kept its instance and what the server wrote
    assert value(rest.read(endpoint, "3303/0/5750")) == "kept"


# --- configuration ----------------------------------------------------------------------------

BAD = """\
[server]
uri = coap://127.0.0.1:5683

[sensor.a]
object = 3303
driver = sim
period = 0

[sensor.b]
object = 3399
driver = sim

[sensor.c]
object = 3303
driver = usb

[sensor.d]
object = 3303
driver = iio
device = ads1015
channel = voltage0

[sensor.e]
object = 3200
driver = gpio
chip = gpiochip0
line = 17

[sensor.f]
object = 3347
driver = gpio
chip = gpiochip0
line = 17
"""


def test_check_config_reports_every_sensor_error(tmp_path):
    ini = tmp_path / "bad.ini"
    ini.write_text(BAD)
    cp = run_cli(["--check-config", "-c", ini])
    assert cp.returncode == 78, cp
    want = [
        f'{ini}:7: [sensor.a] period = "0": out of range (0.1..86400 s)',
        f'{ini}:10: [sensor.b] object = "3399": unknown object: expected 3200,',
        f'{ini}:15: [sensor.c] driver = "usb": unknown driver: expected sim, hwmon, thermal, iio or gpio',
        f'{ini}:21: [sensor.d] channel = "voltage0": a voltage channel; 3303 (Temperature) needs temperature',
        f'{ini}:33: [sensor.f] line = "17": GPIO line 17 of chip gpiochip0 is used by [sensor.e] already',
    ]
    for w in want:
        assert w in cp.stderr, f"missing: {w}\n{cp.stderr}"


def test_check_config_warns_about_missing_hardware(tmp_path):
    ini = tmp_path / "hw.ini"
    ini.write_text("[server]\nuri = coap://127.0.0.1:5683\n\n"
                   "[sensor.cpu]\nobject = 3303\ndriver = thermal\nzone = no-such-zone\n")
    cp = run_cli(["--check-config", "-c", ini])
    assert cp.returncode == 0, cp
    # the section's line: its header, or its first key where inih does not
    # report headers
    assert re.search(rf"^{re.escape(str(ini))}:[45]: \[sensor\.cpu\]: warning: no thermal zone of "
                     r"type no-such-zone", cp.stderr, re.M), cp.stderr


# --- the shipped sample ------------------------------------------------------------------------

SAMPLE = REPO / "etc" / "lwm2md.ini"


def sample_sensor_sections(text: str, commented: bool) -> str:
    """The [sensor.*] sections of the sample (the commented-out ones, uncommented)."""
    out, inside = [], False
    for line in text.splitlines():
        # commented-out settings are ";key = value" and ";[section]"; prose is "; text"
        setting = line.startswith(";") and line[1:2] not in ("", " ", ";")
        if commented != setting:
            if line.startswith("[") or setting:
                inside = False
            continue
        body = line[1:] if commented else line
        if body.startswith("["):
            inside = body.startswith("[sensor.")
        if inside and body.strip():
            out.append(body)
    return "\n".join(out) + "\n"


def test_sample_raspberry_pi_examples_are_valid(tmp_path):
    """Uncommented, the examples pass --check-config (missing hardware is a warning)."""
    text = sample_sensor_sections(SAMPLE.read_text(), commented=True)
    for want in ("[sensor.bme280-temperature]", "[sensor.tilt]", "[sensor.cpu]", "[sensor.button]",
                 "[sensor.relay]"):
        assert want in text, text
    ini = tmp_path / "pi.ini"
    ini.write_text("[server]\nuri = coap://127.0.0.1:5683\n\n" + text)
    cp = run_cli(["--check-config", "-c", ini])
    assert cp.returncode == 0, cp.stderr


def test_sample_demo_sensor_shows_a_temperature(daemon, rest, endpoint):
    text = sample_sensor_sections(SAMPLE.read_text(), commented=False)
    sections, name = {}, None
    for line in text.splitlines():
        if line.startswith("[sensor."):
            name = line.strip("[]")
            sections[name] = {}
        elif "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            sections[name][k] = v
    assert len(sections) == 1, sections
    daemon(sections=sections)
    t = value(rest.read(endpoint, "3303/0/5700"))
    assert 18.9 <= t <= 23.1, t
    assert value(rest.read(endpoint, "3303/0/5701")) == "Cel"
