"""The Device object (3): what a server reads matches the system (os-release,
/proc/meminfo, the clock, lwm2md --version) and the [device] overrides, in
every format; Reboot and Factory Reset run their hooks.
OMA ETS LwM2M 1.1 cases int-201, int-203, int-222, int-223, int-224, int-225,
int-231, int-232, int-237, int-241."""

import re
from datetime import datetime, timezone

import pytest

from leshan import res
from util import meminfo_kb, os_release, poll, version_number

FORMATS = ["TLV", "SENML_JSON", "SENML_CBOR"]

OVERRIDES = {"manufacturer": "ACME Gateways", "model": "GW-9000", "serial": "SN-0042",
             "hardware_version": "rev C", "device_type": "gateway", "timezone": "Europe/Berlin",
             "utc_offset": "+01:00"}
# resource id of each [device] key
RID = {"manufacturer": 0, "model": 1, "serial": 2, "firmware_version": 3, "utc_offset": 14, "timezone": 15,
       "device_type": 17, "hardware_version": 18}


@pytest.fixture
def dev(daemon):
    return daemon(device=OVERRIDES)


def check_device_instance(d: dict):
    """Checks one decoded /3/0 against the overrides and the system."""
    for key, value in OVERRIDES.items():
        assert d.get(RID[key]) == value, f"3/0/{RID[key]} ({key}) = {d.get(RID[key])!r}, want {value!r}"
    osr = os_release()
    fw = d.get(3)
    assert isinstance(fw, str) and fw, f"3/0/3 firmware version: {fw!r}"
    wanted = [osr[k] for k in ("PRETTY_NAME", "VERSION") if osr.get(k)]
    assert any(w in fw for w in wanted), f"3/0/3 {fw!r} names none of {wanted} (os-release)"
    assert d.get(19) == version_number(), f"3/0/19 {d.get(19)!r} is not lwm2md --version"
    total = meminfo_kb("MemTotal")
    assert d.get(21) == total, f"3/0/21 {d.get(21)!r} != MemTotal {total} kB"
    free = d.get(10)
    assert isinstance(free, int) and 0 < free <= total, f"3/0/10 memory free {free!r} (total {total} kB)"
    t = d.get(13)
    assert isinstance(t, datetime), f"3/0/13 current time: {t!r}"
    assert abs((t - datetime.now(timezone.utc)).total_seconds()) < 60, f"3/0/13 {t} is not now"
    assert isinstance(d.get(11), dict) and 0 in d[11], f"3/0/11 error codes: {d.get(11)!r}"
    assert "U" in d.get(16, ""), f"3/0/16 supported binding: {d.get(16)!r}"
    for exe in (4, 5, 12):
        assert exe not in d, f"executable 3/0/{exe} in a Read: {d}"


@pytest.mark.parametrize("fmt", FORMATS + [None])
def test_int_203_231_232_read_device_instance(dev, rest, endpoint, fmt):
    """int-203 (TLV), int-231 (SenML JSON), int-232 (SenML CBOR), int-237 (no
    format): Read /3/0 matches the system and the config."""
    r = rest.read(endpoint, "3/0", format=fmt)
    assert (r.code, r.status) == (205, "CONTENT(205)"), r
    check_device_instance(r.content)


@pytest.mark.parametrize("fmt", FORMATS + [None])
def test_int_222_read_device_object(dev, rest, endpoint, fmt):
    """int-222 / int-237: Read /3 -> exactly instance 0."""
    r = rest.read(endpoint, "3", format=fmt)
    assert r.code == 205, r
    assert list(r.content) == [0], r.content
    check_device_instance(r.content[0])


def test_device_instance_same_in_every_format(dev, rest, endpoint):
    """Apart from the clock and free memory, every format says the same."""
    seen = {}
    for fmt in FORMATS:
        c = rest.read(endpoint, "3/0", format=fmt).content
        seen[fmt] = {k: v for k, v in c.items() if k not in (10, 13)}
    assert seen["TLV"] == seen["SENML_JSON"] == seen["SENML_CBOR"], seen


def test_int_201_read_device_resources_as_text(dev, rest, endpoint):
    """int-201: TEXT reads of 3/0/0, 3/0/1, 3/0/2 (and the other single resources)."""
    for key in ("manufacturer", "model", "serial", "hardware_version", "device_type", "timezone", "utc_offset"):
        r = rest.read(endpoint, f"3/0/{RID[key]}", format="TEXT")
        assert (r.code, r.content) == (205, OVERRIDES[key]), f"3/0/{RID[key]}: {r}"
    assert rest.read(endpoint, "3/0/19", format="TEXT").content == version_number()
    assert rest.read(endpoint, "3/0/21", format="TEXT").content == meminfo_kb("MemTotal")
    t = rest.read(endpoint, "3/0/13", format="TEXT").content
    assert abs((t - datetime.now(timezone.utc)).total_seconds()) < 60, t


@pytest.mark.parametrize("fmt", ["TEXT"] + FORMATS + [None])
def test_int_224_read_device_resource(dev, rest, endpoint, fmt):
    """int-224: Read on single resources in each format."""
    r = rest.read(endpoint, "3/0/0", format=fmt)
    assert (r.code, r.content) == (205, "ACME Gateways"), r
    r = rest.read(endpoint, "3/0/16", format=fmt)
    assert r.code == 205 and "U" in r.content, r


@pytest.mark.parametrize("fmt", ["TEXT"] + FORMATS + [None])
def test_int_225_read_resource_instance(dev, rest, endpoint, fmt):
    """int-225: Read /3/0/11/0 (Error Code instance 0) -> 0, no error."""
    r = rest.read(endpoint, "3/0/11/0", format=fmt)
    assert (r.code, r.content) == (205, 0), r


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_multiple_resource(dev, rest, endpoint, fmt):
    r = rest.read(endpoint, "3/0/11", format=fmt)
    assert r.code == 205, r
    assert isinstance(r.content, dict) and r.content.get(0) == 0, r.content


def test_firmware_version_override(daemon, rest, endpoint):
    daemon(device={"firmware_version": "fw-7.7.7"})
    assert rest.read(endpoint, "3/0/3", format="TEXT").content == "fw-7.7.7"


def test_int_241_reboot_runs_hook(daemon, rest, endpoint, tmp_path):
    """int-241: Execute 3/0/4 with a reboot hook -> CHANGED, and the hook runs."""
    flag = tmp_path / "rebooted"
    d = daemon(hooks={"reboot": f"touch {flag}"})
    r = rest.execute(endpoint, "3/0/4")
    assert (r.code, r.status) == (204, "CHANGED(204)"), r
    poll(flag.exists, 10, f"reboot hook created {flag}")
    d.assert_alive("after the reboot hook")


def test_reboot_without_hook_not_allowed(daemon, rest, endpoint):
    daemon()
    r = rest.execute(endpoint, "3/0/4")
    assert (r.code, r.status) == (405, "METHOD_NOT_ALLOWED(405)"), r


def test_factory_reset_runs_hook(daemon, rest, endpoint, tmp_path):
    """Factory Reset: 2.04, de-register, the state folder emptied, the hook, then the
    daemon exits with 75 (systemd starts it afresh with the restored config)."""
    flag = tmp_path / "reset"
    d = daemon(hooks={"factory_reset": f"touch {flag}"}, device={"utc_offset": "+02:00"})
    assert rest.write(endpoint, "3/0/14", res(14, "+05:00"), format="TEXT").code == 204
    state = tmp_path / "daemon0" / "state"
    poll(lambda: (state / "device.json").exists(), 5, "device.json written")
    r = rest.execute(endpoint, "3/0/5")
    assert r.code == 204, r
    poll(flag.exists, 10, f"factory_reset hook created {flag}")
    assert d.wait(10) == 75
    assert not (state / "device.json").exists(), list(state.iterdir())
    assert "registration" not in " ".join(p.name for p in state.iterdir())
    d.start()
    rest.wait_client(endpoint, timeout=20)
    assert rest.read(endpoint, "3/0/14", format="TEXT").content == "+02:00"


def test_reboot_deregisters_first(daemon, rest, endpoint, tmp_path, events):
    """Reboot: the 2.04, then De-register, then the hook; a hook that returns while
    the box stays up: registered again 5 s later."""
    flag = tmp_path / "rebooted"
    d = daemon(hooks={"reboot": f"touch {flag}"})
    ev = events(endpoint)
    assert rest.execute(endpoint, "3/0/4").code == 204
    ev.wait_for("DEREGISTRATION", timeout=10)
    poll(flag.exists, 10, "reboot hook ran")
    ev.wait_for("REGISTRATION", timeout=20)
    d.wait_log(r"still running 5 s after the reboot hook; registering again")


def test_failing_hook_reported_in_error_code(daemon, rest, endpoint):
    """A hook that exits 3: logged with its status, Error Code 16, registered again."""
    d = daemon(hooks={"reboot": "exit 3"})
    assert rest.execute(endpoint, "3/0/4").code == 204
    d.wait_log(r"hook reboot: exited with status 3")
    d.wait_log(r"Reboot failed; reported as Error Code 16")
    rest.wait_client(endpoint, timeout=20)
    errors = poll(lambda: rest.read(endpoint, "3/0/11").content, 10, "3/0/11")
    assert 16 in errors.values(), errors
    assert rest.execute(endpoint, "3/0/12").code == 204     # Reset Error Code
    assert rest.read(endpoint, "3/0/11").content == {0: 0}


def test_factory_reset_without_hook_refused(daemon, rest, endpoint):
    """No hook: 405 (resource there, not executable now) or 404 (not offered)."""
    daemon()
    r = rest.execute(endpoint, "3/0/5")
    assert r.code in (404, 405), r


def test_hook_runs_once_per_execute(daemon, rest, endpoint, tmp_path):
    log = tmp_path / "reboots"
    d = daemon(hooks={"reboot": f"echo x >> {log}"})
    for n in (1, 2):
        assert rest.execute(endpoint, "3/0/4").code == 204
        poll(lambda: log.exists() and log.read_text().count("x") == n, 10, f"{n} hook runs")
        # the reboot hook returned and the box is still up: it registers again
        d.wait_log(r"registering again", offset=0 if n == 1 else d.log().index("registering again") + 1)
        rest.wait_client(endpoint, timeout=20)
    assert log.read_text().count("x") == 2


@pytest.mark.parametrize("path", ["3/0/0", "3/0/16", "3/0/11"])
def test_execute_on_non_executable_device_resource(dev, rest, endpoint, path):
    r = rest.execute(endpoint, path)
    assert (r.code, r.status) == (405, "METHOD_NOT_ALLOWED(405)"), r


@pytest.mark.parametrize("path", ["3/0/0", "3/0/21"])
def test_write_read_only_device_resource(dev, rest, endpoint, path):
    from leshan import res
    rid = int(path.rsplit("/", 1)[1])
    r = rest.write(endpoint, path, res(rid, "x" if rid == 0 else 1), format="TEXT")
    assert r.code == 405, r


def test_software_version_is_a_version_number(dev, rest, endpoint):
    v = rest.read(endpoint, "3/0/19", format="TEXT").content
    assert re.match(r"^\d+\.\d+\.\d+", v), v
