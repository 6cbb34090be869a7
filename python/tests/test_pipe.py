# SPDX-License-Identifier: Apache-2.0
"""shmbus.Pipe between Python processes: msgpack values with send/recv, raw bytes."""
import multiprocessing
import signal
import threading

import pytest

import shmbus


def _reply(connection):
    while True:
        message = connection.recv()
        if message is None:
            break
        connection.send({"echo": message})
    data = connection.recv_bytes()
    connection.send_bytes(data[::-1])


def test_pipe_carries_values_and_bytes_between_processes(segment):
    parent, child = shmbus.Pipe(segment=segment)
    process = multiprocessing.get_context("fork").Process(target=_reply, args=(child,))
    process.start()
    for value in [1, "two", [3.0, b"4"], {"five": None}]:
        parent.send(value)
        assert parent.poll(20)
        assert parent.recv() == {"echo": value}
    parent.send(None)
    parent.send_bytes(b"0123456789", 2, 5)
    assert parent.recv_bytes() == b"65432"
    process.join(20)
    assert process.exitcode == 0


def test_one_way_pipe_and_end_of_stream(segment):
    reader, writer = shmbus.Pipe(False, segment=segment)
    assert reader.readable and not reader.writable and writer.writable
    writer.send_bytes(bytearray(b"abc"))
    writer.close()
    assert reader.recv_bytes() == b"abc"
    with pytest.raises(EOFError):
        reader.recv()


def test_recv_bytes_into_writes_at_an_offset_and_raises_buffer_too_short(segment):
    reader, writer = shmbus.Pipe(False, segment=segment)
    writer.send_bytes(b"hello")
    buffer = bytearray(8)
    assert reader.recv_bytes_into(buffer, 2) == 5
    assert buffer == b"\0\0hello\0"
    writer.send_bytes(b"too long for four")
    with pytest.raises(multiprocessing.BufferTooShort) as raised:
        reader.recv_bytes_into(memoryview(bytearray(4)))
    assert raised.value.args[0] == b"too long for four"  # consumed: it travels in the exception
    assert isinstance(raised.value, shmbus.BufferTooShort)
    assert isinstance(raised.value, shmbus.MessageTooLarge)
    with pytest.raises(ValueError):
        reader.recv_bytes_into(buffer, 9)
    writer.send_bytes(b"next")
    assert reader.recv_bytes_into(buffer) == 4 and buffer[:4] == b"next"
    writer.close()
    with pytest.raises(EOFError):
        reader.recv_bytes_into(buffer)
    with pytest.raises(BufferError):  # a read-only buffer
        reader.recv_bytes_into(b"read-only")


def test_a_bytearray_cannot_be_resized_while_send_bytes_waits_to_send_it(segment):
    reader, writer = shmbus.Pipe(False, segment=segment)
    writer.send_bytes(bytes(200 << 10))  # most of the 256 KiB ring: the next send must wait
    message = bytearray(range(256)) * 800
    expected = bytes(message)
    attempts, received = [], []

    def drain():
        received.extend([reader.recv_bytes(), reader.recv_bytes()])

    drainer = threading.Thread(target=drain)

    def on_alarm(_signum, _frame):  # runs between send_bytes's wait slices, in this thread
        try:
            message.extend(b"grown")
            attempts.append("resized")
        except BufferError:
            attempts.append("refused")
        drainer.start()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        writer.send_bytes(message)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    drainer.join(20)
    assert attempts == ["refused"]
    assert len(received) == 2 and received[1] == expected
    assert message == expected
