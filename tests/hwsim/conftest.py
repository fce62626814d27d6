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
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(TOP / "tests" / "integration"))

from vm import VM, VMError, log  # noqa: E402

RUN = Path(os.environ.get("HWSIM_RUN") or tempfile.mkdtemp(prefix="lwm2md-hwsim."))
RUN.mkdir(parents=True, exist_ok=True)
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

    def thermal(self, c: float):
        """The ACPI thermal zone's temperature (°C, one decimal)."""
        self.vm.sh(f"sh /opt/hwsim/hw.sh thermal {c:.1f}")

    def late_chip(self, add: bool):
        """Creates (and returns the facts of) or removes the second gpio-sim chip, "hwsim-late"."""
        out = self.vm.sh(f"sh /opt/hwsim/hw.sh late-chip {'add' if add else 'remove'}")
        facts = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
        return {k.lower(): v for k, v in facts.items()}

    def i2c_unbind(self, client: str, driver: str):
        self.vm.sh(f"echo {client} > /sys/bus/i2c/drivers/{driver}/unbind")

    def i2c_bind(self, client: str, driver: str):
        self.vm.sh(f"echo {client} > /sys/bus/i2c/drivers/{driver}/bind")


# gpio-sim line offsets (guest/hw.sh names them)
LINE_BUTTON, LINE_DOOR, LINE_RELAY, LINE_LED, LINE_PROBE_IN, LINE_PROBE_OUT = 0, 1, 2, 3, 6, 7
LINE_SWITCH, LINE_PUSH, LINE_VALVE = 8, 9, 10


@pytest.fixture(scope="session")
def hw(vm):
    out = vm.sh("sh /opt/hwsim/hw.sh setup")
    facts = dict(l.split("=", 1) for l in out.splitlines() if re.match(r"^[A-Z0-9_]+=", l))
    return Hw(vm, facts)


# --- the LwM2M server --------------------------------------------------------------------------

_leshan = {}


def _launch_leshan():
    """Starts the server process without waiting for it (the JVM starts while qemu boots).
    Started from the main thread: PR_SET_PDEATHSIG (die_with_parent) fires when the thread
    that forked the child ends, so a helper thread would kill it at once."""
    import leshan as L
    from daemon import die_with_parent

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
    srv.starts += 1
    logf = open(srv.log_path, "ab")
    logf.write(f"===== {' '.join(srv.command())}\n".encode())
    logf.flush()
    srv.proc = subprocess.Popen(srv.command(), cwd=d, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    logf.close()
    return srv


def _wait_leshan(srv, timeout: float = 90):
    import requests
    deadline = time.monotonic() + timeout
    while True:
        if srv.proc.poll() is not None:
            raise AssertionError(f"test server exited with {srv.proc.returncode}:\n{srv.log_tail()}")
        try:
            if requests.get(f"{srv.api}/server/endpoint", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"test server not ready within {timeout} s:\n{srv.log_tail()}")
        time.sleep(0.2)


@pytest.fixture(scope="session", autouse=True)
def _leshan_early():
    if TAP:
        _leshan["t0"] = time.monotonic()
        _leshan["srv"] = _launch_leshan()
    yield
    if "srv" in _leshan:
        _leshan["srv"].stop()


@pytest.fixture(scope="session")
def leshan():
    need_network()
    srv = _leshan["srv"]
    _wait_leshan(srv)
    log(f"test server ready at {srv.uri} (REST {srv.api}), "
        f"{time.monotonic() - _leshan['t0']:.1f} s after its start")
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
    srv = _leshan.get("srv")
    if srv is not None and srv.proc is not None:
        rep.sections.append(("test server log (tail)", srv.log_tail(30)))


# --- lwm2md in the VM --------------------------------------------------------------------------

# The sensors lwm2md maps in the VM: [sensor.NAME] sections with the keys etc/lwm2md.ini
# documents. "{x}" fields are filled from the hardware facts (hw). period = 1 (s) where a case
# waits for the daemon to notice something (the default, 10 s, would only make the run longer).
SENSORS = {
    # IIO: tmp006 on i2c-stub, named after its i2c client ("0-0040"), and by sysfs path
    "die": {"object": 3303, "instance": 0, "driver": "iio", "device": "{tmp006}", "channel": "temp",
            "max_age": 0},
    # hwmon: lm75 by name, tmp102 by sysfs device path
    "board": {"object": 3303, "instance": 1, "driver": "hwmon", "device": "lm75", "channel": "temp1",
              "period": 1, "max_age": 0},
    "inlet": {"object": 3303, "instance": 2, "driver": "hwmon", "device": "/sys/bus/i2c/devices/{tmp102}",
              "channel": "temp1", "present": "device", "period": 1},
    # IIO: bme280, three objects from one device
    "bme-temp": {"object": 3303, "instance": 3, "driver": "iio", "device": "bme280", "channel": "temp",
                 "period": 1},
    "bme-humidity": {"object": 3304, "instance": 0, "driver": "iio", "device": "bme280",
                     "channel": "humidityrelative"},
    "bme-pressure": {"object": 3315, "instance": 0, "driver": "iio", "device": "bme280",
                     "channel": "pressure"},
    # thermal: the ACPI thermal zone of guest/thermal.asl, by type
    "cpu": {"object": 3303, "instance": 4, "driver": "thermal", "zone": "acpitz", "max_age": 0},
    # IIO: iio_dummy voltage0 = (raw 73 + offset 7) * scale 0.001333 mV
    "dummy-voltage": {"object": 3316, "instance": 0, "driver": "iio", "device": "dummy0",
                      "channel": "voltage0"},
    # GPIO (gpio-sim): inputs by chip label and line name, outputs by chip name and offset
    "button": {"object": 3200, "instance": 0, "driver": "gpio", "chip": "hwsim-gpio", "line": "button",
               "debounce": 0, "edge": "both"},
    "door": {"object": 3200, "instance": 1, "driver": "gpio", "line": "door", "active_low": "true"},
    "relay": {"object": 3201, "instance": 0, "driver": "gpio", "chip": "hwsim-gpio", "line": "relay"},
    "led": {"object": 3201, "instance": 1, "driver": "gpio", "chip": "{gpiochip}", "line": str(LINE_LED),
            "initial": "true"},
    # sampled every 300 s (max_age the same): within a run only the kernel's device events
    # (uevents) make lwm2md look at these again
    "board-slow": {"object": 3303, "instance": 5, "driver": "hwmon", "device": "lm75",
                   "channel": "temp1", "period": 300},
    "inlet-slow": {"object": 3303, "instance": 6, "driver": "hwmon",
                   "device": "/sys/bus/i2c/devices/{tmp102}", "channel": "temp1", "present": "device",
                   "period": 300},
    # IIO three-axis chips on i2c-stub (guest/hw.sh): channel = the IIO type, its _x, _y and _z
    "tilt": {"object": 3313, "instance": 0, "driver": "iio", "device": "mma7660", "channel": "accel",
             "max_age": 0},
    # the same chip mounted a quarter turn round its z axis: axes maps and inverts
    "tilt-mounted": {"object": 3313, "instance": 1, "driver": "iio", "device": "mma7660",
                     "channel": "accel", "axes": "y -x z", "max_age": 0},
    "compass": {"object": 3314, "instance": 0, "driver": "iio", "device": "hmc5843", "channel": "magn",
                "max_age": 0},
    "gyro": {"object": 3334, "instance": 0, "driver": "iio", "device": "bmg160", "channel": "anglvel",
             "max_age": 0},
    # the other IPSO digital objects: On/Off switch, Push button (debounced), Actuation
    "switch": {"object": 3342, "instance": 0, "driver": "gpio", "line": "switch", "debounce": 0},
    "push": {"object": 3347, "instance": 0, "driver": "gpio", "chip": "hwsim-gpio", "line": "push",
             "debounce": 2000},
    "valve": {"object": 3306, "instance": 0, "driver": "gpio", "chip": "hwsim-gpio", "line": "valve"},
    # a chip that does not exist when lwm2md starts (hw.sh late-chip add|remove)
    "late": {"object": 3200, "instance": 2, "driver": "gpio", "chip": "hwsim-late", "line": "late-in",
             "period": 1},
}


def lwm2md_ini(hw: Hw, server_uri: str, sensors: dict = None) -> str:
    facts = {k: v for k, v in hw.__dict__.items() if isinstance(v, str)}
    lines = ["[server]", f"uri = {server_uri}", f"endpoint = {ENDPOINT}", "lifetime = 300", "",
             "[state]", "dir = /var/lib/lwm2md", "", "[control]", "socket = /run/lwm2md.sock", "",
             "[log]", "level = debug", ""]
    for name, keys in (SENSORS if sensors is None else sensors).items():
        lines.append(f"[sensor.{name}]")
        lines += [f"{k} = {str(v).format(**facts)}" for k, v in keys.items()]
        lines.append("")
    return "\n".join(lines)


class Lwm2md:
    """lwm2md inside the VM: started in the background, log in /tmp/lwm2md.log."""

    CONF = "/etc/lwm2md/lwm2md.ini"
    LOG = "/tmp/lwm2md.log"

    def __init__(self, vm: VM):
        self.vm = vm

    def check_config(self) -> tuple:
        return self.vm.run(f"lwm2md --check-config -c {self.CONF}")

    def start(self):
        # the sanitizer options are those of tests/integration (ignored by the normal build)
        self.vm.sh("mkdir -p /var/lib/lwm2md; rm -f /run/lwm2md.rc; "
                   "export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "
                   "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1; "
                   f"(lwm2md -c {self.CONF} --foreground >>{self.LOG} 2>&1; echo $? > /run/lwm2md.rc) "
                   "</dev/null >/dev/null 2>&1 &")

    def alive(self) -> bool:
        return self.vm.run("pidof lwm2md")[0] == 0

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM; the exit status."""
        self.vm.sh("kill -TERM $(pidof lwm2md) 2>/dev/null || true")
        out = self.vm.sh(f"i=0; while [ ! -f /run/lwm2md.rc ] && [ $i -lt {int(timeout * 10)} ]; do "
                         "sleep 0.1; i=$((i+1)); done; cat /run/lwm2md.rc 2>/dev/null || echo none",
                         timeout=timeout + 10)
        if out == "none":
            raise AssertionError(f"lwm2md did not exit within {timeout} s of SIGTERM")
        return int(out)

    def log(self) -> str:
        return self.vm.sh(f"cat {self.LOG} 2>/dev/null || true")


@pytest.fixture(scope="session")
def lwm2md(vm, hw, leshan, rest):
    """lwm2md with SENSORS, registered with the test server; stopped (SIGTERM, exit 0) at the end."""
    if "lwm2md" not in vm.sh("ls /opt/bin"):
        pytest.fail(f"{daemon_bin()} was not built: `make` first (make hwsim does)")
    vm.sh("mkdir -p /etc/lwm2md")
    vm.write_file(Lwm2md.CONF, lwm2md_ini(hw, leshan.uri))
    d = Lwm2md(vm)
    rc, out = d.check_config()
    assert rc == 0, f"lwm2md --check-config failed ({rc}):\n{out}"
    t0 = time.monotonic()
    d.start()
    try:
        rest.wait_client(ENDPOINT, timeout=60)
    except AssertionError as e:
        raise AssertionError(f"{e}\nlwm2md log:\n{d.log()[-4000:]}") from None
    log(f"lwm2md registered {time.monotonic() - t0:.1f} s after start")
    yield d
    rc = d.stop()
    text = d.log()
    assert rc == 0, f"lwm2md exited with {rc} after SIGTERM:\n{text[-3000:]}"
    held = vm.sh("gpioinfo hwsim-gpio | grep -F '\"lwm2md\"' || true")
    assert not held, f"lines still requested after lwm2md exited:\n{held}"
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert bad not in text, f"sanitizer report in lwm2md's log:\n{text[-6000:]}"
