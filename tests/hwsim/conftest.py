"""Fixtures for the VM tests (tests/hwsim). Run them with tests/hwsim/run.sh (or `make hwsim`),
which makes the network namespace they need; every case runs in ONE boot.

  vm       the booted VM (vm.VM): vm.sh("script") runs a shell script inside, as root.
  hw       the simulated hardware, made once (guest/hw.sh): names of the devices, and helpers
           to change what the "outside world" presents (i2c-stub registers, gpio-sim pulls).
  leshan   the LwM2M test server (a copy of tests/leshan-server/target/lwm2md-test-server.jar),
           listening for CoAP on the namespace's tap address, REST on the namespace's loopback;
           started on a thread while the VM boots.
  rest     leshan.Rest for it.
  lwm2md   lwm2md running inside the VM with SENSORS mapped, registered with leshan.

Environment (run.sh sets the first four): HWSIM_TAP, HWSIM_HOST_IP, HWSIM_GUEST_IP, HWSIM_RUN
(this run's folder), LWM2MD_BIN (default build/lwm2md), LESHAN_JAR.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(TOP / "tests" / "integration"))

from vm import VM, VMError, log  # noqa: E402

RUN = Path(os.environ.get("HWSIM_RUN") or tempfile.mkdtemp(prefix="lwm2md-hwsim."))
TAP = os.environ.get("HWSIM_TAP")
HOST_IP = os.environ.get("HWSIM_HOST_IP")
GUEST_IP = os.environ.get("HWSIM_GUEST_IP")
COAP_PORT = 5683
ENDPOINT = "hwsim-gateway"

_STATE = {"vm": None}


def need_network():
    if not (TAP and HOST_IP and GUEST_IP):
        pytest.fail("no network namespace: run the VM tests with tests/hwsim/run.sh (or make hwsim)")


def daemon_bin(name: str = "lwm2md") -> Path:
    p = Path(os.environ.get("LWM2MD_BIN", "build/lwm2md"))
    if name != "lwm2md":
        p = p.with_name(name)
    return p if p.is_absolute() else TOP / p


def build_edgelat() -> Path:
    out = RUN / "hwsim-edgelat"
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(out), str(HERE / "guest" / "edgelat.c")],
                   check=True)
    return out


# --- the VM ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def vm():
    files = {"/opt/hwsim/hw.sh": HERE / "guest" / "hw.sh",
             "/opt/bin/hwsim-edgelat": build_edgelat()}
    for name in ("lwm2md", "lwm2mctl"):
        if daemon_bin(name).is_file():
            files[f"/opt/bin/{name}"] = daemon_bin(name)
    v = VM(RUN / "vm", files, tap=TAP, guest_ip=GUEST_IP)
    _STATE["vm"] = v
    try:
        v.start()
    except BaseException:
        v.stop()
        raise
    log(f"VM up: initramfs {v.timings['initramfs_s']:.1f} s, boot to shell {v.timings['boot_s']:.1f} s "
        f"(kernel {v.kv}, {v.accel})")
    yield v
    v.stop()


class Hw:
    """The simulated hardware of guest/hw.sh, as the tests see it."""

    I2CSET = "/usr/sbin/i2cset"   # busybox's applet would shadow a bare i2cset

    def __init__(self, vm: VM, facts: dict):
        self.vm = vm
        self.__dict__.update({k.lower(): v for k, v in facts.items()})
        self.bus_nr = int(self.i2c_bus.split("-")[1])

    def w16(self, addr: int, reg: int, value: int):
        """Sets a 16-bit chip register as the chip would present it (most significant byte first)."""
        self.vm.sh(f"sh /opt/hwsim/hw.sh w16 {addr:#x} {reg:#x} {value:#x}")

    def pull(self, line: int, up: bool):
        """The outside world drives a gpio-sim input line high (pull-up) or low."""
        self.vm.sh(f"echo {'pull-up' if up else 'pull-down'} > {self.gpiosim}/sim_gpio{line}/pull")

    def line_value(self, line: int) -> int:
        """What a gpio-sim line is driven to by its consumer (outputs), as the outside world sees it."""
        return int(self.vm.sh(f"cat {self.gpiosim}/sim_gpio{line}/value"))

    def i2c_unbind(self, client: str, driver: str):
        self.vm.sh(f"echo {client} > /sys/bus/i2c/drivers/{driver}/unbind")

    def i2c_bind(self, client: str, driver: str):
        self.vm.sh(f"echo {client} > /sys/bus/i2c/drivers/{driver}/bind")


# gpio-sim line offsets (guest/hw.sh names them)
LINE_BUTTON, LINE_DOOR, LINE_RELAY, LINE_LED, LINE_PROBE_IN, LINE_PROBE_OUT = 0, 1, 2, 3, 6, 7


@pytest.fixture(scope="session")
def hw(vm):
    out = vm.sh("sh /opt/hwsim/hw.sh setup")
    facts = dict(l.split("=", 1) for l in out.splitlines() if re.match(r"^[A-Z0-9_]+=", l))
    return Hw(vm, facts)


# --- the LwM2M server --------------------------------------------------------------------------

_leshan_thread = {}


def _start_leshan():
    """Starts the server on a thread (the JVM starts while qemu boots)."""
    import leshan as L

    need_network()
    jar = Path(os.environ.get("LESHAN_JAR", TOP / "tests/leshan-server/target/lwm2md-test-server.jar"))
    if not jar.is_file():
        raise AssertionError(f"{jar} is missing: `make leshan` builds it")
    d = RUN / "leshan"
    d.mkdir(parents=True, exist_ok=True)
    copy = d / "server.jar"      # a rebuild may replace the jar in target/ while we run
    shutil.copy2(jar, copy)
    os.environ["LESHAN_JAR"] = str(copy)

    class NsLeshan(L.LeshanServer):
        def command(self):
            cmd = super().command()
            cmd[cmd.index("-lh") + 1] = HOST_IP      # CoAP on the tap: the guest reaches it
            return cmd

        @property
        def uri(self):
            return f"coap://{HOST_IP}:{self.coap_port}"

    srv = NsLeshan(d, coap_port=COAP_PORT)
    box = {"srv": srv}

    def run():
        try:
            t0 = time.monotonic()
            srv.start()
            box["ready_s"] = time.monotonic() - t0
        except BaseException as e:  # reported by the fixture
            box["error"] = e

    t = threading.Thread(target=run, daemon=True, name="leshan-start")
    t.start()
    box["thread"] = t
    return box


@pytest.fixture(scope="session", autouse=True)
def _leshan_early():
    if TAP:
        _leshan_thread.update(_start_leshan())
    yield
    srv = _leshan_thread.get("srv")
    if srv is not None:
        _leshan_thread["thread"].join(timeout=120)
        srv.stop()


@pytest.fixture(scope="session")
def leshan():
    need_network()
    _leshan_thread["thread"].join(timeout=150)
    if "error" in _leshan_thread:
        raise _leshan_thread["error"]
    srv = _leshan_thread["srv"]
    if srv.proc is None:
        raise AssertionError("the test server did not start in time")
    log(f"test server ready at {srv.uri} (REST {srv.api}) after {_leshan_thread.get('ready_s', 0):.1f} s")
    return srv


@pytest.fixture(scope="session")
def rest(leshan):
    import leshan as L
    return L.Rest(leshan.api)


@pytest.fixture
def events(leshan):
    import leshan as L
    streams = []

    def open_stream(ep: str = ENDPOINT):
        s = L.EventStream(leshan.api, ep)
        streams.append(s)
        return s

    yield open_stream
    for s in streams:
        s.close()


# --- failure reports ---------------------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    v = _STATE.get("vm")
    if v is not None and v.sock is not None:
        try:
            rc, out = v.run("tail -n 60 /tmp/lwm2md.log 2>/dev/null; echo ---; dmesg | tail -n 15", timeout=10)
            rep.sections.append(("guest: lwm2md log and dmesg", out))
        except Exception as e:  # the VM itself may be what failed
            rep.sections.append(("guest", f"unreachable: {e}"))
    if v is not None:
        rep.sections.append(("guest console (tail)", v.console_tail(30)))
    srv = _leshan_thread.get("srv")
    if srv is not None and srv.proc is not None:
        rep.sections.append(("test server log (tail)", srv.log_tail(30)))
