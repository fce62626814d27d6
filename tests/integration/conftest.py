"""Fixtures for the lwm2md integration tests.

  leshan     session-scoped test server (tests/leshan-server jar) on free
             loopback ports in a temp dir; its log is attached to failures.
  rest       REST client for it (leshan.Rest).
  events     events(ep) opens /api/event?ep=ep as an EventStream.
  endpoint   a unique endpoint name for this test.
  daemon     daemon(...) writes an ini into tmp_path, starts the binary and
             waits for its registration; teardown sends SIGTERM and checks
             exit code 0 and no sanitizer report.
  rawpeer    rawpeer() binds a RawPeer (a CoAP LwM2M server we control).
  leshan_factory  leshan_factory() starts an extra, private test server
             (for tests that stop and restart it).

Environment: LWM2MD_BIN (default build/lwm2md), LESHAN_JAR (default
tests/leshan-server/target/lwm2md-test-server.jar).
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

import pytest

from daemon import Daemon, stop_all_checked
from leshan import EventStream, LeshanServer, Rest
from rawpeer import RawPeer
from util import GW_ADDR, NET_SIDE, SERVER, Netns, NsDaemon, NsLeshan

_SERVERS = []   # every LeshanServer started in this session (for failure reports)


def pytest_configure(config):
    config.addinivalue_line("markers", "interop(case): the OMA ETS LwM2M 1.1 int-NNN case a test covers")


# --- servers -------------------------------------------------------------------

@pytest.fixture(scope="session")
def leshan(tmp_path_factory):
    srv = LeshanServer(tmp_path_factory.mktemp("leshan"))
    _SERVERS.append(srv)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def leshan_factory(tmp_path_factory):
    started = []

    def make(args=()):
        """args: more test server options (e.g. ("--awake-time", "3"))."""
        srv = LeshanServer(tmp_path_factory.mktemp("leshan-private"))
        srv.extra_args = list(args)
        _SERVERS.append(srv)
        started.append(srv)
        return srv.start()

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def rest(leshan):
    return Rest(leshan.api)


@pytest.fixture
def events(request):
    streams = []

    def open_stream(ep: str, server: LeshanServer = None) -> EventStream:
        server = server or request.getfixturevalue("leshan")
        s = EventStream(server.api, ep)
        streams.append(s)
        return s

    yield open_stream
    for s in streams:
        s.close()


@pytest.fixture
def rawpeer():
    peers = []

    def make(port: int = 0) -> RawPeer:
        p = RawPeer(port=port)
        peers.append(p)
        return p

    yield make
    for p in peers:
        p.close()


# --- the daemon ----------------------------------------------------------------

@pytest.fixture
def endpoint(request) -> str:
    return unique_endpoint(request.node.name)


def unique_endpoint(test_name: str) -> str:
    base = re.sub(r"^test_", "", test_name)
    base = re.sub(r"[^A-Za-z0-9]+", "-", base).strip("-")[:40]
    return f"{base}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def daemon(request, tmp_path, rawpeer, leshan_factory):
    # rawpeer and leshan_factory are set up first so that they are torn down
    # after the daemons: a daemon's Deregister at teardown still finds its server
    """daemon(server=None, endpoint=None, lifetime=300, wait=True, **kw) -> Daemon

    server   a LeshanServer (default: the session one), a RawPeer, or a uri str
    endpoint default: this test's endpoint fixture value (a fresh one for
             each further daemon in the same test)
    wait     wait for the registration (through REST for Leshan, through the
             peer for a RawPeer); a uri str never waits
    server_opts / device / hooks / log_level / state_dir: config values
    sections dict merged last, e.g. {'server': {'binding': 'UQ'}}
    config_text  the whole ini, verbatim (endpoint then only labels the run)
    """
    started = []
    item = request.node
    item._lwm2md_daemons = started

    def start(server=None, endpoint=None, lifetime=300, wait=True, server_opts=None, device=None,
              hooks=None, log_level="debug", state_dir=None, sections=None, config_text=None,
              args=(), start=True) -> Daemon:
        n = len(started)
        if server is None:
            server = request.getfixturevalue("leshan")
        if endpoint is None:
            endpoint = request.getfixturevalue("endpoint") if n == 0 else unique_endpoint(item.name)
        uri = server if isinstance(server, str) else server.uri
        workdir = tmp_path / f"daemon{n}"
        if state_dir is None:
            state_dir = workdir / "state"
            state_dir.mkdir(parents=True, exist_ok=True)
        secs = {
            "server": {"uri": uri, "endpoint": endpoint, "lifetime": lifetime, **(server_opts or {})},
            "device": dict(device or {}),
            "hooks": dict(hooks or {}),
            "state": {"dir": str(state_dir)},
            "log": {"level": log_level},
        }
        for sec, kv in (sections or {}).items():
            secs.setdefault(sec, {}).update(kv)
        for sec in [s for s, kv in secs.items() if not kv]:
            del secs[sec]
        d = Daemon(workdir, secs, endpoint, config_text=config_text, args=args)
        started.append(d)
        if not start:
            return d
        d.start()
        if wait and not isinstance(server, str):
            wait_registered(d, server)
        return d

    yield start

    problems = []
    for d in started:
        if d.proc is None:
            continue
        if d.alive():
            try:
                rc = d.stop(signal.SIGTERM, timeout=15)
            except AssertionError as e:
                d.kill()
                problems.append(f"{d.endpoint}: did not exit on SIGTERM: {e}")
                rc = None
            if rc is not None and d.expect_exit is not None and rc != d.expect_exit:
                problems.append(f"{d.endpoint}: exit code {rc} after SIGTERM, expected {d.expect_exit}")
        elif not d.waited and d.expect_exit is not None:
            problems.append(f"{d.endpoint}: exited by itself during the test with {d.proc.returncode}:\n"
                            f"{d.log_tail(60)}")
        found = d.sanitizer_report()
        if found:
            problems.append(f"{d.endpoint}: sanitizer report in the daemon's output ({found}):\n{d.log_tail(120)}")
    assert not problems, "\n".join(problems)


REGISTER_TIMEOUT = 20          # s: generous; a working daemon registers at once
REGISTER_TIMEOUT_BROKEN = 3    # s: after several daemons in a row failed to register
_register_failures = 0         # consecutive daemons that did not register


def wait_registered(d: Daemon, server, timeout: float = None):
    """Waits until server (LeshanServer or RawPeer) has d's registration.

    When registration is broken altogether, every daemon test would wait the
    full deadline: after 3 failures in a row the deadline drops to 3 s, so
    the run still ends (with each of those tests failing) in reasonable time."""
    global _register_failures
    if timeout is None:
        timeout = REGISTER_TIMEOUT if _register_failures < 3 else REGISTER_TIMEOUT_BROKEN
    deadline = time.monotonic() + timeout
    try:
        while True:       # in short steps, so that a daemon that died fails the test at once
            step = max(0.0, min(0.5, deadline - time.monotonic()))
            try:
                if isinstance(server, RawPeer):
                    reg = server.wait_register(timeout=step)
                else:
                    reg = Rest(server.api).wait_client(d.endpoint, timeout=step)
                break
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise
                if not d.alive():
                    raise AssertionError(f"{d.endpoint} not registered: lwm2md exited") from None
    except AssertionError as e:
        _register_failures += 1
        state = "still running" if d.alive() else f"exited with {d.proc.returncode}"
        note = "" if _register_failures <= 3 else \
            f" (deadline shortened: {_register_failures - 1} daemons in a row did not register before this one)"
        raise AssertionError(f"{e}{note}\nlwm2md {state}; its log:\n{d.log_tail()}") from None
    _register_failures = 0
    return reg


# --- network namespaces (test_connectivity, test_outage) ----------------------------

@pytest.fixture(scope="module")
def netpair(tmp_path_factory):
    """Two network namespaces of this module's own: "net" holds the test
    server on SERVER (a loopback address there), "gw" is where lwm2md runs,
    a veth pair (nv0 in "net", gv0 in "gw") joins them."""
    if os.geteuid() != 0:
        pytest.fail("the namespace tests need root (ip netns)")
    tag = uuid.uuid4().hex[:6]
    net, gw = Netns(f"lwm2md-net-{tag}"), None
    srv = None
    try:
        gw = Netns(f"lwm2md-gw-{tag}")
        # no IPv6: its link-local addresses come and go on their own (DAD)
        # and would make notifications the tests did not cause
        for ns in (net, gw):
            ns.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
            ns.sysctl("net.ipv6.conf.default.disable_ipv6", 1)
        # deleting the address in use promotes the secondary one
        gw.sysctl("net.ipv4.conf.all.promote_secondaries", 1)
        gw.sysctl("net.ipv4.conf.default.promote_secondaries", 1)
        net.ip("link", "add", "nv0", "type", "veth", "peer", "name", "gv0", "netns", gw.name)
        net.ip("addr", "add", f"{NET_SIDE}/24", "dev", "nv0")
        net.ip("link", "set", "nv0", "up")
        net.ip("addr", "add", f"{SERVER}/32", "dev", "lo")
        srv = NsLeshan(tmp_path_factory.mktemp("leshan-ns"), net, SERVER)
        _SERVERS.append(srv)            # its log goes into failure reports
        with net.entered():
            srv.start()
        yield net, gw, srv
    finally:
        if srv:
            srv.stop()
        if gw:
            gw.delete()
        net.delete()


@pytest.fixture
def ns_env(netpair, tmp_path, request):
    """gw in its starting state (one address, a route to the server through
    NET_SIDE), this thread in "net", and a function start(sections=None,
    **server_opts) that starts lwm2md in "gw"; teardown stops it (exit 0, no
    sanitizer report)."""
    net, gw, srv = netpair
    gw.ip("addr", "flush", "dev", "gv0")
    gw.ip("addr", "add", f"{GW_ADDR}/24", "dev", "gv0")
    gw.ip("link", "set", "gv0", "up")
    gw.ip("route", "replace", "10.202.0.0/24", "via", NET_SIDE, "dev", "gv0")
    started = []
    request.node._lwm2md_daemons = started      # their logs go into failure reports

    def start(sections=None, **server_opts) -> NsDaemon:
        ep = unique_endpoint(request.node.name)
        state = tmp_path / "state"
        state.mkdir(exist_ok=True)
        secs = {"server": {"uri": srv.uri, "endpoint": ep, "lifetime": 300, **server_opts},
                "state": {"dir": str(state)}, "control": {"socket": str(tmp_path / "ctl.sock")},
                "log": {"level": "debug"}}
        for sec, kv in (sections or {}).items():
            secs.setdefault(sec, {}).update(kv)
        d = NsDaemon(gw, tmp_path / "daemon", secs, ep)
        started.append(d)
        d.start()
        wait_registered(d, srv)
        return d

    with net.entered():
        try:
            yield gw, srv, Rest(srv.api), start
        finally:
            stop_all_checked(started)


# --- failure reports ------------------------------------------------------------

@pytest.fixture(autouse=True)
def _log_marks(request):
    request.node._leshan_marks = {id(s): s.log_size() for s in _SERVERS}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for d in getattr(item, "_lwm2md_daemons", []):
        rep.sections.append((f"lwm2md {d.endpoint} ({d.log_path})", d.log_tail(200)))
    marks = getattr(item, "_leshan_marks", {})
    for s in _SERVERS:
        text = s.log_text(marks.get(id(s), 0))
        if text.strip():
            rep.sections.append((f"test server :{s.coap_port} ({s.log_path})",
                                 "\n".join(text.splitlines()[-150:])))


def pytest_sessionfinish(session, exitstatus):
    # a server left running by an aborted fixture must not outlive the run
    for s in _SERVERS:
        s.stop()

