# SPDX-License-Identifier: Apache-2.0
"""Property: any MessagePack value Python sends through a Queue, the C++ peer decodes with
msgpack-cxx and encodes again, and Python reads back the same value, byte for byte."""
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
