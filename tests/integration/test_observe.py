"""Write-Attributes, Discover of attributes, Observe with pmin/pmax/gt and
both cancels, through the test server's REST API and event stream.
OMA ETS LwM2M 1.1 cases int-260 (attributes in Discover), int-301 (observe
with pmin/pmax), int-302 (passive cancel), int-303 (active cancel).

Timing: only deadlines and "not before pmin" (with a generous margin) are
asserted, never how fast something happened."""

import time

import pytest

from leshan import res
from reporting_util import (cancel_observe, is_notification_of, no_event, observe, single_value,
                            state_file, wait_count, write_attributes)

MARGIN = 1.0   # s: arrival-time slack for "not before pmin"


def links(rest, ep, path) -> dict:
    r = rest.discover(ep, path)
    assert r.code == 205, r
    return r.links


def num(v):
    return None if v is None else float(str(v).strip('"'))


@pytest.fixture
def dev(daemon, rest, endpoint):
    """A daemon with default pmin/pmax 0 (so only written attributes count)."""
    return daemon(server_opts={"default_pmin": 0, "default_pmax": 0})


# --- Write-Attributes and Discover ---------------------------------------------

@pytest.mark.interop("int-260")
def test_attributes_on_object_instance_resource_show_in_discover(dev, rest, endpoint):
    assert write_attributes(rest, endpoint, "1", "pmin=1").code == 204
    assert write_attributes(rest, endpoint, "1/0", "pmax=40").code == 204
    r = write_attributes(rest, endpoint, "1/0/1", "pmin=2&pmax=20&gt=50&lt=10&st=5&epmin=1&epmax=30")
    assert r.code == 204, r

    obj = links(rest, endpoint, "1")
    assert num(obj["/1"].get("pmin")) == 1, obj["/1"]
    assert "pmax" not in obj["/1"], obj["/1"]
    assert num(obj["/1/0"].get("pmax")) == 40, obj["/1/0"]
    assert "pmin" not in obj["/1/0"], obj["/1/0"]
    want = {"pmin": 2, "pmax": 20, "gt": 50, "lt": 10, "st": 5, "epmin": 1, "epmax": 30}
    got = {k: num(v) for k, v in obj["/1/0/1"].items()}
    assert got == want, obj["/1/0/1"]
    # resources without attributes carry none
    assert set(obj["/1/0/2"]) == set(), obj["/1/0/2"]

    inst = links(rest, endpoint, "1/0")
    assert num(inst["/1/0"].get("pmax")) == 40, inst
    assert {k: num(v) for k, v in inst["/1/0/1"].items()} == want, inst
    one = links(rest, endpoint, "1/0/1")
    assert {k: num(v) for k, v in one["/1/0/1"].items()} == want, one


def test_pmin_greater_than_pmax_is_refused(dev, rest, endpoint):
    # in one request the test server refuses it itself (HTTP 400), as a
    # Leshan-based server checks the set before sending it
    r = write_attributes(rest, endpoint, "1/0/1", "pmin=5&pmax=2")
    assert r.http == 400 or r.code == 400, r
    # across two requests only the client can tell: 4.00 on the merged result
    assert write_attributes(rest, endpoint, "1/0/1", "pmax=2").code == 204
    r = write_attributes(rest, endpoint, "1/0/1", "pmin=5")
    assert (r.code, r.status) == (400, "BAD_REQUEST(400)"), r
    got = links(rest, endpoint, "1/0/1")["/1/0/1"]
    assert num(got.get("pmax")) == 2 and "pmin" not in got, got
    # the same on an object
    assert write_attributes(rest, endpoint, "3", "pmin=30").code == 204
    assert write_attributes(rest, endpoint, "3", "pmax=10").code == 400
    assert "pmax" not in links(rest, endpoint, "3")["/3"]


def test_gt_needs_a_numeric_resource(dev, rest, endpoint):
    r = write_attributes(rest, endpoint, "3/0/0", "gt=5")          # Manufacturer: a string
    assert (r.code, r.status) == (400, "BAD_REQUEST(400)"), r
    assert "gt" not in links(rest, endpoint, "3/0/0")["/3/0/0"]
    r = write_attributes(rest, endpoint, "1/0/1", "gt=5")          # Lifetime: an integer
    assert r.code == 204, r
    assert num(links(rest, endpoint, "1/0/1")["/1/0/1"].get("gt")) == 5


def test_unset_with_bare_names(dev, rest, endpoint):
    assert write_attributes(rest, endpoint, "1/0/1", "pmin=2&pmax=20&gt=7").code == 204
    assert write_attributes(rest, endpoint, "1/0/1", "pmin&gt").code == 204
    got = links(rest, endpoint, "1/0/1")["/1/0/1"]
    assert {k: num(v) for k, v in got.items()} == {"pmax": 20}, got
    assert write_attributes(rest, endpoint, "1/0/1", "pmax").code == 204
    assert links(rest, endpoint, "1/0/1")["/1/0/1"] == {}
    # on an object too
    assert write_attributes(rest, endpoint, "1", "pmin=3&pmax=9").code == 204
    assert write_attributes(rest, endpoint, "1", "pmin&pmax").code == 204
    assert links(rest, endpoint, "1")["/1"] == {"ver": "1.1"}


# --- Observe -------------------------------------------------------------------

@pytest.mark.interop("int-301")
def test_write_notifies_new_value_not_before_pmin(dev, rest, endpoint, events):
    ev = events(endpoint)
    assert write_attributes(rest, endpoint, "1/0/1", "pmin=2").code == 204
    r = observe(rest, endpoint, "1/0/1")
    assert (r.code, r.content) == (205, 300), r
    t_obs = time.time()
    assert rest.write(endpoint, "1/0/1", res(1, 100)).code == 204
    n1 = ev.wait_for("NOTIFICATION", is_notification_of("/1/0/1"), timeout=15)
    assert single_value(n1.data) == 100, n1.data
    assert n1.time >= t_obs + 2 - MARGIN, f"notification {n1.time - t_obs:.2f} s after the Observe (pmin 2)"

    # two changes inside pmin: one notification, with the latest value
    assert rest.write(endpoint, "1/0/1", res(1, 101)).code == 204
    assert rest.write(endpoint, "1/0/1", res(1, 102)).code == 204
    n2 = ev.wait_for("NOTIFICATION", is_notification_of("/1/0/1"), timeout=15)
    assert single_value(n2.data) == 102, n2.data
    assert n2.time >= n1.time + 2 - MARGIN, f"notifications {n2.time - n1.time:.2f} s apart (pmin 2)"
    got = [single_value(e.data) for e in ev.seen("NOTIFICATION", is_notification_of("/1/0/1"))]
    assert got == [100, 102], got
    # a write of the same value again changes nothing: no notification
    assert rest.write(endpoint, "1/0/1", res(1, 102)).code == 204
    no_event(ev, "NOTIFICATION", is_notification_of("/1/0/1"), seconds=3)


def test_epmin_defers_the_evaluation_of_changes(dev, rest, endpoint, events):
    """epmin 3 (pmin 0): a change is looked at no sooner than 3 s after the
    last evaluation (the Observe, then each notification); two changes in
    between give one notification, with the latest value."""
    ev = events(endpoint)
    assert write_attributes(rest, endpoint, "1/0/5", "epmin=3").code == 204
    r = observe(rest, endpoint, "1/0/5")
    assert r.code == 205, r
    t_obs = time.time()
    assert rest.write(endpoint, "1/0/5", res(5, 100)).code == 204
    n1 = ev.wait_for("NOTIFICATION", is_notification_of("/1/0/5"), timeout=15)
    assert single_value(n1.data) == 100, n1.data
    assert n1.time >= t_obs + 3 - MARGIN, f"notification {n1.time - t_obs:.2f} s after the Observe (epmin 3)"
    assert rest.write(endpoint, "1/0/5", res(5, 101)).code == 204
    assert rest.write(endpoint, "1/0/5", res(5, 102)).code == 204
    n2 = ev.wait_for("NOTIFICATION", is_notification_of("/1/0/5"), timeout=15)
    assert single_value(n2.data) == 102, n2.data
    assert n2.time >= n1.time + 3 - MARGIN, f"notifications {n2.time - n1.time:.2f} s apart (epmin 3)"
    got = [single_value(e.data) for e in ev.seen("NOTIFICATION", is_notification_of("/1/0/5"))]
    assert got == [100, 102], got


@pytest.mark.interop("int-301")
def test_pmax_notifies_without_change(dev, rest, endpoint, events):
    ev = events(endpoint)
    assert write_attributes(rest, endpoint, "3/0/13", "pmax=3").code == 204
    r = observe(rest, endpoint, "3/0/13")
    assert r.code == 205, r
    t_obs = time.time()
    got = wait_count(ev, "NOTIFICATION", 2, pred=is_notification_of("/3/0/13"), timeout=30)[:2]
    times = [single_value(e.data) for e in got]
    assert times == sorted(times) and len(set(times)) == 2, f"Current Time not increasing: {times}"
    arrivals = [t_obs] + [e.time for e in got]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert all(g >= 3 - MARGIN for g in gaps), f"notifications before pmax came due: gaps {gaps}"


def test_gt_crossing(dev, rest, endpoint, events):
    """1/0/2 (an integer) with gt=50.  pmin=0 is written on the resource too:
    1/0/2 is the Default Minimum Period itself, so writing 60 to it would
    otherwise make 60 s the pmin of this very observation."""
    ev = events(endpoint)
    assert write_attributes(rest, endpoint, "1/0/2", "pmin=0&gt=50").code == 204
    r = observe(rest, endpoint, "1/0/2")
    assert (r.code, r.content) == (205, 0), r
    start = len(ev.events)
    assert rest.write(endpoint, "1/0/2", res(2, 10)).code == 204
    no_event(ev, "NOTIFICATION", is_notification_of("/1/0/2"), seconds=2.5, since=start)
    assert rest.write(endpoint, "1/0/2", res(2, 60)).code == 204           # crosses 50 upwards
    n = ev.wait_for("NOTIFICATION", is_notification_of("/1/0/2"), timeout=15)
    assert single_value(n.data) == 60, n.data
    start = len(ev.events)
    assert rest.write(endpoint, "1/0/2", res(2, 70)).code == 204           # still above
    no_event(ev, "NOTIFICATION", is_notification_of("/1/0/2"), seconds=2.5, since=start)
    assert rest.write(endpoint, "1/0/2", res(2, 40)).code == 204           # crosses downwards
    n = ev.wait_for("NOTIFICATION", is_notification_of("/1/0/2"), timeout=15)
    assert single_value(n.data) == 40, n.data


# --- cancel ---------------------------------------------------------------------

@pytest.mark.interop("int-302")
@pytest.mark.parametrize("con", [False, True], ids=["NON", "CON"])
def test_passive_cancel_resets_next_notification(daemon, rest, endpoint, events, con):
    d = daemon(server_opts={"default_pmin": 0, "default_pmax": 0, "confirmable_notifications": con})
    ev = events(endpoint)
    assert write_attributes(rest, endpoint, "3/0/13", "pmax=1").code == 204
    assert observe(rest, endpoint, "3/0/13").code == 205
    ev.wait_for("NOTIFICATION", is_notification_of("/3/0/13"), timeout=15)
    off = d.log_size()
    r = cancel_observe(rest, endpoint, "3/0/13")
    assert r.http == 200, r
    # the next notification finds no observation at the server: a Reset,
    # and the daemon ends the observation
    d.wait_log(r"observation of /3/0/13 ended: Reset by the server", timeout=15, offset=off)
    no_event(ev, "NOTIFICATION", is_notification_of("/3/0/13"), seconds=2)
    # it is gone from the observations kept for a restart too
    assert "/3/0/13" not in state_file(d, "observations.json").read_text()
    d.assert_alive()


@pytest.mark.interop("int-303")
def test_active_cancel_stops_notifications(dev, rest, endpoint, events):
    d = dev
    ev = events(endpoint)
    assert write_attributes(rest, endpoint, "3/0/13", "pmax=1").code == 204
    assert observe(rest, endpoint, "3/0/13").code == 205
    ev.wait_for("NOTIFICATION", is_notification_of("/3/0/13"), timeout=15)
    off = d.log_size()
    r = cancel_observe(rest, endpoint, "3/0/13", active=True)
    assert r.code == 205, r
    d.wait_log(r"observation of /3/0/13 ended: cancelled by the server", timeout=10, offset=off)
    no_event(ev, "NOTIFICATION", is_notification_of("/3/0/13"), seconds=2.5)
    assert "/3/0/13" not in state_file(d, "observations.json").read_text()
    # the resource can be observed again
    assert observe(rest, endpoint, "3/0/13").code == 205
    ev.wait_for("NOTIFICATION", is_notification_of("/3/0/13"), timeout=15)
