"""A generic 3GPP AT modem on Unix sockets, for ModemManager's test mode.

    python3 atmodem.py STATE_DIR PORT...

Listens on each PORT (a socket path) and answers the AT commands ModemManager
sends a generic modem while probing, enabling, polling and connecting (what
its --debug log shows for 1.20): an LTE modem registered with operator
262 01, LAC 0x1A2B, cell 0x1C3D4E5, PDP context 1 on APN internet.test.  The
signal quality (AT+CSQ) is read from STATE_DIR/csq at each poll, so a test
changes it by writing that file.  Anything else is answered ERROR, as a modem
without the feature would.  Each command and answer goes to stdout."""

import os
import socket
import sys
import threading
from pathlib import Path

ANSWERS = {
    "AT": "", "ATE0": "", "ATV1": "", "ATQ0": "", "ATX4": "", "AT&C1": "", "AT+CMEE=1": "",
    "ATI": "lwm2md test modem",
    "AT+GCAP": "+GCAP: +CGSM",
    "AT+CGMI": "lwm2md tests",
    "AT+CGMM": "AT modem",
    "AT+CGMR": "1.0",
    "AT+CGSN": "490154203237518",
    "AT+CIMI": "262011234567890",
    "AT+CPIN?": "+CPIN: READY",
    "AT+CFUN?": "+CFUN: 1",
    # registered, home network, LAC 1A2B, cell 01C3D4E5, access technology 7 (E-UTRAN)
    "AT+CREG?": '+CREG: 2,1,"1A2B","01C3D4E5",7',
    "AT+CGREG?": '+CGREG: 2,1,"1A2B","01C3D4E5",7',
    "AT+COPS?": '+COPS: 0,2,"26201",7',
    "AT+CGDCONT=?": '+CGDCONT: (1-10),"IP",,,(0-2),(0-4)',
    "AT+CGDCONT?": '+CGDCONT: 1,"IP","internet.test","0.0.0.0",0,0',
    'AT+CGDCONT=1,"IP","INTERNET.TEST"': "",
    "AT+CGACT?": "+CGACT: 1,0",
}


def answer(state: Path, cmd: str) -> str:
    up = cmd.upper()
    if up == "AT+CSQ":
        return f"\r\n+CSQ: {(state / 'csq').read_text().strip()},99\r\n\r\nOK\r\n"
    if up.startswith("ATD"):
        return "\r\nCONNECT\r\n"        # the port is the data connection from now on
    if up not in ANSWERS:
        return "\r\nERROR\r\n"
    body = ANSWERS[up]
    return f"\r\n{body}\r\n\r\nOK\r\n" if body else "\r\nOK\r\n"


def serve(state: Path, name: str, conn: socket.socket) -> None:
    buf = b""
    data_mode = False
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        if data_mode:
            continue                    # nothing runs PPP on it here
        buf += chunk
        while b"\r" in buf and not data_mode:
            line, buf = buf.split(b"\r", 1)
            cmd = line.strip().decode(errors="replace")
            if not cmd:
                continue
            out = answer(state, cmd)
            print(f"{name} << {cmd!r} >> {out.strip()!r}", flush=True)
            conn.sendall(out.encode())
            data_mode = "CONNECT" in out


def bound(path: str) -> socket.socket:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    return srv


def accept(state: Path, name: str, srv: socket.socket) -> None:
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(state, name, conn), daemon=True).start()


def main() -> None:
    state = Path(sys.argv[1])
    for path in sys.argv[2:]:
        srv = bound(path)
        threading.Thread(target=accept, args=(state, os.path.basename(path), srv),
                         daemon=True).start()
    print("listening", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
