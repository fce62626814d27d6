"""lwm2mctl and the daemon's control socket: status, read, send and update
as a user on the gateway sees them, checked against what the server sees
(REST and its event stream); the exit codes scripts rely on (0 ok, 1 the
daemon said no, 69 no daemon, 77 not allowed, 78 bad config); the socket's
life (mode 0660 in a 0750 folder, a stale socket replaced, a live one left
to its daemon, removed at exit) and a loop that stays responsive while
clients stall.

Environment: LWM2MCTL_BIN (absolute, or relative to the repo root); by
default the lwm2mctl beside $LWM2MD_BIN when that is set (build/asan/lwm2md
-> build/asan/lwm2mctl), else build/lwm2mctl."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from daemon import REPO, daemon_bin, daemon_env, sanitizer_report
from leshan import decode_node, res
from util import meminfo_kb, poll, version_number

EX_UNAVAILABLE, EX_NOPERM, EX_CONFIG, EX_USAGE = 69, 77, 78, 64
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
STATUS_KEYS = ["state", "server", "endpoint", "location", "lifetime left", "observations", "queued",
               "dropped", "last error"]


def ctl_bin() -> Path:
    env = os.environ.get("LWM2MCTL_BIN")
    if env:
        p = Path(env)
    elif os.environ.get("LWM2MD_BIN"):
        p = daemon_bin().parent / "lwm2mctl"
    else:
        p = Path("build/lwm2mctl")
    if not p.is_absolute():
        p = REPO / p
    if not p.is_file():
        raise AssertionError(f"lwm2mctl binary {p} does not exist: build it (`make`, or `make asan` "
                             f"for build/asan/lwm2mctl) or point LWM2MCTL_BIN at it")
    return p


def run_ctl(*args, prefix=(), timeout: float = 30) -> subprocess.CompletedProcess:
    """Runs lwm2mctl ARGS to completion; fails on a sanitizer report."""
    cmd = [*prefix, str(ctl_bin()), *map(str, args)]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=daemon_env(),
                        stdin=subprocess.DEVNULL)
    found = sanitizer_report(cp.stdout + cp.stderr)
    assert found is None, f"sanitizer report ({found}) from {cmd}:\n{cp.stderr}"
    return cp


def ctl(d, *args, **kw) -> subprocess.CompletedProcess:
    """lwm2mctl -c <d's ini> ARGS: the socket comes from [control] socket."""
    return run_ctl("-c", d.cfg_path, *args, **kw)


def show(cp) -> str:
    return f"exit {cp.returncode}\nstdout: {cp.stdout!r}\nstderr: {cp.stderr!r}"


def status_dict(cp) -> dict:
    assert cp.returncode == 0 and cp.stderr == "", show(cp)
    out = {}
    for line in cp.stdout.splitlines():
        key, sep, value = line.partition(": ")
        assert sep, f"status line without 'key: value': {line!r}\n{show(cp)}"
        out[key] = value
    assert list(out) == STATUS_KEYS, show(cp)
    return out


def parse_value(s: str):
    """One value as lwm2mctl read prints it -> the Python value decode_node
    gives for the same resource."""
    if s.startswith('"'):
        assert s.endswith('"') and len(s) >= 2, s
        body = s[1:-1]
        return re.sub(r'\\(x[0-9a-f]{2}|.)',
                      lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "x"
                      else {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)), body)
    if s in ("true", "false"):
        return s == "true"
    if s.startswith("0x"):
        return bytes.fromhex(s[2:])
    if re.fullmatch(r"\d+:\d+", s):
        oid, iid = s.split(":")
        return {"objectId": int(oid), "objectInstanceId": int(iid)}
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    return float(s)


def read_lines(cp) -> dict:
    """read output -> {"/3/0/0": value, ...}"""
    assert cp.returncode == 0 and cp.stderr == "", show(cp)
    out = {}
    for line in cp.stdout.splitlines():
        m = re.fullmatch(r"(/\d+/\d+/\d+(?:/\d+)?) = (.*)", line)
        assert m, f"read line not 'PATH = VALUE': {line!r}"
        out[m.group(1)] = parse_value(m.group(2))
    return out


def as_instance(values: dict) -> dict:
    """{"/1/0/1": v, "/1/0/7/0": w} -> {1: v, 7: {0: w}}, the shape of
    decode_node() for an instance."""
    inst = {}
    for path, v in values.items():
        ids = [int(x) for x in path.strip("/").split("/")]
        if len(ids) == 4:
            inst.setdefault(ids[2], {})[ids[3]] = v
        else:
            inst[ids[2]] = v
    return inst


def raw_request(path: Path, data: bytes, timeout: float = 10) -> bytes:
    """Talks to the socket without lwm2mctl: writes data, reads to EOF."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                return b"".join(chunks)
            chunks.append(b)


# --- fixtures --------------------------------------------------------------------

@pytest.fixture
def sockdir():
    """A short folder under /tmp (a socket path must fit 108 bytes), open to
    every user so that the socket's own mode is what decides."""
    d = Path(tempfile.mkdtemp(prefix="lwm2mctl-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ctld(daemon, sockdir):
    """A registered daemon whose socket is <sockdir>/run/ctl.sock (run/ made
    by the daemon)."""
    sock = sockdir / "run" / "ctl.sock"
    d = daemon(sections={"control": {"socket": str(sock)}})
    d.sock = sock
    poll(sock.exists, 10, f"{sock} created")
    return d


# --- status, read --------------------------------------------------------------------

def test_status_while_registered(ctld, rest, leshan, endpoint):
    """status: state, server, endpoint and location are those the server
    shows for the registration; nothing queued, dropped or failed."""
    reg = rest.client(endpoint)
    st = status_dict(ctl(ctld, "status"))
    assert st["state"] == "registered"
    assert st["server"] == leshan.uri
    assert st["endpoint"] == endpoint == reg["endpoint"]
    assert st["location"] == f"/rd/{reg['registrationId']}"
    m = re.fullmatch(r"(\d+) s", st["lifetime left"])
    assert m and 0 < int(m.group(1)) <= reg["lifetime"] == 300, st
    assert (st["observations"], st["queued"], st["dropped"], st["last error"]) == ("0", "0", "0", "-")


def test_status_counts_observations(ctld, rest, endpoint):
    r = rest._call("POST", f"{endpoint}/3/0/13/observe")
    assert r.code == 205, r
    assert status_dict(ctl(ctld, "status"))["observations"] == "1"


def test_read_resource_matches_server(ctld, rest, endpoint):
    """read /3/0/0 prints exactly the value the server reads."""
    r = rest.read(endpoint, "3/0/0")
    assert r.code == 205, r
    assert read_lines(ctl(ctld, "read", "/3/0/0")) == {"/3/0/0": r.content}


def test_read_instance_matches_server(ctld, rest, endpoint):
    """read /1/0: every resource of the Server object instance, with the
    values and types the server reads (integers, booleans, strings)."""
    r = rest.read(endpoint, "1/0")
    assert r.code == 205, r
    got = as_instance(read_lines(ctl(ctld, "read", "/1/0")))
    assert got == r.content


def test_read_root_leaves_security_out(ctld):
    """read / is the server's view: the Security object is not in it."""
    values = read_lines(ctl(ctld, "read", "/"))
    assert "/3/0/0" in values and "/1/0/0" in values
    assert not [p for p in values if p.startswith("/0/")], values


def test_read_bad_and_missing_paths(ctld):
    cp = ctl(ctld, "read", "x")
    assert (cp.returncode, cp.stdout) == (1, ""), show(cp)
    assert cp.stderr == 'lwm2mctl: "x": not an LwM2M path\n', show(cp)
    cp = ctl(ctld, "read", "/3/0/99")
    assert (cp.returncode, cp.stdout, cp.stderr) == (1, "", "lwm2mctl: /3/0/99: not found\n"), show(cp)
    cp = ctl(ctld, "read", "/0/0")
    assert cp.returncode == 1 and "Security" in cp.stderr and cp.stdout == "", show(cp)


# --- update, send ----------------------------------------------------------------------

def test_update_moves_last_update(ctld, rest, events, endpoint):
    """update: the server sees an Update (UPDATED event, lastUpdate moves,
    same registration)."""
    before = rest.client(endpoint)
    ev = events(endpoint)
    time.sleep(0.01)        # lastUpdate has ms resolution
    cp = ctl(ctld, "update")
    assert (cp.returncode, cp.stdout, cp.stderr) == (0, "", ""), show(cp)
    upd = ev.wait_for("UPDATED")
    assert upd.data["registration"]["registrationId"] == before["registrationId"]
    after = poll(lambda: (c := rest.client(endpoint)) and c["lastUpdate"] > before["lastUpdate"] and c,
                 10, "lastUpdate moved")
    assert after["registrationId"] == before["registrationId"]


def test_update_when_not_registered(daemon, sockdir):
    """No server on the port: update says why it cannot, status shows no
    registration."""
    sock = sockdir / "ctl.sock"
    d = daemon(server=f"coap://127.0.0.1:{free_udp_port()}", sections={"control": {"socket": str(sock)}})
    poll(sock.exists, 10, f"{sock} created")
    cp = ctl(d, "update")
    assert cp.returncode == 1 and cp.stdout == "", show(cp)
    assert re.fullmatch(r"lwm2mctl: not registered \(state: [a-z -]+\)\n", cp.stderr), show(cp)
    assert "registered)" not in cp.stderr
    st = status_dict(ctl(d, "status"))
    assert st["state"] != "registered" and st["location"] == "-" and st["lifetime left"] == "-", st


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_send_reaches_server(ctld, rest, events, endpoint):
    """send /3/0/10: a SEND event on the server with the Memory Free value."""
    ev = events(endpoint)
    cp = ctl(ctld, "send", "/3/0/10")
    assert (cp.returncode, cp.stdout, cp.stderr) == (0, "sent\n", ""), show(cp)
    e = ev.wait_for("SEND")
    val = e.data["val"]
    assert list(val) == ["/3/0/10"], val
    sent = decode_node(val["/3/0/10"])
    total = meminfo_kb("MemTotal")
    assert isinstance(sent, int) and 0 < sent <= total, val
    now = rest.read(endpoint, "3/0/10").content
    assert abs(now - sent) < total // 10, f"sent {sent} kB, server reads {now} kB now"
    assert status_dict(ctl(ctld, "status"))["dropped"] == "0"


def test_send_muted(ctld, rest, events, endpoint):
    """1/0/23 Mute Send true: send is refused with the reason, nothing reaches
    the server."""
    r = rest.write(endpoint, "1/0/23", res(23, True))
    assert r.code == 204, r
    ev = events(endpoint)
    cp = ctl(ctld, "send", "/3/0/10")
    assert cp.returncode == 1 and cp.stdout == "", show(cp)
    assert cp.stderr == "lwm2mctl: Send is muted by the server (1/0/23)\n", show(cp)
    time.sleep(1)
    assert not ev.seen("SEND"), ev.seen("SEND")


def test_send_bad_path(ctld):
    cp = ctl(ctld, "send", "/3/0/10", "3/x")
    assert (cp.returncode, cp.stdout) == (1, ""), show(cp)
    assert cp.stderr == 'lwm2mctl: "3/x": not an LwM2M path\n', show(cp)


# --- the command line ----------------------------------------------------------------

def test_help_version_usage():
    cp = run_ctl("--help")
    assert cp.returncode == 0 and "Usage: lwm2mctl" in cp.stdout, show(cp)
    for cmd in ("status", "read PATH", "send PATH", "update"):
        assert cmd in cp.stdout
    cp = run_ctl("--version")
    assert cp.returncode == 0 and version_number() in cp.stdout, show(cp)
    for args in ([], ["frobnicate"], ["read"], ["status", "x"]):
        cp = run_ctl("--socket", "/nonexistent/x.sock", *args)
        assert cp.returncode == EX_USAGE and cp.stdout == "", show(cp)


def test_not_running(sockdir):
    """No daemon: 69 and a message that says so, for a missing socket and for
    a stale one nobody listens on."""
    sock = sockdir / "none.sock"
    cp = run_ctl("--socket", sock, "status")
    assert cp.returncode == EX_UNAVAILABLE and cp.stdout == "", show(cp)
    assert cp.stderr == (f"lwm2mctl: cannot reach lwm2md at {sock}: No such file or directory "
                         f"(is lwm2md running?)\n"), show(cp)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(sock))           # bound, never listening: what a crash leaves
        cp = run_ctl("--socket", sock, "status")
    assert cp.returncode == EX_UNAVAILABLE, show(cp)
    assert cp.stderr == f"lwm2mctl: cannot reach lwm2md at {sock}: Connection refused (is lwm2md running?)\n"


def test_bad_config(tmp_path):
    ini = tmp_path / "bad.ini"
    ini.write_text("[server]\nlifetime = soon\n")
    cp = run_ctl("-c", ini, "status")
    assert cp.returncode == EX_CONFIG and f"{ini}:2:" in cp.stderr, show(cp)
    cp = run_ctl("-c", tmp_path / "missing.ini", "status")
    assert cp.returncode == EX_CONFIG and "No such file or directory" in cp.stderr, show(cp)


# --- the socket ------------------------------------------------------------------------

def test_socket_modes_and_permission(daemon, sockdir):
    """The daemon makes its folder 0750 and the socket 0660: a user outside
    root and the daemon's group gets 77 and the reason, at the socket (folder
    open to all) and at the config file."""
    made = sockdir / "run" / "ctl.sock"
    d = daemon(sections={"control": {"socket": str(made)}})
    poll(made.exists, 10, f"{made} created")
    assert stat.S_ISSOCK(made.stat().st_mode)
    assert stat.S_IMODE(made.stat().st_mode) == 0o660
    assert stat.S_IMODE(made.parent.stat().st_mode) == 0o750
    d.stop()
    assert not made.exists(), "socket left behind at exit"

    (sockdir / "open").mkdir(mode=0o755)
    os.chmod(sockdir / "open", 0o755)
    sock = sockdir / "open" / "ctl.sock"
    d = daemon(sections={"control": {"socket": str(sock)}})
    poll(sock.exists, 10, f"{sock} created")
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o755, "an existing folder is left as it is"
    cp = run_ctl("--socket", sock, "status", prefix=AS_NOBODY)
    assert cp.returncode == EX_NOPERM and cp.stdout == "", show(cp)
    assert cp.stderr == (f"lwm2mctl: {sock}: Permission denied: run as root or as a member of the "
                         f"lwm2md group\n"), show(cp)
    cp = run_ctl("-c", d.cfg_path, "status", prefix=AS_NOBODY)
    assert cp.returncode == EX_NOPERM and "Permission denied" in cp.stderr, show(cp)
    assert status_dict(run_ctl("--socket", sock, "status"))["state"] == "registered"


def test_stale_socket_replaced(daemon, sockdir):
    sock = sockdir / "ctl.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(sock))
    d = daemon(sections={"control": {"socket": str(sock)}})
    d.wait_log(r"removed a stale socket")
    assert status_dict(ctl(d, "status"))["state"] == "registered"


def test_live_socket_left_to_its_daemon(daemon, sockdir, endpoint):
    """A second daemon configured with the same socket does not take it over
    (it runs on without one), and does not remove it when it stops."""
    sock = sockdir / "ctl.sock"
    first = daemon(sections={"control": {"socket": str(sock)}})
    poll(sock.exists, 10, f"{sock} created")
    second = daemon(sections={"control": {"socket": str(sock)}})
    second.wait_log(r"another lwm2md is answering there")
    assert status_dict(ctl(second, "status"))["endpoint"] == endpoint == first.endpoint
    assert second.stop() == 0
    assert sock.exists()
    assert status_dict(ctl(first, "status"))["endpoint"] == endpoint


def test_not_a_socket_is_kept(daemon, sockdir):
    path = sockdir / "ctl.sock"
    path.write_text("precious\n")
    d = daemon(sections={"control": {"socket": str(path)}})
    d.wait_log(r"exists and is not a socket")
    assert path.read_text() == "precious\n"
    cp = ctl(d, "status")
    assert cp.returncode == EX_UNAVAILABLE, show(cp)


def test_protocol_errors(ctld):
    """What lwm2mctl checks itself the daemon checks again: unknown
    commands, empty and over-long requests, a request without its newline."""
    assert raw_request(ctld.sock, b"bogus 1\n") == \
        b'error: unknown command "bogus"; try status, read, send, update\n'
    assert raw_request(ctld.sock, b"\n").startswith(b"error: empty request")
    assert raw_request(ctld.sock, b"x" * 2000) == b"error: request longer than 511 bytes\n"
    assert raw_request(ctld.sock, b"status").startswith(b"ok\nstate: registered\n")
    assert raw_request(ctld.sock, b"read /3/0/0 /3/0/1\n").startswith(b"error: read takes one path")
    assert raw_request(ctld.sock, b"") == b""       # a probe: closed without a word


def test_stalled_clients_do_not_block(ctld):
    """Clients that connect and say nothing hold neither the loop nor the
    socket: a request is answered at once next to one of them, and after the
    5 s timeout next to more of them than there are slots."""
    idle = []
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(ctld.sock))
        idle.append(s)
        assert status_dict(ctl(ctld, "status"))["state"] == "registered"
        for _ in range(11):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(ctld.sock))
            idle.append(s)
        assert status_dict(ctl(ctld, "status"))["state"] == "registered"
        for s in idle:
            s.settimeout(15)
            assert s.recv(100) == b"", "an idle client was not dropped"
    finally:
        for s in idle:
            s.close()
    ctld.assert_alive()
