"""Send (POST /dp): [send.NAME] schedules, lwm2mctl send, Mute Send (1/0/23),
and the store-and-forward queue through server outages: order, the
queue_max bound, and a daemon restart in the middle of an outage.
OMA ETS LwM2M 1.1 cases int-306 (Send), int-307 (Mute Send).

The outage tests use a private test server (reporting_util.PrivateServer,
a copy of the jar on fixed ports) that they stop and start again.  While it
starts, the daemon is held with SIGSTOP until the event stream is open again,
so that no SEND event can reach the server before the test listens; readings
are taken by the daemon only, so the pause merely delays them."""

import subprocess
import time
from datetime import datetime

import pytest

from daemon import REPO
from leshan import res
from reporting_util import (event_values, log_offset, no_event, pause, private_server,  # noqa: F401
                            queue_files, queued_sends, restart, resume, sigkill, wait_count)
from util import tmpfs

CTL = REPO / "build" / "lwm2mctl"
OUTAGE_OPTS = {"retry_timer": 1, "retry_count": 10, "sequence_delay": 5}


def t13(values: dict) -> int:
    """The 3/0/13 reading of a SEND event (or a queued payload) in seconds."""
    v = values["/3/0/13"]
    return int(v.timestamp()) if isinstance(v, datetime) else int(v)


def send_times(events) -> list:
    return [t13(event_values(e.data)) for e in events]


def assert_spaced(times: list, period: int, what: str):
    """Strictly increasing, and no reading missing at the period's spacing
    (a second of slack for the clock's resolution and the timer)."""
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g > 0 for g in gaps), f"{what}: 3/0/13 not strictly increasing: {times}"
    assert all(g <= period + 1 for g in gaps), f"{what}: a reading is missing (gaps {gaps}): {times}"


# --- Send from the schedule, from lwm2mctl, muted ------------------------------

@pytest.mark.interop("int-306")
def test_send_schedule(daemon, rest, endpoint, events):
    d = daemon(sections={"send.g": {"paths": "/3/0/13", "period": 2}})
    ev = events(endpoint)
    got = wait_count(ev, "SEND", 3, timeout=20)[:3]
    for e in got:
        assert set(event_values(e.data)) == {"/3/0/13"}, e.data
    assert_spaced(send_times(got), 2, "[send.g]")
    d.assert_alive()


def test_send_schedule_several_paths(daemon, rest, endpoint, events):
    daemon(sections={"send.g": {"paths": "/3/0/0 /1/0/1 /6/0/1", "period": 1}})
    ev = events(endpoint)
    e = ev.wait_for("SEND", timeout=15)
    # /6/0/1 (Location) does not exist: left out, the rest is sent
    assert event_values(e.data) == {"/3/0/0": rest.read(endpoint, "3/0/0").content, "/1/0/1": 300}, e.data


def lwm2mctl(d, *args, timeout=15) -> subprocess.CompletedProcess:
    assert CTL.is_file(), (f"{CTL} does not exist: `make` builds it with the daemon; "
                           f"this test needs it to ask the daemon for a Send")
    return subprocess.run([str(CTL), "-c", str(d.cfg_path), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_lwm2mctl_send(daemon, rest, endpoint, events, tmp_path):
    d = daemon(sections={"control": {"socket": str(tmp_path / "ctl.sock")}})
    ev = events(endpoint)
    cp = lwm2mctl(d, "send", "/3/0/0", "/1/0/1")
    assert cp.returncode == 0, f"lwm2mctl send: exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
    e = ev.wait_for("SEND", timeout=15)
    assert event_values(e.data) == {"/3/0/0": rest.read(endpoint, "3/0/0").content, "/1/0/1": 300}, e.data
    # a path that cannot be read at all is refused, nothing is sent
    cp = lwm2mctl(d, "send", "/6/0/1")
    assert cp.returncode == 1, f"lwm2mctl send /6/0/1: exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
    no_event(ev, "SEND", seconds=1.5)


@pytest.mark.interop("int-307")
def test_mute_send(daemon, rest, endpoint, events, tmp_path):
    d = daemon(sections={"send.g": {"paths": "/3/0/13", "period": 1},
                         "control": {"socket": str(tmp_path / "ctl.sock")}})
    ev = events(endpoint)
    ev.wait_for("SEND", timeout=15)
    assert rest.write(endpoint, "1/0/23", res(23, True)).code == 204
    assert rest.read(endpoint, "1/0/23").content is True
    time.sleep(1.2)                                  # a Send already on its way may land
    no_event(ev, "SEND", seconds=3.5)                # 3 periods and more: nothing
    if CTL.is_file():
        cp = lwm2mctl(d, "send", "/3/0/13")
        assert cp.returncode == 1 and "mute" in (cp.stdout + cp.stderr).lower(), \
            f"lwm2mctl send while muted: exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
    assert queue_files(d) == [], "muted readings were queued instead of dropped"
    assert rest.write(endpoint, "1/0/23", res(23, False)).code == 204
    ev.wait_for("SEND", timeout=15)


# --- store and forward ------------------------------------------------------------

def outage_daemon(daemon, srv, period, **sections):
    secs = {"send.g": {"paths": "/3/0/13", "period": period}}
    secs.update(sections)
    return daemon(server=srv, server_opts=OUTAGE_OPTS, sections=secs)


def bring_back(d, srv, events):
    """Starts the server again with the daemon held, opens the event stream,
    lets the daemon go.  Returns (stream, queued payloads at that moment)."""
    pause(d)
    try:
        queued = queued_sends(d)
        srv.start()
        ev = events(d.endpoint, srv)
    finally:
        resume(d)
    return ev, queued


def test_store_and_forward_in_order(private_server, daemon, events):
    srv = private_server()
    d = outage_daemon(daemon, srv, 2)
    ev = events(d.endpoint, srv)
    before = send_times(wait_count(ev, "SEND", 2, timeout=20))
    srv.stop()
    stopped_at = time.monotonic()
    ev.close()
    time.sleep(9)                                     # four periods and more
    assert d.alive()
    ev, queued = bring_back(d, srv, events)
    assert len(queued) >= 3, f"only {len(queued)} readings queued during a 9 s outage at period 2"
    want = [t13(q) for q in queued]
    ev.wait_for("REGISTRATION", timeout=40)
    got = send_times(wait_count(ev, "SEND", len(queued) + 1, timeout=40))
    # the queue first, oldest first, each once; then the schedule goes on
    assert got[:len(want)] == want, f"delivered {got}, queued {want}"
    # nothing lost when the outage began (the daemon was held only after
    # the queue was looked at, so that is where the spacing check stops)
    assert_spaced(before + want, 2, "readings up to the end of the outage")
    assert all(b > a for a, b in zip(got, got[1:])), got
    assert queue_files(d) == []
    # and nothing from the outage turns up again later (a request given up
    # on must not be retransmitted: CoAP would go on for about 45 s, so
    # listen until well past the third retransmission of the first one)
    time.sleep(max(0.0, stopped_at + 25 - time.monotonic()))
    late = send_times(ev.seen("SEND"))
    assert all(b > a for a, b in zip(late, late[1:])), f"a reading delivered twice or out of order: {late}"


def test_queue_bound_keeps_newest(private_server, daemon, events):
    srv = private_server()
    d = outage_daemon(daemon, srv, 1, state={"queue_max": 3})
    ev = events(d.endpoint, srv)
    wait_count(ev, "SEND", 1, timeout=20)
    srv.stop()
    ev.close()
    off = log_offset(d)
    time.sleep(7)                                     # 7 readings for a queue of 3
    d.wait_log(r"send queue: dropped the oldest entry \(the queue is full\)", timeout=5, offset=off)
    paused_at = time.time()
    ev, queued = bring_back(d, srv, events)
    want = [t13(q) for q in queued]
    assert len(want) == 3, f"queue_max = 3 but {len(want)} queued: {want}"
    # the reading being sent when the server went away stays while CoAP
    # still retransmits it (it may yet get through); the bound drops the
    # oldest of the others, so the rest are the newest, one period apart
    assert_spaced(want[1:], 1, "queued readings")
    assert want[-1] >= paused_at - 3, f"the newest reading {want[-1]} is old (paused at {paused_at:.0f})"
    ev.wait_for("REGISTRATION", timeout=40)
    got = send_times(wait_count(ev, "SEND", 4, timeout=40))
    # readings go on until the daemon is registered again, each pushing the
    # oldest out: none of the dropped ones arrives, and order holds
    dropped = [t for t in got if t < want[0] or (want[0] < t < want[1])]
    assert not dropped, f"a dropped reading arrived: delivered {got}, queue held {want}"
    assert all(b > a for a, b in zip(got, got[1:])), f"delivered {got}"


def test_queue_survives_daemon_restart(private_server, daemon, events):
    srv = private_server()
    d = outage_daemon(daemon, srv, 1)
    ev = events(d.endpoint, srv)
    wait_count(ev, "SEND", 1, timeout=20)
    srv.stop()
    ev.close()
    time.sleep(3.5)
    pause(d)
    try:
        kept = [t13(q) for q in queued_sends(d)]
    finally:
        sigkill(d)
    assert len(kept) >= 2, f"only {kept} queued before the kill"
    off = log_offset(d)
    restart(d)
    d.wait_log(r"send queue: %d entries from before the restart wait for the server" % len(kept),
               timeout=10, offset=off)
    time.sleep(2.5)                                   # readings of the new process join the queue
    ev, queued = bring_back(d, srv, events)
    want = [t13(q) for q in queued]
    assert want[:len(kept)] == kept, f"queue after the restart {want}, before the kill {kept}"
    assert len(want) > len(kept), f"the restarted daemon queued nothing: {want}"
    ev.wait_for("REGISTRATION", timeout=40)
    got = send_times(wait_count(ev, "SEND", len(want), timeout=40))
    assert got[:len(want)] == want, f"delivered {got}, queued {want}"
    assert all(b > a for a, b in zip(got, got[1:])), got


@pytest.fixture
def small_queue_disk(tmp_path):
    """A state folder whose queue folder is a 16 KiB tmpfs (four pages: a few
    queue files fill it).  Requested before `daemon`, so it is unmounted
    after the daemon stopped."""
    state = tmp_path / "state"
    umount = tmpfs(state / "queue", "16k")
    yield state
    umount()


def test_full_disk_drops_oldest_and_delivers_the_rest(small_queue_disk, private_server, daemon,
                                                       events, tmp_path):
    """The queue folder fills up during an outage: the oldest entries make
    room for new ones, each drop is logged and counted in lwm2mctl status,
    the daemon keeps going, and what is left arrives in order afterwards.
    The readings are asked for with lwm2mctl send, so that none is taken
    after the server is back and what arrives is exactly what was queued."""
    srv = private_server()
    d = daemon(server=srv, server_opts=OUTAGE_OPTS,
               sections={"control": {"socket": str(tmp_path / "ctl.sock")},
                         "state": {"dir": str(small_queue_disk)}})
    ev = events(d.endpoint, srv)
    assert lwm2mctl(d, "send", "/3/0/13").returncode == 0
    ev.wait_for("SEND", timeout=15)
    srv.stop()
    ev.close()
    off = log_offset(d)
    for _ in range(10):                               # 10 readings; a few fit
        last_at = time.time()
        cp = lwm2mctl(d, "send", "/3/0/13")
        assert cp.returncode == 0, f"lwm2mctl send: exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
        time.sleep(1.1)                               # 3/0/13 counts seconds
    d.wait_log(r"send queue: dropped the oldest entry \(the disk is full\); \d+ dropped so far",
               timeout=5, offset=off)
    assert "this reading is lost" not in d.log_since(off), d.log_tail(40)
    cp = lwm2mctl(d, "status")
    assert cp.returncode == 0, f"lwm2mctl status: exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
    st = dict(line.split(": ", 1) for line in cp.stdout.splitlines() if ": " in line)
    assert int(st["dropped"]) >= 3 and int(st["queued"]) >= 2, cp.stdout
    d.assert_alive()
    ev, queued = bring_back(d, srv, events)
    want = [t13(q) for q in queued]
    assert 2 <= len(want) < 10 and len(want) == int(st["queued"]), \
        f"{len(want)} readings queued on a 16 KiB disk (status said {st['queued']}): {want}"
    # the newest readings stayed, one apart (the first may be the one in
    # flight when the server went away, kept while CoAP retransmits it)
    assert_spaced(want[1:], 2, "queued readings")
    assert want[-1] >= int(last_at) - 1, f"the last reading ({last_at:.0f}) is not among {want}"
    ev.wait_for("REGISTRATION", timeout=40)
    got = send_times(wait_count(ev, "SEND", len(want), timeout=40))
    assert got == want, f"delivered {got}, queued {want}"
    no_event(ev, "SEND", seconds=3)                   # each once, the dropped ones never
    assert queue_files(d) == []
    d.assert_alive()
