"""The node address an executor manager advertises (executor.address)."""

from __future__ import annotations

from executor.__main__ import parse_args
from executor.address import advertise_address, route_address


def test_given_address_wins_then_the_environment_then_the_route() -> None:
    assert (
        advertise_address("10.0.0.9", {"FLAME_NODE_ADDRESS": "10.0.0.8"}, "http://127.0.0.1:1") == "10.0.0.9"
    )
    assert advertise_address(None, {"FLAME_NODE_ADDRESS": "10.0.0.8"}, "http://127.0.0.1:1") == "10.0.0.8"
    assert advertise_address(None, {}, "http://127.0.0.1:1") == "127.0.0.1"


def test_loopback_session_managers_mean_loopback_nodes() -> None:
    assert route_address("http://localhost:8080") == "127.0.0.1"
    assert route_address("https://[::1]:8080") == "127.0.0.1"


def test_a_remote_session_manager_gives_the_routing_interface_address() -> None:
    addr = route_address("http://192.0.2.1:8080")  # TEST-NET-1: routed by default, never contacted
    assert addr.count(".") == 3 or addr == "127.0.0.1"


def test_the_flag_reaches_the_manager_config(tmp_path) -> None:
    config = parse_args(
        ["--endpoint", "http://127.0.0.1:1", "--work-dir", str(tmp_path), "--advertise-address", "127.0.0.7"]
    )
    assert config.advertise_address == "127.0.0.7"
