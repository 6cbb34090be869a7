# SPDX-License-Identifier: Apache-2.0
"""Named pipes between a Python process and a C++ one (peer.cpp), both ways round."""
import time

import pytest

import shmbus
from conftest import finish

ORDER = {"symbol": "ACME", "quantity": -3, "prices": [1.5, 2.25], "note": None}
TABLE = {"a": [1, 2, 3], "b": []}
RAW = bytes([0, 255, 7])


def test_python_makes_the_pipe_and_cpp_opens_an_end(segment, peer):
    mine, theirs = shmbus.Pipe(segment=segment, name="py-made")
    process = peer("pipe-opener", "py-made")
    assert mine.poll(30), "the C++ peer never said it was ready"
    assert mine.recv() == "ready"
    theirs.close()  # the peer holds end 1 now: ours was a copy
    mine.send(ORDER)
    assert mine.recv() == TABLE
    mine.send_bytes(b"0123456789", 2, 5)
    assert mine.recv_bytes() == b"65432"
    for value in [1, "two", [3.0, b"4"], {"five": None}, -(2**63)]:
        mine.send(value)
        assert mine.recv() == value
    mine.send(None)
    with pytest.raises(EOFError):
        mine.recv()
    finish(process)


def _open_when_made(segment, name, end):
    deadline = time.monotonic() + 30
    while True:
        try:
            return shmbus.Connection.open(segment, name, end)
        except shmbus.NotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def test_cpp_makes_the_pipe_and_python_opens_an_end(segment, peer):
    process = peer("pipe-creator", "cpp-made")
    end = _open_when_made(segment, "cpp-made", 1)
    assert end.readable and end.writable
    assert end.recv() == ORDER
    assert end.recv_bytes() == RAW
    end.send(TABLE)
    end.send_bytes(RAW[::-1])
    end.close()
    finish(process)


def test_poll_with_a_timeout_returns_false_when_nothing_comes(segment):
    mine, theirs = shmbus.Pipe(segment=segment, name="quiet")
    opened = shmbus.Connection.open(segment, "quiet", 1)
    started = time.monotonic()
    assert not opened.poll(0.2)
    assert time.monotonic() - started >= 0.15
    mine.send("late")
    assert opened.poll(5)
    assert opened.recv() == "late"


def test_opening_what_is_not_an_open_pipe_end_fails(segment):
    shmbus.Lock(segment=segment, name="a-lock")
    with pytest.raises(shmbus.KindMismatch):
        shmbus.Connection.open(segment, "a-lock", 0)
    with pytest.raises(shmbus.NotFound):
        shmbus.Connection.open(segment, "missing", 0)
    mine, theirs = shmbus.Pipe(segment=segment, name="p")
    with pytest.raises(shmbus.AlreadyExists):
        shmbus.Pipe(segment=segment, name="p")
    with pytest.raises(shmbus.UsageError):
        shmbus.Connection.open(segment, "p", 2)
    theirs.close()
    with pytest.raises(shmbus.Closed):
        shmbus.Connection.open(segment, "p", 1)
