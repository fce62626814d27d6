"""The LwM2M test server (tests/leshan-server, built on Eclipse Leshan with
the Leshan demo server's CLI and REST API) as seen from the tests:

* LeshanServer: starts/stops the jar on free loopback ports in its own
  temp dir, keeps its log.
* Rest: the REST API (/api/clients/...), one method per LwM2M operation,
  returning a Result (status code + decoded content) without raising on
  LwM2M errors, so tests assert codes themselves.
* EventStream: /api/event as Server-Sent Events, read on a thread into a
  list; wait_for() consumes events in order.
* decode_node() and the node builders res() / multi() / inst().
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import requests

from daemon import die_with_parent

REPO = Path(__file__).resolve().parents[2]
DEFAULT_JAR = REPO / "tests" / "leshan-server" / "target" / "lwm2md-test-server.jar"
MODELS = REPO / "objects" / "xml"

# HTTP timeout for REST calls: the device request timeout (?timeout=) plus slack
REQUEST_TIMEOUT_S = 10


def free_port(kind=socket.SOCK_DGRAM) -> int:
    """A port that was free on 127.0.0.1 a moment ago, for UDP or TCP."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jar_path() -> Path:
    return Path(os.environ.get("LESHAN_JAR", DEFAULT_JAR))


# --- the server process ----------------------------------------------------

class LeshanServer:
    """One test-server process.  stop() then start() again keeps the same
    ports (a restart: the server forgets every registration)."""

    READY_TIMEOUT = 90  # s: JVM start on a loaded 2-core machine

    def __init__(self, workdir: Path, coap_port: int = None, web_port: int = None,
                 coaps: bool = False, coaps_host: str = "127.0.0.1", x509: dict = None,
                 rpk: dict = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.coap_port = coap_port or free_port(socket.SOCK_DGRAM)
        # CoAP over DTLS (PSK; credentials through /api/security/clients)
        self.coaps_port = free_port(socket.SOCK_DGRAM) if coaps else None
        self.coaps_host = coaps_host      # None: every local address (localhost as ::1 too)
        # X.509 for coaps: {"cert": PEM chain, "key": PKCS#8 PEM, "trust": PEM of trusted CAs}
        self.x509 = x509
        self.rpk = rpk            # RPK for coaps: {"pub": public key PEM, "key": PKCS#8 PEM}
        self.web_port = web_port or free_port(socket.SOCK_STREAM)
        self.log_path = self.workdir / "leshan.log"
        self.proc = None
        self.starts = 0
        self.extra_args = []        # more test server options, e.g. ["--awake-time", "3"]

    @property
    def uri(self) -> str:
        """What the daemon's [server] uri should be."""
        return f"coap://127.0.0.1:{self.coap_port}"

    @property
    def coaps_uri(self) -> str:
        assert self.coaps_port, "this test server was started without coaps"
        return f"coaps://127.0.0.1:{self.coaps_port}"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/api"

    def command(self):
        jar = jar_path()
        cmd = ["java", "-jar", str(jar), "-lh", "127.0.0.1", "-lp", str(self.coap_port),
               "-wh", "127.0.0.1", "-wp", str(self.web_port)]
        if self.coaps_port:
            cmd += ["-slp", str(self.coaps_port)]
            if self.coaps_host:
                cmd += ["-slh", self.coaps_host]
        if self.x509:
            cmd += ["-xcert", str(self.x509["cert"]), "-xprik", str(self.x509["key"]),
                    "-ts", str(self.x509["trust"])]
        if self.rpk:
            cmd += ["-rpubk", str(self.rpk["pub"]), "-rprik", str(self.rpk["key"])]
        if MODELS.is_dir():
            cmd += ["-m", str(MODELS)]
        return cmd + list(self.extra_args)

    def start(self):
        jar = jar_path()
        if not jar.is_file():
            raise AssertionError(
                f"test server jar {jar} is missing: build it with "
                f"`mvn -q -f tests/leshan-server/pom.xml package -DskipTests` (or set LESHAN_JAR)")
        if shutil.which("java") is None:
            raise AssertionError("java is not on PATH (the test server needs Java 17+)")
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        log.close()
        deadline = time.monotonic() + self.READY_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"test server exited with {self.proc.returncode} during start:\n"
                                     f"{self.log_tail()}")
            try:
                r = requests.get(f"{self.api}/server/endpoint", timeout=2)
                if r.status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"test server not ready within {self.READY_TIMEOUT} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def log_text(self, offset: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


# --- node JSON ---------------------------------------------------------------

def _scalar(t: str, v):
    """One value of Leshan's node JSON -> Python (int, float, bool, str,
    bytes, datetime, dict for objlnk)."""
    t = (t or "").upper()
    if v is None:
        return None
    if t in ("INTEGER", "UNSIGNED_INTEGER"):
        return int(v)
    if t == "FLOAT":
        return float(v)
    if t == "BOOLEAN":
        return v if isinstance(v, bool) else str(v).lower() == "true"
    if t == "OPAQUE":
        return bytes.fromhex(v) if isinstance(v, str) else bytes(v)
    if t == "TIME":
        if isinstance(v, (int, float)):
            return datetime.fromtimestamp(v / 1000, tz=timezone.utc)
        return datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    return v


def decode_node(node):
    """Leshan node JSON -> nested Python values:
    singleResource / resourceInstance -> value; multiResource -> {riid: value};
    instance -> {rid: ...}; obj -> {iid: {rid: ...}}; root -> {oid: ...}."""
    if node is None:
        return None
    kind = node.get("kind")
    if kind in ("singleResource", "resourceInstance"):
        return _scalar(node.get("type"), node.get("value"))
    if kind == "multiResource":
        return {int(k): _scalar(node.get("type"), v) for k, v in node.get("values", {}).items()}
    if kind == "instance":
        return {r["id"]: decode_node(r) for r in node.get("resources", [])}
    if kind == "obj":
        return {i["id"]: decode_node(i) for i in node.get("instances", [])}
    if kind == "root":
        return {o["id"]: decode_node(o) for o in node.get("objects", [])}
    raise AssertionError(f"unknown node kind in {node!r}")


def res(rid: int, value, type: str = None) -> dict:
    """A single resource node; type guessed from the Python value."""
    return {"id": rid, "kind": "singleResource", "type": type or _type_of(value), "value": _json_value(value)}


def res_inst(riid: int, value, type: str = None) -> dict:
    return {"id": riid, "kind": "resourceInstance", "type": type or _type_of(value), "value": _json_value(value)}


def multi(rid: int, values: dict, type: str = None) -> dict:
    first = next(iter(values.values()), "")
    return {"id": rid, "kind": "multiResource", "type": type or _type_of(first),
            "values": {str(k): _json_value(v) for k, v in values.items()}}


def inst(iid, resources: list) -> dict:
    """An object instance node; iid None leaves the id to the client (Create)."""
    node = {"kind": "instance", "resources": resources}
    if iid is not None:
        node["id"] = iid
    return node


def _type_of(v) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "float"
    if isinstance(v, (bytes, bytearray)):
        return "opaque"
    if isinstance(v, datetime):
        return "time"
    return "string"


def _json_value(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, datetime):
        return int(v.timestamp() * 1000)
    return v


# --- REST ------------------------------------------------------------------

@dataclass
class Result:
    """The outcome of one REST device-management call."""
    http: int                  # HTTP status of the REST call
    body: object               # parsed JSON, or the text if not JSON
    code: int = None           # LwM2M/CoAP response code as 205, 404... (None: no device answer)
    status: str = None         # "CONTENT(205)"

    @property
    def content(self):
        """Decoded content node (read), or None."""
        if isinstance(self.body, dict) and "content" in self.body:
            return decode_node(self.body["content"])
        return None

    @property
    def links(self) -> dict:
        """Discover result as {url: {attr: value}}."""
        return links_dict((self.body or {}).get("objectLinks", []))

    @property
    def location(self):
        return (self.body or {}).get("location") if isinstance(self.body, dict) else None

    def __str__(self):
        return f"HTTP {self.http} {json.dumps(self.body) if not isinstance(self.body, str) else self.body}"


def links_dict(links: list) -> dict:
    return {l["url"]: dict(l.get("attributes") or {}) for l in links}


class Rest:
    """The test server's REST API."""

    def __init__(self, api: str, timeout: int = 5):
        self.api = api.rstrip("/")
        self.timeout = timeout   # device request timeout (s), sent as ?timeout=
        self.http = requests.Session()

    # registrations
    def client(self, ep: str):
        """The registration JSON of ep, or None if it is not registered."""
        r = self.http.get(f"{self.api}/clients/{ep}", timeout=REQUEST_TIMEOUT_S)
        if r.status_code == 200:
            return r.json()
        if r.status_code in (400, 404):
            return None
        raise AssertionError(f"GET /clients/{ep}: HTTP {r.status_code} {r.text}")

    def clients(self) -> list:
        r = self.http.get(f"{self.api}/clients", timeout=REQUEST_TIMEOUT_S)
        r.raise_for_status()
        return r.json()

    def wait_client(self, ep: str, timeout: float = 20, pred=None, what: str = "registered"):
        """Polls GET /clients/{ep} until it answers (and pred(reg) holds)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.client(ep)
            if last is not None and (pred is None or pred(last)):
                return last
            if time.monotonic() > deadline:
                raise AssertionError(f"endpoint {ep} not {what} within {timeout} s; last: {last}")
            time.sleep(0.2)

    def wait_gone(self, ep: str, timeout: float = 20):
        deadline = time.monotonic() + timeout
        while self.client(ep) is not None:
            if time.monotonic() > deadline:
                raise AssertionError(f"endpoint {ep} still registered after {timeout} s")
            time.sleep(0.2)

    # credentials (/api/security/clients, as the Leshan demo server has it); each call on
    # a new connection: these come after long waits, when the server has closed idle ones
    def set_psk(self, ep: str, identity: str, key_hex: str):
        self.set_security({"endpoint": ep, "tls": {"mode": "psk",
                                                   "details": {"identity": identity, "key": key_hex}}})

    def set_security(self, body: dict):
        """PUT /security/clients: an entry replaces the endpoint's earlier one."""
        r = requests.put(f"{self.api}/security/clients", json=body, timeout=REQUEST_TIMEOUT_S)
        assert r.status_code == 200, f"PUT /security/clients: HTTP {r.status_code} {r.text}"

    def security(self) -> list:
        r = requests.get(f"{self.api}/security/clients", timeout=REQUEST_TIMEOUT_S)
        r.raise_for_status()
        return r.json()

    def delete_security(self, ep: str):
        r = requests.delete(f"{self.api}/security/clients/{ep}", timeout=REQUEST_TIMEOUT_S)
        assert r.status_code == 200, f"DELETE /security/clients/{ep}: HTTP {r.status_code} {r.text}"

    # device management
    def _call(self, method: str, url: str, params=None, **kw) -> Result:
        params = dict(params or {})
        params.setdefault("timeout", self.timeout)
        r = self.http.request(method, f"{self.api}/clients/{url}", params=params,
                              timeout=REQUEST_TIMEOUT_S + self.timeout, **kw)
        try:
            body = r.json()
        except ValueError:
            body = r.text
        res_ = Result(http=r.status_code, body=body)
        if isinstance(body, dict) and isinstance(body.get("status"), str):
            res_.status = body["status"]
            s = res_.status
            if "(" in s and s.endswith(")"):
                res_.code = int(s[s.rindex("(") + 1:-1])
        return res_

    def read(self, ep: str, path: str, format: str = None) -> Result:
        params = {"format": format} if format else {}
        return self._call("GET", f"{ep}/{path.strip('/')}", params)

    def discover(self, ep: str, path: str) -> Result:
        return self._call("GET", f"{ep}/{path.strip('/')}/discover")

    def write(self, ep: str, path: str, node, format: str = None, replace: bool = True) -> Result:
        """node: a node dict (res(), inst(), ...) or a str sent as text/plain."""
        params = {"replace": "true" if replace else "false"}
        if format:
            params["format"] = format
        if isinstance(node, str):
            return self._call("PUT", f"{ep}/{path.strip('/')}", params, data=node.encode(),
                              headers={"Content-Type": "text/plain"})
        return self._call("PUT", f"{ep}/{path.strip('/')}", params, json=node)

    def execute(self, ep: str, path: str, args: str = None) -> Result:
        kw = {}
        if args is not None:
            kw = {"data": args.encode(), "headers": {"Content-Type": "text/plain"}}
        return self._call("POST", f"{ep}/{path.strip('/')}", **kw)

    def create(self, ep: str, path: str, instance: dict, format: str = None) -> Result:
        params = {"format": format} if format else {}
        return self._call("POST", f"{ep}/{path.strip('/')}", params, json=instance)

    def delete(self, ep: str, path: str) -> Result:
        return self._call("DELETE", f"{ep}/{path.strip('/')}")


# --- events ------------------------------------------------------------------

@dataclass
class Event:
    name: str
    data: object     # parsed JSON (or the raw text)
    time: float


class EventStream:
    """GET /api/event[?ep=] read on a thread.  Open it BEFORE triggering
    what should produce the events: the server does not buffer them."""

    def __init__(self, api: str, ep: str = None, connect_timeout: float = 10):
        self.url = f"{api.rstrip('/')}/event"
        self.ep = ep
        self.events = []
        self._pos = 0
        self._cond = threading.Condition()
        self._resp = None
        self._error = None
        self._first_bytes = threading.Event()
        self._closed = False
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sse-{ep}", daemon=True)
        self._thread.start()
        if not self._connected.wait(connect_timeout):
            raise AssertionError(f"event stream {self.url} did not connect within {connect_timeout} s")
        if self._error:
            raise AssertionError(f"event stream {self.url}: {self._error}")
        # The test server sends an SSE comment once the stream is registered;
        # after it, no event can be missed.  (Leshan's demo sends nothing, so
        # this is only a short grace wait there.)
        self._first_bytes.wait(2)

    def _run(self):
        try:
            params = {"ep": self.ep} if self.ep else {}
            self._resp = requests.get(self.url, params=params, stream=True,
                                      headers={"Accept": "text/event-stream"}, timeout=(10, None))
            if self._resp.status_code != 200:
                self._error = f"HTTP {self._resp.status_code} {self._resp.text[:200]}"
                self._connected.set()
                return
            self._connected.set()
            buf = b""
            name, data = None, []
            for chunk in self._resp.iter_content(chunk_size=None):
                self._first_bytes.set()
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line = line.rstrip(b"\r").decode("utf-8", errors="replace")
                    if line == "":
                        if name is not None or data:
                            self._dispatch(name or "message", "\n".join(data))
                        name, data = None, []
                    elif line.startswith(":"):
                        continue
                    else:
                        field_, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if field_ == "event":
                            name = value
                        elif field_ == "data":
                            data.append(value)
        except Exception as e:  # stream closed (close() or server gone)
            if not self._closed:
                self._error = repr(e)
        finally:
            self._connected.set()
            self._first_bytes.set()
            with self._cond:
                self._cond.notify_all()

    def _dispatch(self, name: str, data: str):
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data
        with self._cond:
            self.events.append(Event(name, parsed, time.time()))
            self._cond.notify_all()

    def names(self) -> list:
        with self._cond:
            return [e.name for e in self.events if e.name != "COAPLOG"]

    def wait_for(self, name: str, pred=None, timeout: float = 20) -> Event:
        """The first event named `name` (and pred(data) true) after the one
        the previous wait_for returned; events skipped over stay in
        self.events.  Raises AssertionError with what was seen on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(self._pos, len(self.events)):
                    e = self.events[i]
                    if e.name == name and (pred is None or pred(e.data)):
                        self._pos = i + 1
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = ", ".join(self.names()) or "nothing"
                    raise AssertionError(f"no {name} event for {self.ep} within {timeout} s "
                                         f"(saw: {seen}){'; stream error: ' + self._error if self._error else ''}")
                self._cond.wait(min(left, 1.0))

    def seen(self, name: str, pred=None) -> list:
        with self._cond:
            return [e for e in self.events if e.name == name and (pred is None or pred(e.data))]

    def close(self):
        self._closed = True
        if self._resp is not None:
            # shutdown() wakes the reading thread; close() alone may not
            try:
                sock = self._resp.raw._connection.sock
                sock.shutdown(socket.SHUT_RDWR)
            except Exception:
                pass
            try:
                self._resp.close()
            except Exception:
                pass
        self._thread.join(timeout=5)
