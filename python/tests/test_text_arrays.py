# SPDX-License-Identifier: Apache-2.0
"""`value` and `raw` of character Arrays checked against Python's own: a 'c' Array against
multiprocessing.Array('c') and RawArray('c'), a 'u' Array against the ctypes c_wchar array of
multiprocessing.Array('u').get_obj() (multiprocessing's locked 'u' Array has no `value`).
Every step is done on both; the results, or the exception types and messages, must match."""
import multiprocessing

from hypothesis import given, settings
from hypothesis import strategies as st

import shmbus
from conftest import finish

LENGTH = 6


def outcome(step, array):
    """What `step(array)` gives: ("ok", result) or (exception type, message)."""
    try:
        return "ok", step(array)
    except AttributeError:  # the messages name each side's own class
        return AttributeError, None
    except Exception as error:  # the type and ctypes' message must match
        return type(error), str(error)


def same_steps(steps, ours, model):
    for step in steps:
        assert outcome(step, ours) == outcome(step, model), step
        assert ours[:] == model[:]


def assign(name, value):
    def step(array):
        setattr(array, name, value)
        return getattr(array, name)
    step.__qualname__ = f"{name} = {value!r}"
    return step


def delete(name):
    def step(array):
        delattr(array, name)
    step.__qualname__ = f"del {name}"
    return step


CHAR_STEPS = [
    lambda a: (a.value, a.raw),
    assign("value", b"abc"), assign("raw", b"xy"), assign("value", b""),
    assign("raw", bytearray(b"\0q\0")), assign("raw", memoryview(b"123456")),
    assign("value", b"a\0b"), assign("value", b"sixsix"), assign("value", b"seven!!"),
    assign("raw", b"seven!!"), assign("value", "str"), assign("value", bytearray(b"ba")),
    assign("raw", "str"), assign("raw", [1, 2]), assign("raw", memoryview(b"abcd")[::2]),
    assign("value", None), delete("value"), delete("raw"),
]

WIDE_STEPS = [
    lambda a: a.value,
    assign("value", "ab\u00e9"), assign("value", ""), assign("value", "\U0001f600x"),
    assign("value", "a\0b"), assign("value", "sixsix"), assign("value", "seven!!"),
    assign("value", b"bytes"), assign("value", 3), delete("value"),
]


def test_char_value_and_raw_follow_multiprocessing_array():
    same_steps(CHAR_STEPS, shmbus.Array("c", LENGTH), multiprocessing.Array("c", LENGTH))
    same_steps(CHAR_STEPS, shmbus.RawArray("c", LENGTH), multiprocessing.RawArray("c", LENGTH))
    same_steps(CHAR_STEPS, shmbus.Array("c", LENGTH, lock=shmbus.Lock()),
               multiprocessing.Array("c", LENGTH))


def test_wide_value_follows_ctypes_wchar_array():
    same_steps(WIDE_STEPS, shmbus.Array("u", LENGTH), multiprocessing.Array("u", LENGTH).get_obj())
    same_steps(WIDE_STEPS, shmbus.RawArray("u", LENGTH), multiprocessing.RawArray("u", LENGTH))
    same_steps(WIDE_STEPS, shmbus.Array("u", LENGTH, lock=shmbus.Lock()).get_obj(),
               multiprocessing.RawArray("u", LENGTH))


step_strategy = st.one_of(
    st.tuples(st.sampled_from(["value", "raw"]), st.binary(max_size=LENGTH + 2)),
    st.tuples(st.just("item"), st.integers(0, LENGTH - 1), st.binary(min_size=1, max_size=1)))


@settings(max_examples=150)
@given(st.lists(step_strategy, max_size=8))
def test_any_char_writes_read_back_as_in_multiprocessing(steps):
    ours, model = shmbus.Array("c", LENGTH), multiprocessing.Array("c", LENGTH)
    for step in steps:
        if step[0] == "item":
            ours[step[1]] = model[step[1]] = step[2]
        else:
            assert outcome(assign(*step), ours) == outcome(assign(*step), model)
        assert (ours.value, ours.raw, ours[:]) == (model.value, model.raw, model[:])


@settings(max_examples=150)
@given(st.lists(st.text(st.characters(max_codepoint=0x1FFFF), max_size=LENGTH + 2), max_size=8))
def test_any_wide_values_read_back_as_in_ctypes(texts):
    ours, model = shmbus.Array("u", LENGTH), multiprocessing.Array("u", LENGTH).get_obj()
    for text in texts:
        assert outcome(assign("value", text), ours) == outcome(assign("value", text), model)
        assert (ours.value, ours[:]) == (model.value, model[:])


def test_text_written_in_python_is_read_by_cpp(segment, peer):
    """peer.cpp's chars-and-bools reads and writes the named 'c' Array through value()/raw()."""
    chars = shmbus.Array("c", 8, segment=segment, name="chars")
    chars.raw = b"hello\0\0\0"
    wide = shmbus.Array("u", 3, segment=segment, name="wide")
    wide.value = "a\u00e9c"
    for name, typecode, value in [("c", "c", b"x"), ("u", "u", "\u00e9"), ("flag", "?", True)]:
        shmbus.Value(typecode, value, segment=segment, name=name)
    shmbus.Array("?", [True, False, True], segment=segment, name="bits")
    finish(peer("chars-and-bools"))
    assert chars.value == b"c++" and chars.raw == b"c++\0o\0\0\0"
    assert wide.value == "z\u00e9c"
