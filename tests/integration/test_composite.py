"""Read-Composite, Write-Composite and Observe-Composite (with both cancels)
through the test server.  OMA ETS LwM2M 1.1 cases int-229 (read-composite),
int-230 (write-composite), int-236 (partial presence), int-304/305
(observe-composite and its cancel), int-308/309 (observe-composite while
instances come and go), int-310 (observe-composite and Write-Attributes).

A composite observation honours the attributes of every observed path: no
notification before the largest pmin, one at least every smallest pmax,
gt/lt/st per path (README, Information reporting)."""

import time

import pytest

from leshan import inst, multi, res, res_inst
from reporting_util import (cancel_composite, composite_content, event_values, events_since,
                            is_composite_notification, no_event, observe_composite, read_composite,
                            state_file, wait_count, write_attributes, write_composite)

FORMATS = ["SENML_JSON", "SENML_CBOR"]


@pytest.fixture
def dev(daemon):
    return daemon(lifetime=300, server_opts={"default_pmin": 0, "default_pmax": 0})


@pytest.mark.interop("int-229")
@pytest.mark.parametrize("fmt", FORMATS)
def test_read_composite_resources(dev, rest, endpoint, fmt):
    r = read_composite(rest, endpoint, ["/3/0/0", "/1/0/1"], fmt)
    assert r.code == 205, r
    got = composite_content(r)
    assert got == {"/3/0/0": rest.read(endpoint, "3/0/0").content, "/1/0/1": 300}, got


@pytest.mark.interop("int-229")
@pytest.mark.parametrize("fmt", FORMATS)
def test_read_composite_object_and_instance(dev, rest, endpoint, fmt):
    r = read_composite(rest, endpoint, ["/3", "/1/0"], fmt)
    assert r.code == 205, r
    got = composite_content(r)
    assert set(got) == {"/3", "/1/0"}, got
    device = rest.read(endpoint, "3", format="TLV").content
    assert list(got["/3"]) == [0], got["/3"]
    # every Device resource as a plain Read shows it, except the clock and
    # free memory, which may have changed in between
    a = {k: v for k, v in got["/3"][0].items() if k not in (10, 13)}
    b = {k: v for k, v in device[0].items() if k not in (10, 13)}
    assert a == b and 0 in a and 16 in a, (a, b)
    assert set(got["/3"][0]) == set(device[0])
    assert got["/1/0"][1] == 300 and got["/1/0"][0] == 1, got["/1/0"]


@pytest.mark.interop("int-236")
@pytest.mark.parametrize("fmt", FORMATS)
def test_read_composite_partial_presence(dev, rest, endpoint, fmt):
    """A path that does not exist (Location, /6/0, is not implemented) is
    left out; the answer is still CONTENT."""
    r = read_composite(rest, endpoint, ["/3/0/0", "/6/0", "/1/0/1", "/16/7"], fmt)
    assert r.code == 205, r
    got = composite_content(r)
    assert set(got) == {"/3/0/0", "/1/0/1"}, got


@pytest.mark.interop("int-230")
@pytest.mark.parametrize("fmt", FORMATS)
def test_write_composite_reads_back(dev, rest, endpoint, fmt):
    r = write_composite(rest, endpoint, {"/1/0/2": res(2, 7), "/1/0/3": res(3, 70)}, fmt)
    assert (r.code, r.status) == (204, "CHANGED(204)"), r
    assert rest.read(endpoint, "1/0/2").content == 7
    assert rest.read(endpoint, "1/0/3").content == 70
    got = composite_content(read_composite(rest, endpoint, ["/1/0/2", "/1/0/3"], fmt))
    assert got == {"/1/0/2": 7, "/1/0/3": 70}, got


def test_write_composite_all_or_nothing(dev, rest, endpoint):
    """A record the client refuses (read-only 1/0/0) leaves the others unwritten."""
    r = write_composite(rest, endpoint, {"/1/0/2": res(2, 9), "/1/0/0": res(0, 5)})
    assert r.code in (400, 405), r
    assert rest.read(endpoint, "1/0/2").content == 0
    assert rest.read(endpoint, "1/0/0").content == 1


def observed(ev, want: dict, timeout=15):
    """Waits for a composite NOTIFICATION whose values include want."""
    return ev.wait_for("NOTIFICATION",
                       lambda d: d.get("kind") == "composite" and
                       all(event_values(d).get(p) == v for p, v in want.items()), timeout=timeout)


@pytest.mark.interop("int-304")
def test_observe_composite_change_then_active_cancel(dev, rest, endpoint, events):
    d = dev
    ev = events(endpoint)
    paths = ["/1/0/5", "/3/0/0"]
    r = observe_composite(rest, endpoint, paths)
    assert r.code == 205, r
    manufacturer = rest.read(endpoint, "3/0/0").content
    assert composite_content(r) == {"/1/0/5": 86400, "/3/0/0": manufacturer}
    assert rest.write(endpoint, "1/0/5", res(5, 1234)).code == 204
    n = observed(ev, {"/1/0/5": 1234})
    assert event_values(n.data) == {"/1/0/5": 1234, "/3/0/0": manufacturer}, n.data
    assert sorted(n.data.get("paths") or []) == sorted(paths), n.data
    # a write outside the observed paths: nothing
    assert rest.write(endpoint, "1/0/2", res(2, 1)).code == 204
    no_event(ev, "NOTIFICATION", is_composite_notification(), seconds=2)

    off = d.log_size()
    r = cancel_composite(rest, endpoint, paths, active=True)
    assert r.code == 205, r
    d.wait_log(r"observation of /1/0/5,/3/0/0 ended: cancelled by the server", timeout=10, offset=off)
    assert rest.write(endpoint, "1/0/5", res(5, 4321)).code == 204
    no_event(ev, "NOTIFICATION", is_composite_notification(), seconds=2.5)
    assert "/1/0/5" not in state_file(d, "observations.json").read_text()


@pytest.mark.interop("int-305")
def test_observe_composite_passive_cancel(dev, rest, endpoint, events):
    d = dev
    ev = events(endpoint)
    paths = ["/1/0/5", "/1/0/6"]
    assert observe_composite(rest, endpoint, paths).code == 205
    assert rest.write(endpoint, "1/0/6", res(6, False)).code == 204
    observed(ev, {"/1/0/6": False})
    off = d.log_size()
    assert cancel_composite(rest, endpoint, paths).http == 200
    # the next notification is refused with a Reset, which ends it
    assert rest.write(endpoint, "1/0/5", res(5, 99)).code == 204
    d.wait_log(r"observation of /1/0/5,/1/0/6 ended: Reset by the server", timeout=15, offset=off)
    assert rest.write(endpoint, "1/0/5", res(5, 98)).code == 204
    no_event(ev, "NOTIFICATION", is_composite_notification(), seconds=2)
    d.assert_alive()


# --- attributes of the observed paths (int-308, int-309, int-310) ----------------

IDENTITY_A = {0: "aa", 1: "bb", 2: "cc", 3: "dd"}
IDENTITY_B = {0: "11", 1: "22", 2: "33", 3: "44"}
PMIN = 6        # s: on /16/0, and so on the whole composite observation


def portfolio(iid: int, values: dict) -> dict:
    return inst(iid, [multi(0, values, type="string")])


def composite_events(ev, start: int) -> list:
    return events_since(ev, "NOTIFICATION", start, is_composite_notification())


@pytest.mark.interop("int-308")
def test_observe_composite_sees_created_instance_after_pmin(dev, rest, endpoint, events):
    """/16/1 does not exist when observed; its creation is notified, but not
    before the pmin written on /16/0 (the server defaults are 0 here)."""
    ev = events(endpoint)
    assert rest.create(endpoint, "16", portfolio(0, IDENTITY_A)).code == 201
    assert write_attributes(rest, endpoint, "16/0", f"pmin={PMIN}&pmax=60").code == 204
    r = observe_composite(rest, endpoint, ["/16/0", "/16/1"])
    assert r.code == 205, r
    assert composite_content(r) == {"/16/0": {0: IDENTITY_A}}
    start = len(ev.events)
    assert rest.create(endpoint, "16", portfolio(1, IDENTITY_B)).code == 201
    no_event(ev, "NOTIFICATION", is_composite_notification(), seconds=2, since=start)
    n = wait_count(ev, "NOTIFICATION", 1, start, is_composite_notification(), timeout=PMIN + 15)[0]
    assert event_values(n.data) == {"/16/0": {0: IDENTITY_A}, "/16/1": {0: IDENTITY_B}}, n.data


@pytest.mark.interop("int-309")
def test_observe_composite_sees_deleted_instance_after_pmin(dev, rest, endpoint, events):
    ev = events(endpoint)
    assert rest.create(endpoint, "16", portfolio(0, IDENTITY_A)).code == 201
    assert rest.create(endpoint, "16", portfolio(1, IDENTITY_B)).code == 201
    assert write_attributes(rest, endpoint, "16/0", f"pmin={PMIN}&pmax=60").code == 204
    r = observe_composite(rest, endpoint, ["/16/0", "/16/1"])
    assert r.code == 205, r
    assert composite_content(r) == {"/16/0": {0: IDENTITY_A}, "/16/1": {0: IDENTITY_B}}
    start = len(ev.events)
    assert rest.delete(endpoint, "16/1").code == 202
    no_event(ev, "NOTIFICATION", is_composite_notification(), seconds=2, since=start)
    n = wait_count(ev, "NOTIFICATION", 1, start, is_composite_notification(), timeout=PMIN + 15)[0]
    assert event_values(n.data) == {"/16/0": {0: IDENTITY_A}}, n.data
    # the observation goes on with what is left
    assert rest.write(endpoint, "16/0/0/0", res_inst(0, "zz"), format="TEXT").code == 204
    n = wait_count(ev, "NOTIFICATION", 2, start, is_composite_notification(), timeout=PMIN + 15)[1]
    assert event_values(n.data) == {"/16/0": {0: {**IDENTITY_A, 0: "zz"}}}, n.data


@pytest.mark.interop("int-310")
def test_observe_composite_follows_pmax_written_on_a_path(dev, rest, endpoint, events):
    """Server defaults pmin = pmax = 0: nothing without a change; pmax=2 on
    /3 makes the composite observation of /1/0/1 and /3/0 notify at least
    every 2 s, unchanged or not; unsetting it stops that."""
    ev = events(endpoint)
    paths = ["/1/0/1", "/3/0"]
    assert observe_composite(rest, endpoint, paths).code == 205
    no_event(ev, "NOTIFICATION", is_composite_notification(), seconds=3)
    start = len(ev.events)
    assert write_attributes(rest, endpoint, "3", "pmax=2").code == 204
    got = wait_count(ev, "NOTIFICATION", 4, start, is_composite_notification(), timeout=30)
    for n in got:
        vals = event_values(n.data)
        assert set(vals) == set(paths) and vals["/1/0/1"] == 300, n.data
    assert write_attributes(rest, endpoint, "3", "pmax").code == 204
    time.sleep(3)           # one may have been on its way
    no_event(ev, "NOTIFICATION", is_composite_notification(), seconds=5)


def test_observe_composite_value_conditions_per_path(dev, rest, endpoint, events):
    """gt on /1/0/5 filters changes of /1/0/5 only; a change of /1/0/6 (no
    conditions) is notified, with both values."""
    ev = events(endpoint)
    assert write_attributes(rest, endpoint, "1/0/5", "gt=1000").code == 204
    r = observe_composite(rest, endpoint, ["/1/0/5", "/1/0/6"])
    assert r.code == 205, r
    storing = composite_content(r)["/1/0/6"]
    start = len(ev.events)
    assert rest.write(endpoint, "1/0/5", res(5, 2000)).code == 204      # 86400 -> 2000: no crossing
    no_event(ev, "NOTIFICATION", is_composite_notification(), seconds=2, since=start)
    assert rest.write(endpoint, "1/0/6", res(6, not storing)).code == 204
    n = wait_count(ev, "NOTIFICATION", 1, start, is_composite_notification(), timeout=15)[0]
    assert event_values(n.data) == {"/1/0/5": 2000, "/1/0/6": not storing}, n.data
    assert rest.write(endpoint, "1/0/5", res(5, 500)).code == 204       # crosses 1000
    n = wait_count(ev, "NOTIFICATION", 2, start, is_composite_notification(), timeout=15)[1]
    assert event_values(n.data) == {"/1/0/5": 500, "/1/0/6": not storing}, n.data
    assert len(composite_events(ev, start)) == 2


def test_observe_composite_one_notification_per_sampling_pass(daemon, rest, endpoint, events):
    """Two ramps sampled together (one period, so one pass): every composite
    notification carries both new values, never one new and one old, as it
    would if each member's change went out on its own."""
    ramp = {"object": 3303, "driver": "sim", "waveform": "ramp", "value": 0, "amplitude": 1000,
            "wave_period": 1000, "period": 1}
    daemon(server_opts={"default_pmin": 0, "default_pmax": 0},
           sections={"sensor.a": dict(ramp), "sensor.b": dict(ramp, value=500)})
    ev = events(endpoint)
    paths = ["/3303/0/5700", "/3303/1/5700"]
    assert observe_composite(rest, endpoint, paths).code == 205
    seen = wait_count(ev, "NOTIFICATION", 5, 0, is_composite_notification(), timeout=30)
    vals = [event_values(n.data) for n in seen]
    for before, after in zip(vals, vals[1:]):
        assert all(after[p] != before[p] for p in paths), f"a notification with one member new: {vals}"
