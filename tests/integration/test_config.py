"""The config file and the command line: --check-config, --version, --help,
and how bad configs are reported (every error as FILE:LINE: [section] key =
"value": problem, exit 78, nothing started)."""

import re
import subprocess
import time

import pytest

from daemon import REPO, daemon_bin, daemon_env, run_cli, sanitizer_report
from util import version_number

EX_CONFIG = 78


def write(tmp_path, text: str, name: str = "lwm2md.ini"):
    p = tmp_path / name
    p.write_text(text)
    return p


def check(path):
    return run_cli(["--check-config", "-c", path])


def error_lines(stderr: str, path) -> list:
    return [l for l in stderr.splitlines() if l.startswith(f"{path}:")]


def test_check_config_accepts_shipped_sample():
    sample = REPO / "etc" / "lwm2md.ini"
    assert sample.is_file(), "etc/lwm2md.ini (the sample config) is missing"
    cp = check(sample)
    assert cp.returncode == 0, cp.stderr


def test_check_config_accepts_minimal_config(tmp_path):
    p = write(tmp_path, "[server]\nuri = coap://127.0.0.1:5683\n")
    cp = check(p)
    assert cp.returncode == 0, cp.stderr


def test_check_config_accepts_every_documented_key(tmp_path):
    p = write(tmp_path, f"""\
[server]
uri = coap://127.0.0.1:5683
endpoint = gw-0001
lifetime = 300
binding = UQ
awake_time = 93
short_server_id = 1
default_pmin = 0
default_pmax = 0
disable_timeout = 86400
notification_storing = true
retry_count = 5
retry_timer = 60
sequence_delay = 86400
sequence_retry_count = 1
lwm2m_version = 1.1

[device]
manufacturer = ACME
model = GW-1
serial = 0001
firmware_version = 1.0
hardware_version = rev B
device_type = gateway
timezone = Europe/Berlin
utc_offset = +01:00

[hooks]
reboot = /bin/true
factory_reset = /bin/true
timeout = 60

[state]
dir = {tmp_path}/state

[log]
level = info
""")
    cp = check(p)
    assert cp.returncode == 0, cp.stderr


@pytest.mark.parametrize("level", ["error", "warning", "info", "debug"])
def test_check_config_accepts_log_levels(tmp_path, level):
    p = write(tmp_path, f"[server]\nuri = coap://127.0.0.1:5683\n[log]\nlevel = {level}\n")
    assert check(p).returncode == 0


# (ini text, line, section, key, value): each config has exactly one error
BAD = {
    "unknown_key": ("[server]\nuri = coap://127.0.0.1:5683\nlifetim = 30\n", 3, "server", "lifetim", "30"),
    "bad_number": ("[server]\nuri = coap://127.0.0.1:5683\nlifetime = abc\n", 3, "server", "lifetime", "abc"),
    "lifetime_zero": ("[server]\nuri = coap://127.0.0.1:5683\nlifetime = 0\n", 3, "server", "lifetime", "0"),
    "lifetime_huge": ("[server]\nuri = coap://127.0.0.1:5683\n\nlifetime = 99999999999\n", 4, "server",
                      "lifetime", "99999999999"),
    "lifetime_negative": ("[server]\nuri = coap://127.0.0.1:5683\nlifetime = -5\n", 3, "server", "lifetime", "-5"),
    "uri_scheme_http": ("[server]\nuri = http://127.0.0.1:5683\n", 2, "server", "uri", "http://127.0.0.1:5683"),
    "uri_bad_port": ("[server]\nuri = coap://127.0.0.1:99999\n", 2, "server", "uri", "coap://127.0.0.1:99999"),
    "uri_no_host": ("[server]\nuri = coap://\n", 2, "server", "uri", "coap://"),
    "awake_time_zero": ("[server]\nuri = coap://127.0.0.1:5683\nawake_time = 0\n", 3, "server", "awake_time",
                        "0"),
    "binding_x": ("[server]\nuri = coap://127.0.0.1:5683\nbinding = X\n", 3, "server", "binding", "X"),
    "short_server_id_zero": ("[server]\nuri = coap://127.0.0.1:5683\nshort_server_id = 0\n", 3, "server",
                             "short_server_id", "0"),
    "bad_bool": ("[server]\nuri = coap://127.0.0.1:5683\nnotification_storing = maybe\n", 3, "server",
                 "notification_storing", "maybe"),
    "retry_count_text": ("[server]\nuri = coap://127.0.0.1:5683\nretry_count = five\n", 3, "server",
                         "retry_count", "five"),
    "device_unknown_key": ("[server]\nuri = coap://127.0.0.1:5683\n[device]\ncolour = red\n", 4, "device",
                           "colour", "red"),
    "hooks_timeout_text": ("[server]\nuri = coap://127.0.0.1:5683\n[hooks]\ntimeout = soon\n", 4, "hooks",
                           "timeout", "soon"),
    "firmware_install_timeout_zero": ("[server]\nuri = coap://127.0.0.1:5683\n[firmware]\ninstall_timeout = 0\n",
                                      4, "firmware", "install_timeout", "0"),
    "firmware_confirm_without_state": ("[server]\nuri = coap://127.0.0.1:5683\n[firmware]\n"
                                       "boot_confirm_command = fw_setenv ustate 0\n", 4, "firmware",
                                       "boot_confirm_command", "fw_setenv ustate 0"),
    "log_level_unknown": ("[server]\nuri = coap://127.0.0.1:5683\n[log]\nlevel = loud\n", 4, "log", "level",
                          "loud"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_reports_file_line_section_key_value(tmp_path, case):
    text, line, section, key, value = BAD[case]
    p = write(tmp_path, text)
    cp = check(p)
    assert cp.returncode == EX_CONFIG, f"exit {cp.returncode}, stderr:\n{cp.stderr}"
    rx = re.compile(rf"^{re.escape(str(p))}:{line}: \[{section}\] {key} = \"{re.escape(value)}\": \S.*$",
                    re.MULTILINE)
    assert rx.search(cp.stderr), f"expected '{p}:{line}: [{section}] {key} = \"{value}\": ...' in:\n{cp.stderr}"


def test_unknown_section_is_reported_with_its_line(tmp_path):
    p = write(tmp_path, "[server]\nuri = coap://127.0.0.1:5683\n\n[bogus]\nfoo = 1\n")
    cp = check(p)
    assert cp.returncode == EX_CONFIG, cp.stderr
    # the header (line 4) or its first key (line 5): both point the user at it
    assert re.search(rf"^{re.escape(str(p))}:[45]: \[bogus\]", cp.stderr, re.MULTILINE), cp.stderr


def test_missing_uri_is_reported(tmp_path):
    p = write(tmp_path, "[server]\nendpoint = gw\nlifetime = 60\n")
    cp = check(p)
    assert cp.returncode == EX_CONFIG, cp.stderr
    # a missing key has no line of its own: FILE: or FILE:LINE (of [server]) both do
    assert re.search(rf"^{re.escape(str(p))}(:\d+)?: .*\[server\].*\buri\b", cp.stderr, re.MULTILINE), cp.stderr


def test_every_error_in_a_file_is_reported(tmp_path):
    p = write(tmp_path, """\
[server]
uri = coap://127.0.0.1:5683
lifetime = abc
binding = X
endpoint = ok-name

[log]
level = loud
""")
    cp = check(p)
    assert cp.returncode == EX_CONFIG, cp.stderr
    lines = error_lines(cp.stderr, p)
    for n, key in ((3, "lifetime"), (4, "binding"), (8, "level")):
        assert any(l.startswith(f"{p}:{n}: ") and key in l for l in lines), \
            f"no error for line {n} ({key}) in:\n{cp.stderr}"
    assert not any(l.startswith(f"{p}:5:") or l.startswith(f"{p}:2:") for l in lines), cp.stderr


def test_missing_config_file_is_an_error(tmp_path):
    missing = tmp_path / "nope.ini"
    cp = check(missing)
    assert cp.returncode > 0, cp
    assert str(missing) in cp.stderr


def test_bad_config_starts_nothing(tmp_path, rawpeer):
    """Not --check-config: the daemon itself exits 78 and never talks to the server."""
    peer = rawpeer()
    p = write(tmp_path, f"[server]\nuri = {peer.uri}\nendpoint = never\nlifetime = 30\nbinding = X\n")
    proc = subprocess.run([str(daemon_bin()), "-c", str(p), "--foreground"], capture_output=True, text=True,
                          timeout=30, env=daemon_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == EX_CONFIG, proc.stderr
    assert re.search(rf"^{re.escape(str(p))}:5: \[server\] binding = \"X\"", proc.stderr, re.MULTILINE), proc.stderr
    assert sanitizer_report(proc.stderr) is None, proc.stderr
    time.sleep(0.5)
    assert peer.requests == [] and peer.bad_datagrams == []


def test_check_config_does_not_contact_the_server(tmp_path, rawpeer):
    peer = rawpeer()
    p = write(tmp_path, f"[server]\nuri = {peer.uri}\nendpoint = never\n")
    assert check(p).returncode == 0
    time.sleep(0.5)
    assert peer.requests == [] and peer.bad_datagrams == []


def test_version_prints_the_release_number():
    v = version_number()
    release = (REPO / "VERSION").read_text().strip()
    assert v.startswith(release), f"--version says {v}, VERSION file says {release}"


def test_help_lists_the_options():
    cp = run_cli(["--help"])
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout + cp.stderr
    for opt in ("-c", "--check-config", "--foreground", "--version"):
        assert opt in out, f"{opt} not in --help output:\n{out}"


def test_unknown_option_is_a_usage_error():
    cp = run_cli(["--no-such-option"])
    assert cp.returncode > 0, cp
    assert "--no-such-option" in cp.stderr


def test_line_too_long_for_the_parser_is_named(tmp_path):
    """inih reads at most a buffer's worth of a line: a longer one (a long install
    command) gets an error naming its line and the limit, not a "syntax error" on a
    line number that does not exist."""
    p = write(tmp_path, "[server]\nuri = coap://127.0.0.1:5683\n[firmware]\n"
                        f"install_command = cp \"$LWM2MD_FW_IMAGE\" /{'x' * 300}\n[log]\nlevel = info\n")
    cp = check(p)
    assert cp.returncode == EX_CONFIG, cp.stderr
    assert re.search(rf"^{re.escape(str(p))}:4: line longer than \d+ characters", cp.stderr, re.MULTILINE), \
        cp.stderr
    assert "syntax error" not in cp.stderr, cp.stderr


def test_firmware_boot_state_keys_accepted(tmp_path):
    p = write(tmp_path, "[server]\nuri = coap://127.0.0.1:5683\n[firmware]\n"
                        "boot_state_command = fw_printenv ustate\nboot_confirm_command = fw_setenv ustate 0\n"
                        "defer_command = /usr/lib/lwm2md/ask-user\n"
                        "install_timeout = 1200\n")
    cp = check(p)
    assert cp.returncode == 0, cp.stderr
