"""The suite itself refuses non-loopback connections."""

import socket

import pytest


def test_non_loopback_connection_is_refused() -> None:
    """A connection to a public address fails before any packet leaves."""
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="may not reach the network"):
        sock.connect(("192.0.2.1", 80))
