"""Reading a reply frame from the session manager's local socket: one read for the usual reply,
any split of the bytes handled, a closed or over-long reply refused."""

from __future__ import annotations

import socket
import threading

import pytest

from flamepy.common.taskpipe import PipeError, frame
from flamepy.transport.local import _read_frame


def _read_after(*chunks: bytes, close: bool = False) -> bytes:
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(10)

        def send() -> None:
            for chunk in chunks:
                a.sendall(chunk)
            if close:
                a.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        try:
            return _read_frame(b)
        finally:
            sender.join()


def test_a_reply_in_one_piece_or_split_anywhere_reads_the_same() -> None:
    payload = bytes(range(256)) * 300  # 76,800 bytes: more than one first read
    whole = frame(payload)
    assert _read_after(whole) == payload
    for cut in (1, 3, 4, 5, 70_000):
        assert _read_after(whole[:cut], whole[cut:]) == payload
    assert _read_after(frame(b"")) == b""


def test_a_closed_connection_or_bytes_past_the_reply_are_errors() -> None:
    with pytest.raises(PipeError, match="closed"):
        _read_after(close=True)
    with pytest.raises(PipeError, match="closed"):
        _read_after(frame(b"abcdef")[:6], close=True)
    with pytest.raises(PipeError, match="unexpected bytes"):
        _read_after(frame(b"one") + frame(b"two"))
