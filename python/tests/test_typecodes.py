# SPDX-License-Identifier: Apache-2.0
"""Value and Array of the typecodes 'c' (char), 'u' (wchar_t) and '?' (bool), in Python and
across Python and C++ (peer.cpp's chars-and-bools)."""
import pytest

import shmbus
from conftest import finish


def test_char_wchar_and_bool_elements_cross_to_cpp_and_back(segment, peer):
    c = shmbus.Value("c", b"x", segment=segment, name="c")
    u = shmbus.Value("u", "\u00e9", segment=segment, name="u")
    flag = shmbus.Value("?", True, segment=segment, name="flag")
    chars = shmbus.Array("c", b"hello\0\0\0", segment=segment, name="chars")
    wide = shmbus.Array("u", "a\u00e9c", segment=segment, name="wide")
    bits = shmbus.Array("?", [True, False, True], segment=segment, name="bits")
    finish(peer("chars-and-bools"))
    assert c.value == b"y"
    assert u.value == "\u20ac"
    assert flag.value is False
    assert chars.value == b"c++" and chars.raw == b"c++\0o\0\0\0"
    assert wide[:] == "z\u00e9c" and wide[0] == "z"
    assert bits[:] == [True, True, True]


def test_elements_read_and_write_as_ctypes_does(segment):
    c = shmbus.Value("c", segment=segment)
    assert c.value == b"\0"
    c.value = b"A"
    assert c.value == b"A" and c.typecode == "c"
    with pytest.raises(TypeError):
        c.value = b"AB"
    u = shmbus.Value("u")
    assert u.value == "\0"
    u.value = "\U0001f600"
    assert u.value == "\U0001f600"
    with pytest.raises(TypeError):
        u.value = "ab"
    flag = shmbus.Value("?")
    assert flag.value is False
    flag.value = 1
    assert flag.value is True
    chars = shmbus.Array("c", 4)
    chars[1:3] = b"hi"
    chars[0] = b"o"
    assert chars[:] == b"ohi\0" and chars[-2] == b"i" and chars.value == b"ohi"
    chars.value = b"ab"
    assert chars.raw == b"ab\0\0"
    with pytest.raises(ValueError):
        chars.value = b"too long"
    assert shmbus.Array("u", "xyz").tolist() == ["x", "y", "z"]
    assert shmbus.Array("?", 2)[:] == [False, False]


@pytest.mark.parametrize("made, opened", [("c", "b"), ("b", "c"), ("u", "i"), ("i", "u"),
                                          ("?", "B"), ("B", "?")])
def test_a_wrong_typecode_on_open_is_kind_mismatch(segment, made, opened):
    shmbus.Value(made, segment=segment, name="v")
    with pytest.raises(shmbus.KindMismatch):
        shmbus.Value(opened, segment=segment, name="v")
    shmbus.Array(made, 3, segment=segment, name="a")
    with pytest.raises(shmbus.KindMismatch):
        shmbus.Array(opened, 3, segment=segment, name="a")
