import time, json
from leshan import res
from reporting_util import *

def test_x(daemon, rest, endpoint, events):
    d = daemon(server_opts={"default_pmin": 0})
    ev = events(endpoint)
    for p, q in [("3/0/0", "gt=5"), ("1/0/1", "gt=5"), ("1/0/1", "pmin=5&pmax=2"), ("3/0", "gt=5"), ("3", "pmin=1"), ("1/0/1","pmin&gt"), ("1/0/1","con=1"), ("1/0/1", "foo=1")]:
        r = write_attributes(rest, endpoint, p, q)
        print(p, q, r)
    print(rest.discover(endpoint, "3").body)
    print(rest.discover(endpoint, "1/0/1").body)
    r = observe(rest, endpoint, "1/0/2")
    print("observe", r)
    rest.write(endpoint, "1/0/2", res(2, 7))
    time.sleep(1)
    r = observe(rest, endpoint, "3/0/13")
    print(r)
    print(write_attributes(rest, endpoint, "3/0/13", "pmax=1"))
    time.sleep(3)
    for e in ev.events: print(e)
    print(read_composite(rest, endpoint, ["/3/0/0", "/1/0/1", "/5/0"]))
    print(d.log_tail(40))
