"""A daemon that dies (SIGKILL, as in a crash or a power cut) and comes back
within its registration's lifetime resumes that registration with an Update
(same registrationId, same UDP port) and its observations keep notifying;
damaged state files are logged and lead to a fresh registration, never to a
crash; SIGTERM de-registers, so the next start registers anew."""

import signal
import time

import pytest

from reporting_util import (is_notification_of, log_offset, observe, restart, sigkill, single_value,
                            state_file, write_attributes)


def start_observed(daemon, rest, endpoint, events):
    """A daemon whose 3/0/13 is observed with pmax=1 and which notified once."""
    d = daemon(lifetime=300, server_opts={"default_pmin": 0, "default_pmax": 0})
    ev = events(endpoint)
    assert write_attributes(rest, endpoint, "3/0/13", "pmax=1").code == 204
    assert observe(rest, endpoint, "3/0/13").code == 205
    ev.wait_for("NOTIFICATION", is_notification_of("/3/0/13"), timeout=15)
    return d, ev


def test_sigkill_then_restart_resumes_registration_and_observation(daemon, rest, endpoint, events):
    d, ev = start_observed(daemon, rest, endpoint, events)
    before = rest.client(endpoint)
    sigkill(d)
    last = single_value(ev.seen("NOTIFICATION", is_notification_of("/3/0/13"))[-1].data)
    start = len(ev.events)
    off = log_offset(d)
    restart(d)
    d.wait_log(r"registration: resuming location /rd/", timeout=10, offset=off)
    upd = ev.wait_for("UPDATED", timeout=20)
    assert upd.data["registration"]["registrationId"] == before["registrationId"], upd.data
    now = rest.client(endpoint)
    assert now["registrationId"] == before["registrationId"], (before, now)
    assert now["address"] == before["address"], "the restarted daemon uses another UDP port"
    # the observation made before the kill goes on
    n = ev.wait_for("NOTIFICATION", is_notification_of("/3/0/13"), timeout=15)
    assert single_value(n.data) > last, (single_value(n.data), last)
    ev.wait_for("NOTIFICATION", is_notification_of("/3/0/13"), timeout=15)
    assert [e.name for e in ev.events[start:] if e.name in ("REGISTRATION", "DEREGISTRATION")] == [], \
        f"registered anew instead of resuming: {ev.names()}"
    assert "observations: 1 carried over from before the restart" in d.log_since(off)


def test_sigterm_deregisters_and_next_start_registers_anew(daemon, rest, endpoint, events):
    d = daemon(lifetime=300)
    ev = events(endpoint)
    first = rest.client(endpoint)["registrationId"]
    assert d.stop(signal.SIGTERM, timeout=15) == 0
    ev.wait_for("DEREGISTRATION", timeout=10)
    assert not state_file(d, "registration.json").exists()
    restart(d)
    reg = ev.wait_for("REGISTRATION", timeout=20)
    assert reg.data["registrationId"] != first, reg.data
    assert ev.seen("UPDATED") == [], "an Update to a registration that was taken back"


def wait_first(ev, names, start, timeout):
    """The first event since index start whose name is in names."""
    deadline = time.monotonic() + timeout
    while True:
        with ev._cond:
            for e in ev.events[start:]:
                if e.name in names:
                    return e
        if time.monotonic() > deadline:
            raise AssertionError(f"none of {names} within {timeout} s (saw: {ev.names()})")
        time.sleep(0.1)


DAMAGE = {
    "registration.json": r"registration: .*registration\.json is damaged",
    "observations.json": r"observations: .*observations\.json is damaged",
    "attributes.json": r"attributes: .*attributes\.json",
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damaged_state_file_registers_afresh(daemon, rest, endpoint, events, name):
    d, ev = start_observed(daemon, rest, endpoint, events)
    first = rest.client(endpoint)["registrationId"]
    sigkill(d)
    path = state_file(d, name)
    assert path.exists(), f"{name} was not written"
    path.write_bytes(b'{"truncated": [1, 2')
    start = len(ev.events)
    off = log_offset(d)
    restart(d)
    d.wait_log(DAMAGE[name], timeout=10, offset=off)
    # what the server hears first: a fresh Register, not an Update that
    # resumes a registration whose state the daemon has lost
    reg_or_upd = wait_first(ev, ("REGISTRATION", "UPDATED"), start, timeout=15)
    assert reg_or_upd.name == "REGISTRATION", \
        f"{name} damaged: the daemon resumed its registration with an Update instead of registering " \
        f"afresh (events: {[x.name for x in ev.events[start:]]})"
    assert reg_or_upd.data["registrationId"] != first, reg_or_upd.data
    assert rest.client(endpoint)["registrationId"] == reg_or_upd.data["registrationId"]
    # the daemon works: reads answer, it is still running
    assert rest.read(endpoint, "3/0/0").code == 205
    d.assert_alive()
