"""Servers and images for the Firmware Update tests (test_firmware.py).

  Keys      tests/fw/make_keys.sh run once per session: swupdate's CMS signer, detached
            signature keys (ECDSA P-256, RSA), a test CA and nginx's certificate.
  make_swu  tests/fw/make_swu.sh: a signed .swu whose payload and version file land in a
            destination folder.
  Swupdate  Debian's swupdate as a daemon in a sandbox folder (TMPDIR: its IPC sockets),
            -H gw:1.0, -k the signer's certificate.
  Nginx     nginx on loopback ports for http:// and https:// (the test CA), /slow/ rate
            limited, access log with Range and If-Range.
  CoapFiles a CoAP file server (Block2 with ETag, Size2) on the raw CoAP endpoint.
  CoapsFiles libcoap's coap-server-gnutls (DTLS with the test CA's certificate for
            localhost), files put into it over plain CoAP with coap-client.
Nothing here depends on anything outside the repository."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from daemon import REPO, die_with_parent
from rawpeer import BLOCK2, CONTENT, ETAG, NOT_FOUND, SIZE2, CoapEndpoint, Msg, opt_uint, uint_opt
from util import tmpfs  # noqa: F401  (test_firmware takes it from here)

FW = REPO / "tests" / "fw"


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_keys(dirpath: Path) -> Path:
    subprocess.run(["sh", str(FW / "make_keys.sh"), str(dirpath)], check=True)
    return dirpath


def make_swu(out: Path, dest: Path, payload: bytes, version: str, keys: Path, signer: str = "swu",
             postinst_exit: int = 0) -> Path:
    p = out.with_suffix(".payload")
    p.write_bytes(payload)
    env = dict(os.environ, POSTINST_EXIT=str(postinst_exit))
    subprocess.run(["sh", str(FW / "make_swu.sh"), str(out), str(dest), str(p), version,
                    str(keys / f"{signer}.key.pem"), str(keys / f"{signer}.cert.pem")],
                   check=True, env=env)
    p.unlink()
    return out


def sign(path: Path, key: Path) -> bytes:
    """A detached signature (DER ECDSA or RSA PKCS#1 v1.5 over SHA-256)."""
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key), str(path)],
                          check=True, capture_output=True).stdout


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_for(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


class Swupdate:
    """swupdate -v -H gw:1.0 -k CERT, TMPDIR=sandbox (sockets there)."""

    def __init__(self, sandbox: Path, cert: Path):
        self.dir = Path(sandbox)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert = cert
        self.log_path = self.dir / "swupdate.log"
        self.proc = None

    def start(self):
        env = dict(os.environ, TMPDIR=str(self.dir))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["swupdate", "-v", "-H", "gw:1.0", "-k", str(self.cert)],
                                         stdout=log, stderr=subprocess.STDOUT, env=env,
                                         cwd=self.dir, stdin=subprocess.DEVNULL,
                                         preexec_fn=die_with_parent)
        wait_for(lambda: (self.dir / "sockinstctrl").exists() and (self.dir / "swupdateprog").exists(),
                 10, f"swupdate sockets in {self.dir}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Nginx:
    def __init__(self, workdir: Path, keys: Path, limit: str = "256k"):
        self.dir = Path(workdir)
        self.root = self.dir / "www"
        self.root.mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        self.http_port, self.https_port = free_tcp_port(), free_tcp_port()
        conf = (FW / "nginx.conf.in").read_text()
        for k, v in {"@DIR@": self.dir, "@ROOT@": self.root, "@KEYS@": keys,
                     "@HTTP_PORT@": self.http_port, "@HTTPS_PORT@": self.https_port,
                     "@LIMIT@": limit}.items():
            conf = conf.replace(k, str(v))
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(conf)
        self.access_log = self.dir / "access.log"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["nginx", "-c", str(self.conf), "-p", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "ab"),
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=0.2).close()
                return True
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"nginx exited: {(self.dir / 'stderr.log').read_text()}")
                return False
        wait_for(up, 10, "nginx listening")
        return self

    def url(self, name: str, scheme: str = "http", slow: bool = False) -> str:
        port = self.http_port if scheme == "http" else self.https_port
        host = "127.0.0.1" if scheme == "http" else "localhost"
        return f"{scheme}://{host}:{port}/{'slow/' if slow else ''}{name}"

    def put(self, name: str, data: bytes) -> Path:
        p = self.root / name
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(p)
        return p

    def log_lines(self, name: str = "") -> list:
        if not self.access_log.exists():
            return []
        return [l for l in self.access_log.read_text().splitlines() if name in l]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class CoapFiles(CoapEndpoint):
    """GET /NAME with Block2: the file's blocks (the client's block size, at most
    1024), an ETag from the content, Size2.  requests holds (name, block number)."""

    def __init__(self):
        self.files = {}
        self.requests = []
        self._etags = {}                 # name -> (the bytes hashed, ETag): hashed once
        super().__init__(handler=self._serve, name="coapfiles")

    @property
    def base(self) -> str:
        return f"coap://127.0.0.1:{self.port}"

    def _serve(self, msg: Msg, addr):
        name = msg.uri_path.strip("/")
        data = self.files.get(name)
        if data is None:
            return Msg(code=NOT_FOUND)
        b2 = msg.opt(BLOCK2)
        num, szx = 0, 6
        if b2 is not None:
            v = opt_uint(b2)
            num, szx = v >> 4, min(v & 7, 6)
        self.requests.append((name, num))
        size = 1 << (szx + 4)
        chunk = data[num * size:(num + 1) * size]
        more = (num + 1) * size < len(data)
        cached = self._etags.get(name)
        if cached is None or cached[0] is not data:
            cached = (data, hashlib.sha256(data).digest()[:8])
            self._etags[name] = cached
        etag = cached[1]
        r = Msg(code=CONTENT, payload=chunk)
        r.add(ETAG, etag)
        r.add(BLOCK2, uint_opt((num << 4) | (8 if more else 0) | szx))
        r.add(SIZE2, len(data))
        return r


def free_udp_pair() -> int:
    """A port p with p and p + 1 free for UDP (coap-server takes p + 1 for DTLS)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
            a.bind(("127.0.0.1", 0))
            p = a.getsockname()[1]
            if p >= 65535:
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                    b.bind(("127.0.0.1", p + 1))
                return p
            except OSError:
                continue
    raise AssertionError("no free pair of UDP ports")


class CoapsFiles:
    """coap-server-gnutls -d (resources created by PUT) on [::]:p (CoAP) and p+1
    (DTLS, server.cert.pem); put() uploads over CoAP, url() names the coaps:// one."""

    def __init__(self, workdir: Path, keys: Path):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keys = keys
        self.port = free_udp_pair()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["coap-server-gnutls", "-A", "::", "-p", str(self.port), "-d", "16", "-L", "3",
             "-c", str(self.keys / "server.cert.pem"), "-j", str(self.keys / "server.key.pem")],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "coap-server.log", "ab"),
            stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        time.sleep(0.3)
        return self

    def put(self, name: str, data: bytes):
        p = self.dir / name
        p.write_bytes(data)
        for _ in range(20):
            cp = subprocess.run(["coap-client-gnutls", "-m", "put", "-b", "1024", "-f", str(p),
                                 f"coap://127.0.0.1:{self.port}/{name}"], capture_output=True, timeout=30)
            if cp.returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"coap-client put {name}: {cp.stderr!r}")

    def url(self, name: str) -> str:
        return f"coaps://localhost:{self.port + 1}/{name}"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def copy_tree(src: Path, dst: Path):
    shutil.copytree(src, dst, dirs_exist_ok=True)
