"""Small helpers shared by the test files, and the network namespaces of
the tests that need real links (test_connectivity, test_outage): Netns, the
test server (NsLeshan) and lwm2md (NsDaemon) run inside one; the fixtures
`netpair` and `ns_env` (conftest.py) put them together."""

import ctypes
import os
import re
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from daemon import Daemon, daemon_bin, daemon_env, die_with_parent, run_cli
from leshan import MODELS, LeshanServer, jar_path


def poll(fn, timeout: float, what: str, interval: float = 0.2):
    """Calls fn() until it returns something truthy; returns that.  On the
    deadline raises AssertionError naming `what` and fn's last result."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")
        time.sleep(interval)


def attr(value):
    """A link attribute value as the server shows it, without CoRE quotes."""
    if value is None:
        return None
    return str(value).strip('"')


def link_urls(links: list) -> set:
    return {l["url"] for l in links}


def os_release() -> dict:
    out = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path) as f:
                for line in f:
                    m = re.match(r'^([A-Z_]+)=(.*)$', line.strip())
                    if m:
                        out[m.group(1)] = m.group(2).strip('"\'')
            return out
        except FileNotFoundError:
            continue
    return out


def meminfo_kb(key: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/meminfo")


def version_number() -> str:
    cp = run_cli(["--version"])
    assert cp.returncode == 0, cp.stderr
    m = re.search(r"\b(\d+\.\d+\.\d+\S*)", cp.stdout)
    assert m, f"no version number in --version output: {cp.stdout!r}"
    return m.group(1)


def tmpfs(path: Path, size: str):
    """Mounts a tmpfs of size at path (root only); returns an unmount function."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)

    def umount():
        subprocess.run(["umount", "-l", str(path)], check=False)
    return umount


# --- network namespaces --------------------------------------------------------

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args, check=True):
    cp = subprocess.run(["ip", *map(str, args)], capture_output=True, text=True)
    if check and cp.returncode:
        raise AssertionError(f"ip {' '.join(map(str, args))}: {cp.stderr.strip()}")
    return cp


class Netns:
    def __init__(self, name: str):
        self.name = name
        ip("netns", "add", name)
        self.ip("link", "set", "lo", "up")

    def ip(self, *args, check=True):
        return ip("-n", self.name, *args, check=check)

    def sysctl(self, key: str, value):
        subprocess.run(["ip", "netns", "exec", self.name, "sysctl", "-q", "-w", f"{key}={value}"],
                       check=True)

    @property
    def prefix(self) -> list:
        return ["ip", "netns", "exec", self.name]

    @contextmanager
    def entered(self):
        """This thread (and threads it starts) in the namespace: sockets
        opened meanwhile live there."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns")
            yield self
        finally:
            _libc.setns(home, CLONE_NEWNET)
            os.close(home)
            os.close(target)

    def delete(self):
        ip("netns", "delete", self.name, check=False)


class NsLeshan(LeshanServer):
    """The test server inside a namespace, on host:5683, REST on 127.0.0.1:8080
    there (start and REST calls need the namespace entered)."""

    def __init__(self, workdir: Path, ns: Netns, host: str):
        super().__init__(workdir, coap_port=5683, web_port=8080)
        self.ns, self.host = ns, host

    @property
    def uri(self) -> str:
        return f"coap://{self.host}:{self.coap_port}"

    def command(self):
        cmd = self.ns.prefix + ["java", "-jar", str(jar_path()), "-lh", self.host, "-lp",
                                str(self.coap_port), "-wh", "127.0.0.1", "-wp", str(self.web_port)]
        if MODELS.is_dir():
            cmd += ["-m", str(MODELS)]
        return cmd


class NsDaemon(Daemon):
    """lwm2md under `ip netns exec` (which also mounts that namespace's /sys)."""

    def __init__(self, ns: Netns, *args, env: dict = None, **kw):
        self.ns = ns
        self.extra_env = env or {}          # on top of daemon_env()
        super().__init__(*args, **kw)

    def start(self):
        cmd = self.ns.prefix + [str(daemon_bin()), "-c", str(self.cfg_path), "--foreground"]
        with open(self.log_path, "ab") as log:
            log.write(f"===== {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT,
                                         env={**daemon_env(), **self.extra_env},
                                         cwd=self.workdir, preexec_fn=die_with_parent)
        self.returncode = None
        return self


SERVER = "10.202.0.1"          # on lo in "net"
NET_SIDE = "10.201.0.1"        # veth in "net": the router lwm2md sees
GW_ADDR = "10.201.0.2"         # veth in "gw": lwm2md's address
GW_ADDR2 = "10.201.0.3"
