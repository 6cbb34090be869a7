# SPDX-License-Identifier: Apache-2.0
"""Property: any MessagePack value Python sends through a Queue, the C++ peer decodes with
msgpack-cxx and encodes again, and Python reads back the same value, byte for byte. bytes,
packed and unpacked without Python's msgpack, are msgpack's bin on the wire all the same."""
import threading

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shmbus
from conftest import finish

scalars = (st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1)
           | st.floats(allow_nan=True) | st.text(max_size=40) | st.binary(max_size=40))
values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=5)
                      | st.dictionaries(st.text(max_size=10) | st.integers(-100, 100), children,
                                        max_size=5)),
    max_leaves=20)


@pytest.fixture
def echo(segment, peer):
    """A C++ peer that re-encodes every value from 'to_cpp' into 'from_cpp' until None."""
    to_cpp = shmbus.Queue(segment=segment, name="to_cpp")
    from_cpp = shmbus.Queue(segment=segment, name="from_cpp")
    process = peer("echo", "to_cpp", "from_cpp")
    yield to_cpp, from_cpp
    to_cpp.put(None)
    finish(process)


def test_values_round_trip_through_cpp(echo):
    to_cpp, from_cpp = echo

    @settings(max_examples=300)
    @given(values)
    def round_trip(value):
        to_cpp.put([value])  # wrapped: a bare None stops the peer
        back = from_cpp.get(timeout=20)
        assert msgpack.packb(back) == msgpack.packb([value])

    round_trip()


def send_and_read(send, read, value):
    """`send(value)` from another thread (a message may be bigger than the pipe's ring), while
    this one reads with `read()`."""
    sender = threading.Thread(target=send, args=(value,))
    sender.start()
    try:
        return read()
    finally:
        sender.join(20)


@pytest.mark.parametrize("size", [0, 1, 255, 256, 65535, 65536, 70000])
def test_bytes_travel_as_msgpack_packs_them(segment, size):
    """bytes skip Python's msgpack on the way in and out; the wire is msgpack's all the same,
    at each width of the bin length (1, 2 and 4 bytes)."""
    value = bytes(i % 251 for i in range(size))
    a, b = shmbus.Pipe(segment=segment)
    assert send_and_read(a.send, b.recv_bytes, value) == msgpack.packb(value, use_bin_type=True)
    wire = msgpack.packb(value, use_bin_type=True)
    back = send_and_read(a.send_bytes, b.recv, wire)
    assert type(back) is bytes and back == value


@settings(max_examples=200)
@given(st.binary(max_size=300), st.binary(min_size=1, max_size=4))
def test_a_bin_with_bytes_after_it_is_not_taken_for_bytes(value, extra):
    a, b = shmbus.Pipe()
    a.send(value)
    assert b.recv_bytes() == msgpack.packb(value, use_bin_type=True)
    a.send_bytes(msgpack.packb(value, use_bin_type=True) + extra)
    with pytest.raises(msgpack.ExtraData):
        b.recv()
