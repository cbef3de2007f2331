"""Fixtures for the data tests: a private data_dir (embedded datasets prepared once per session there) and a
switch that makes any network access fail."""
import socket

import pytest


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A fresh data_dir shared by the session: the first use of each embedded dataset prepares it here."""
    return str(tmp_path_factory.mktemp("tfds_data"))


class NetworkAccessError(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a host fails loudly (and is recorded)."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise NetworkAccessError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts
