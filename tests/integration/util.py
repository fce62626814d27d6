"""Small helpers shared by the test files."""

import re
import subprocess
import time
from pathlib import Path

from daemon import run_cli


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
