"""Helpers for the information-reporting tests (test_observe, test_composite,
test_send, test_restart, test_queue_mode, test_blockwise, test_lwm2m12):
REST calls the shared leshan.Rest lacks (Write-Attributes, Observe, cancels,
composite operations), a private test server started from a copy of the jar
on fixed ports (so it can be stopped and started again on the same CoAP
port), and small event-stream and log helpers.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from leshan import REQUEST_TIMEOUT_S, LeshanServer, Result, Rest, decode_node, jar_path


# --- REST operations missing from leshan.Rest ----------------------------------

def _call(rest: Rest, method: str, url: str, params=None, raw_query: str = None, **kw) -> Result:
    """Like Rest._call, but raw_query (if given) is sent verbatim as the whole
    query string (Write-Attributes: the test server parses every parameter as
    an attribute, so no timeout= may be added)."""
    full = f"{rest.api}/clients/{url}"
    if raw_query is not None:
        full += "?" + raw_query if raw_query else ""
        params = None
    else:
        params = dict(params or {})
        params.setdefault("timeout", rest.timeout)
    r = rest.http.request(method, full, params=params, timeout=REQUEST_TIMEOUT_S + rest.timeout, **kw)
    try:
        body = r.json()
    except ValueError:
        body = r.text
    res = Result(http=r.status_code, body=body)
    if isinstance(body, dict) and isinstance(body.get("status"), str):
        res.status = body["status"]
        s = res.status
        if "(" in s and s.endswith(")"):
            res.code = int(s[s.rindex("(") + 1:-1])
    return res


def write_attributes(rest: Rest, ep: str, path: str, query: str) -> Result:
    """PUT {path}/attributes?{query}; a bare name unsets."""
    return _call(rest, "PUT", f"{ep}/{path.strip('/')}/attributes", raw_query=query)


def observe(rest: Rest, ep: str, path: str, format: str = None) -> Result:
    params = {"format": format} if format else {}
    return _call(rest, "POST", f"{ep}/{path.strip('/')}/observe", params)


def cancel_observe(rest: Rest, ep: str, path: str, active: bool = False) -> Result:
    """Passive (the server forgets it; the next notification gets a Reset) or
    active (a GET with Observe=1 to the client)."""
    if active:
        return _call(rest, "DELETE", f"{ep}/{path.strip('/')}/observe", raw_query="active")
    return _call(rest, "DELETE", f"{ep}/{path.strip('/')}/observe", raw_query="")


def read_composite(rest: Rest, ep: str, paths, format: str = "SENML_CBOR") -> Result:
    return _call(rest, "GET", f"{ep}/composite",
                 {"paths": ",".join(paths), "pathformat": format, "nodeformat": format})


def write_composite(rest: Rest, ep: str, values: dict, format: str = "SENML_CBOR") -> Result:
    """values: {"/1/0/2": node, ...}"""
    return _call(rest, "PUT", f"{ep}/composite", {"nodeformat": format}, json=values)


def observe_composite(rest: Rest, ep: str, paths, format: str = "SENML_CBOR") -> Result:
    return _call(rest, "POST", f"{ep}/composite/observe",
                 {"paths": ",".join(paths), "pathformat": format, "nodeformat": format})


def cancel_composite(rest: Rest, ep: str, paths, active: bool = False) -> Result:
    q = "paths=" + ",".join(paths) + ("&active" if active else "")
    return _call(rest, "DELETE", f"{ep}/composite/observe", raw_query=q)


def composite_content(res: Result) -> dict:
    """A composite answer's content {"/3/0/0": node} -> {"/3/0/0": value}."""
    content = (res.body or {}).get("content") if isinstance(res.body, dict) else None
    assert isinstance(content, dict), f"no composite content in {res}"
    return {p: decode_node(n) for p, n in content.items()}


def event_values(data: dict) -> dict:
    """A SEND or composite NOTIFICATION event's val -> {path: value}."""
    return {p: decode_node(n) for p, n in (data.get("val") or {}).items()}


def single_value(data: dict):
    """A single NOTIFICATION event -> its decoded value."""
    return decode_node(data.get("val"))


def is_notification_of(path: str):
    return lambda d: d.get("kind") == "single" and d.get("res") == path


def is_composite_notification():
    return lambda d: d.get("kind") == "composite"


def no_event(stream, name: str, pred=None, seconds: float = 3.0, since: int = None) -> None:
    """Asserts that no event `name` (with pred) arrives within seconds
    (counted among the stream's events from index `since`, default: now)."""
    start = len(stream.events) if since is None else since
    time.sleep(seconds)
    with stream._cond:
        got = [e for e in stream.events[start:] if e.name == name and (pred is None or pred(e.data))]
    assert not got, f"unexpected {name} event(s): {[e.data for e in got]}"


def events_since(stream, name: str, start: int, pred=None) -> list:
    with stream._cond:
        return [e for e in stream.events[start:] if e.name == name and (pred is None or pred(e.data))]


def wait_count(stream, name: str, n: int, start: int = 0, pred=None, timeout: float = 30) -> list:
    """Waits until at least n events `name` (with pred) arrived since index
    start; returns them."""
    deadline = time.monotonic() + timeout
    while True:
        got = events_since(stream, name, start, pred)
        if len(got) >= n:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(got)} of {n} {name} events within {timeout} s "
                                 f"(saw: {', '.join(stream.names()) or 'nothing'})")
        time.sleep(0.1)


# --- a private test server on fixed ports, from a copy of the jar --------------

class PrivateServer(LeshanServer):
    """A test server of this test's own, started from a copy of the jar (the
    shared one may be rebuilt meanwhile) on ports chosen once: stop() then
    start() brings it back on the same CoAP port, having forgotten every
    registration."""

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        src = jar_path()
        if not src.is_file():
            raise AssertionError(
                f"test server jar {src} is missing: build it with "
                f"`mvn -q -f tests/leshan-server/pom.xml package -DskipTests` (or set LESHAN_JAR)")
        self.jar = self.workdir / "test-server.jar"
        shutil.copyfile(src, self.jar)

    def command(self):
        cmd = super().command()
        cmd[cmd.index("-jar") + 1] = str(self.jar)
        return cmd


@pytest.fixture
def private_server(tmp_path_factory):
    """private_server() -> a started PrivateServer, stopped at teardown (after
    the daemons, when the test asks for this fixture before `daemon`)."""
    import conftest           # so that a failing test's report carries its log

    started = []

    def make() -> PrivateServer:
        srv = PrivateServer(tmp_path_factory.mktemp("leshan-reporting"))
        conftest._SERVERS.append(srv)
        started.append(srv)
        return srv.start()

    yield make
    for srv in started:
        srv.stop()


# --- the daemon ---------------------------------------------------------------

def sigkill(d) -> None:
    """Kills the daemon as a crash would (no De-register)."""
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)


def restart(d) -> None:
    """Starts the same daemon again (same config, state folder and log) after
    it was killed; teardown then stops the new process."""
    d.waited = False
    d.start()


def log_offset(d) -> int:
    return d.log_size()


def state_file(d, name: str) -> Path:
    return Path(d.state_dir) / name


def queue_files(d) -> list:
    q = Path(d.state_dir) / "queue"
    if not q.is_dir():
        return []
    return sorted(p.name for p in q.iterdir() if len(p.name) == 16 and p.name.isdigit())


QUEUE_MAGIC = b"LWQ1"
QUEUE_HDR = 28          # magic 4, kind 1, format 2, toklen 1, token 8, seq 4, len 4, sum 4
QUEUE_KIND_SEND = 1


def queued_sends(d) -> list:
    """The Send payloads waiting in the daemon's queue folder, oldest first,
    each as {path: value} (header layout from agent/send.c)."""
    from rawpeer import cbor_decode, senml_resolve

    out = []
    for name in queue_files(d):
        data = (Path(d.state_dir) / "queue" / name).read_bytes()
        assert data[:4] == QUEUE_MAGIC, f"queue file {name} has no {QUEUE_MAGIC!r} header"
        if data[4] != QUEUE_KIND_SEND:
            continue
        n = int.from_bytes(data[20:24], "big")
        out.append(senml_resolve(cbor_decode(data[QUEUE_HDR:QUEUE_HDR + n])))
    return out


def pause(d) -> None:
    """SIGSTOP: the daemon keeps its state but neither reads nor sends."""
    os.kill(d.pid, signal.SIGSTOP)


def resume(d) -> None:
    os.kill(d.pid, signal.SIGCONT)
