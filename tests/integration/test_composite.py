"""Read-Composite, Write-Composite and Observe-Composite (with both cancels)
through the test server.  OMA ETS LwM2M 1.1 cases int-229 (read-composite),
int-230 (write-composite), int-236 (partial presence), int-304/305
(observe-composite and its cancel)."""

import pytest

from leshan import res
from reporting_util import (cancel_composite, composite_content, event_values,
                            is_composite_notification, no_event, observe_composite, read_composite,
                            state_file, write_composite)

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
