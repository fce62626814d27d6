"""Queue mode (binding UQ): the registration says so and the server's
requests are still served; a request the server held while it took the
client for asleep is delivered when the client next sends (an Update of its
own, or the one lwm2md sends before a Send after a quiet spell), and the
server sees the client asleep again once the awake time is over.  OMA ETS
LwM2M 1.1 cases int-108/109.

The sleeping tests run a test server of their own with a 3 s awake time
(`--awake-time`, Leshan's default is 93 s) and tell lwm2md the same
(`[server] awake_time`)."""

import subprocess

import pytest

from daemon import REPO
from leshan import Rest, res
from reporting_util import no_event
from util import poll

CTL = REPO / "build" / "lwm2mctl"
AWAKE = 3       # s


def test_queue_mode_registration(daemon, rest, endpoint):
    daemon(server_opts={"binding": "UQ"})
    reg = rest.client(endpoint)
    assert reg["queuemode"] is True, reg
    assert "U" in reg["bindingMode"], reg
    assert reg.get("sleeping") is False, reg


def test_queue_mode_requests_served(daemon, rest, endpoint):
    daemon(server_opts={"binding": "UQ"})
    r = rest.read(endpoint, "3/0/0")
    assert r.code == 205, r
    assert rest.read(endpoint, "1/0/7").content == "UQ"
    assert rest.write(endpoint, "1/0/5", res(5, 600)).code == 204
    assert rest.read(endpoint, "1/0/5").content == 600
    assert rest.read(endpoint, "3", format="TLV").code == 205


def lwm2mctl(d, *args) -> subprocess.CompletedProcess:
    assert CTL.is_file(), f"{CTL} does not exist: `make` builds it with the daemon"
    cp = subprocess.run([str(CTL), "-c", str(d.cfg_path), *args], capture_output=True, text=True,
                        timeout=15, stdin=subprocess.DEVNULL)
    assert cp.returncode == 0, f"lwm2mctl {' '.join(args)}: exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
    return cp


@pytest.mark.interop("int-109")
@pytest.mark.parametrize("wake", ["update", "send"])
def test_request_held_while_asleep_comes_with_the_next_message(leshan_factory, daemon, events,
                                                               tmp_path, wake):
    srv = leshan_factory(args=("--awake-time", str(AWAKE)))
    d = daemon(server=srv, server_opts={"binding": "UQ", "awake_time": AWAKE},
               sections={"control": {"socket": str(tmp_path / "ctl.sock")}})
    rest = Rest(srv.api)
    ev = events(d.endpoint, srv)
    # the window after the Register ends: the server takes the client for asleep
    ev.wait_for("SLEEPING", timeout=AWAKE + 20)
    assert rest.client(d.endpoint)["sleeping"] is True
    r = rest.read(d.endpoint, "3/0/0")
    assert isinstance(r.body, dict) and r.body.get("delayed") is True, f"not held: {r}"
    no_event(ev, "REQUEST_RESPONSE", seconds=2)
    if wake == "update":
        lwm2mctl(d, "update")
    else:
        lwm2mctl(d, "send", "/3/0/13")
    got = ev.wait_for("REQUEST_RESPONSE", timeout=20)
    resp = got.data.get("response") or {}
    assert str(resp.get("status", "")).startswith("CONTENT"), got.data
    assert resp.get("content", {}).get("value"), got.data
    names = [n for n in ev.names() if n in ("UPDATED", "AWAKE", "REQUEST_RESPONSE", "SEND")]
    assert names.index("UPDATED") < names.index("REQUEST_RESPONSE"), names
    if wake == "send":
        poll(lambda: ev.seen("SEND"), 20, "the Send")
    # and asleep again once the window is over
    ev.wait_for("SLEEPING", timeout=AWAKE + 20)
    assert rest.client(d.endpoint)["sleeping"] is True
    d.assert_alive()
