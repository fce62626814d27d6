"""Block-wise transfers: a Portfolio instance far larger than one CoAP
message (40 identities of 200 characters, some of them multi-byte) written
through the test server (Block1) and read back (Block2) in several formats,
and the same over the raw peer with the Block1/Block2 options checked on the
wire."""

import pytest

from leshan import inst, multi
from rawpeer import (BLOCK1, BLOCK2, CF_TLV, CONTENT, CONTINUE, CREATED, SIZE1, TLV_INSTANCE,
                     TLV_MULTI_RES, TLV_RES_INSTANCE, opt_uint, tlv, tlv_decode)

# 30 identities of 200 characters: about 6.5 kB, six to seven 1024-byte
# blocks.  (Not more: the test server, like any Californium-based one, gives
# up on bodies over 8 KiB, its MAX_RESOURCE_BODY_SIZE, and SenML JSON adds
# a name per identity.)
N_IDS, ID_LEN = 30, 200


def identities(tag: str) -> dict:
    """{riid: 200-character string}; every tenth one with multi-byte UTF-8,
    so that block boundaries may fall inside characters."""
    out = {}
    for i in range(N_IDS):
        head = f"{tag}-{i:02d}-" + ("ä€" * 10 if i % 10 == 0 else "")
        out[i] = (head + "x" * ID_LEN)[:ID_LEN]
    return out


def portfolio(iid, ids):
    return inst(iid, [multi(0, ids, type="string")])


@pytest.mark.parametrize("fmt", ["TLV", "SENML_CBOR"])
def test_large_portfolio_instance_round_trip(daemon, rest, endpoint, fmt):
    daemon()
    ids = identities("create")
    assert sum(len(v.encode()) for v in ids.values()) > 6000
    r = rest.create(endpoint, "16", portfolio(0, ids), format=fmt)      # Block1
    assert (r.code, r.status) == (201, "CREATED(201)"), r
    for read_fmt in ("TLV", "SENML_JSON"):                              # Block2
        r = rest.read(endpoint, "16/0", format=read_fmt)
        assert r.code == 205, f"{read_fmt}: {r.status}"
        assert r.content == {0: ids}, f"{read_fmt}: values differ after the round trip"
    # a replace of the whole instance, as large, in the other format
    other = "SENML_CBOR" if fmt == "TLV" else "TLV"
    ids2 = identities("replace")
    r = rest.write(endpoint, "16/0", portfolio(0, ids2), format=other, replace=True)
    assert r.code == 204, r
    assert rest.read(endpoint, "16/0/0", format="SENML_JSON").content == ids2
    assert rest.read(endpoint, "16", format="TLV").content == {0: {0: ids2}}


def block_opt(num: int, more: bool, szx: int) -> int:
    return (num << 4) | (int(more) << 3) | szx


@pytest.mark.parametrize("size1", [True, False], ids=["with-Size1", "without-Size1"])
def test_block1_and_block2_on_the_wire(daemon, rawpeer, size1):
    """Block1 by hand, 512-byte blocks; Size1 (the total) in the first block
    or not at all, as RFC 7959 leaves it optional.  Then a Block2 read."""
    peer = rawpeer()
    d = daemon(server=peer)
    ids = identities("raw")
    body = tlv(TLV_INSTANCE, 7, [tlv(TLV_MULTI_RES, 0, [tlv(TLV_RES_INSTANCE, i, v) for i, v in ids.items()])])
    szx, size = 5, 512

    chunks = [body[i:i + size] for i in range(0, len(body), size)]
    assert len(chunks) > 10
    for num, chunk in enumerate(chunks):
        last = num == len(chunks) - 1
        opts = [(BLOCK1, block_opt(num, not last, szx))]
        if size1 and num == 0:
            opts.append((SIZE1, len(body)))
        r = peer.post("/16", chunk, cf=CF_TLV, options=opts)
        want = CREATED if last else CONTINUE
        assert r.code == want, f"Create /16/7, block {num} of {len(chunks)}: {r}"
        if not last:
            assert opt_uint(r.opt(BLOCK1)) >> 4 == num, f"block {num} acknowledged as {r}"
    assert r.location_path == "/16/7", r

    # without asking for a block size: the first block says there is more
    r = peer.get("/16/7", accept=CF_TLV)
    assert r.code == CONTENT, r
    b2 = r.opt(BLOCK2)
    assert b2 is not None and opt_uint(b2) >> 4 == 0 and opt_uint(b2) & 8, \
        f"a {len(r.payload)}-byte first answer without Block2 M=1: {r}"
    # then block by block at 512 bytes
    got, num = b"", 0
    while True:
        r = peer.get("/16/7", accept=CF_TLV, options=[(BLOCK2, block_opt(num, False, szx))])
        assert r.code == CONTENT, f"block {num}: {r}"
        b2 = r.opt(BLOCK2)
        assert b2 is not None, f"block {num}: a {len(r.payload)}-byte answer without Block2: {r}"
        v = opt_uint(b2)
        assert v >> 4 == num and (v & 7) == szx, f"Block2 {v:#x} for block {num}"
        got += r.payload
        if not v & 8:
            break
        num += 1
    assert num > 10, f"only {num + 1} blocks"
    entries = tlv_decode(got)            # a read of an instance: its resources
    assert [(k, i) for k, i, _ in entries] == [(TLV_MULTI_RES, 0)], entries[:1]
    values = {i: v.decode() for _, i, v in entries[0][2]}
    assert values == ids
    d.assert_alive()
