"""The lwm2md daemon as the tests run it: an ini written into the test's
temp dir, the binary started with stdout+stderr to a log file, and checks
on what it leaves behind (exit code, sanitizer reports)."""

from __future__ import annotations

import os
import re
import signal as _signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# What a sanitizer build prints when it finds something: any of these in
# the daemon's output fails the test.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

SECTION_ORDER = ("server", "device", "hooks", "state", "log")


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when the test run dies, even by
    SIGKILL, so no daemon or server outlives an aborted run (Linux prctl)."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(_signal.SIGTERM), 0, 0, 0)


def daemon_bin() -> Path:
    """$LWM2MD_BIN (absolute, or relative to the repo root), default build/lwm2md."""
    p = Path(os.environ.get("LWM2MD_BIN", "build/lwm2md"))
    if not p.is_absolute():
        p = REPO / p
    if not p.is_file():
        raise AssertionError(f"daemon binary {p} does not exist: build it (`make`, or `make asan` "
                             f"for build/asan/lwm2md) or point LWM2MD_BIN at it")
    return p


def daemon_env() -> dict:
    env = dict(os.environ)
    # used by the sanitizer build, ignored by the normal one
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    return env


def ini_text(sections: dict) -> str:
    """{'server': {'uri': ...}, ...} -> ini text; None values are left out."""
    out = []
    names = [s for s in SECTION_ORDER if s in sections] + [s for s in sections if s not in SECTION_ORDER]
    for name in names:
        out.append(f"[{name}]")
        for k, v in sections[name].items():
            if v is None:
                continue
            if isinstance(v, bool):
                v = "true" if v else "false"
            out.append(f"{k} = {v}")
        out.append("")
    return "\n".join(out)


def sanitizer_report(text: str):
    """The first sanitizer marker found in text, or None."""
    for m in SANITIZER_MARKERS:
        if m in text:
            return m
    return None


def run_cli(args, timeout: float = 30) -> subprocess.CompletedProcess:
    """Runs the binary to completion (--check-config, --version, --help) and
    fails on sanitizer reports."""
    cp = subprocess.run([str(daemon_bin()), *map(str, args)], capture_output=True, text=True,
                        timeout=timeout, env=daemon_env(), stdin=subprocess.DEVNULL)
    found = sanitizer_report(cp.stdout + cp.stderr)
    assert found is None, f"sanitizer report ({found}) from lwm2md {args}:\n{cp.stderr}"
    return cp


class Daemon:
    """One lwm2md process.  sections holds its config; reconfigure() rewrites
    the file (then send SIGHUP)."""

    def __init__(self, workdir: Path, sections: dict, endpoint: str, config_text: str = None, args=()):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sections = sections
        self.endpoint = endpoint
        self.cfg_path = self.workdir / "lwm2md.ini"
        self.log_path = self.workdir / "lwm2md.log"
        self.args = list(args)
        self.proc = None
        self.returncode = None
        self.expect_exit = 0       # what teardown expects; None: anything
        self.waited = False        # the test itself waited for the exit (stop/wait/kill)
        self.write_config(config_text)

    @property
    def state_dir(self):
        return (self.sections.get("state") or {}).get("dir")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def write_config(self, config_text: str = None):
        self.cfg_path.write_text(config_text if config_text is not None else ini_text(self.sections))

    def reconfigure(self, **changes):
        """Merges {'device': {...}, ...} into the config and rewrites it."""
        for sec, kv in changes.items():
            self.sections.setdefault(sec, {}).update(kv)
        self.write_config()

    def start(self):
        with open(self.log_path, "ab") as log:
            log.write(f"===== {daemon_bin()} -c {self.cfg_path} --foreground {' '.join(self.args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen([str(daemon_bin()), "-c", str(self.cfg_path), "--foreground", *self.args],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=daemon_env(), cwd=self.workdir, preexec_fn=die_with_parent)
        self.returncode = None
        return self

    # -- state
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self, what: str = ""):
        if not self.alive():
            raise AssertionError(f"lwm2md exited ({self.proc.returncode}) {what}\n{self.log_tail()}")

    def signal(self, sig):
        self.assert_alive(f"before signal {sig}")
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Waits for exit; AssertionError if it is still running."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            self.waited = True
        except subprocess.TimeoutExpired:
            raise AssertionError(f"lwm2md (pid {self.proc.pid}) still running after {timeout} s\n"
                                 f"{self.log_tail()}") from None
        return self.returncode

    def stop(self, sig=_signal.SIGTERM, timeout: float = 15) -> int:
        """Signals and waits; returns the exit code (negative: killed by a signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def kill(self):
        self.waited = True
        if self.alive():
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode if self.proc else None

    def cpu_seconds(self) -> float:
        """utime + stime of the process so far (from /proc/<pid>/stat)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[0] is field 3 (state); utime is field 14, stime 15
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # -- output
    def log(self) -> str:
        try:
            return self.log_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_log(self, pattern: str, timeout: float = 20, offset: int = 0, flags=0):
        """Waits for a log line matching the regex (searched from byte offset);
        returns the match."""
        rx = re.compile(pattern, flags | re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_since(offset)) if self.log_path.exists() else None
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line matching {pattern!r} within {timeout} s:\n{self.log_tail()}")
            if not self.alive():
                m = rx.search(self.log_since(offset))
                if m:
                    return m
                raise AssertionError(f"lwm2md exited ({self.proc.returncode}) before logging {pattern!r}:\n"
                                     f"{self.log_tail()}")
            time.sleep(0.1)

    def sanitizer_report(self):
        return sanitizer_report(self.log())


def stop_all_checked(daemons):
    """Teardown of fixtures that start their own daemons: each one still
    running gets SIGTERM and must exit 0; none may leave a sanitizer report."""
    problems = []
    for d in daemons:
        if d.alive():
            rc = d.stop(_signal.SIGTERM, timeout=15)
            if rc != 0:
                problems.append(f"{d.endpoint}: exit code {rc}")
        found = d.sanitizer_report()
        if found:
            problems.append(f"{d.endpoint}: sanitizer report ({found}):\n{d.log_tail(120)}")
    assert not problems, "\n".join(problems)
