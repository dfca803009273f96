"""Who may call the server: the pure Host / Origin / API-key checks and the bind-address rule."""

import pytest

from engine.service.errors import ApiError
from engine.service.security import check, host_allowed, key_ok, origin_allowed, split_host
from engine.service.settings import ServeSettings, is_loopback


def test_loopback_names():
    for name in ("localhost", "127.0.0.1", "127.0.0.2", "::1", "[::1]", "app.localhost"):
        assert is_loopback(name), name
    for name in ("0.0.0.0", "192.168.1.2", "evil.com", "localhost.evil.com"):
        assert not is_loopback(name), name


def test_split_host():
    assert split_host("localhost:8765") == "localhost"
    assert split_host("[::1]:8765") == "::1"
    assert split_host("127.0.0.1") == "127.0.0.1"


def test_host_header_against_dns_rebinding():
    s = ServeSettings()
    assert host_allowed("127.0.0.1:8765", s) and host_allowed("localhost:1", s) and host_allowed("[::1]:8765", s)
    assert not host_allowed("evil.com:8765", s)  # a rebinding domain that resolves to 127.0.0.1
    assert not host_allowed(None, s)
    lan = ServeSettings(host="192.168.1.5", api_key="k")
    assert host_allowed("192.168.1.5:8765", lan) and not host_allowed("192.168.1.6", lan)
    anywhere = ServeSettings(host="0.0.0.0", api_key="k")
    assert host_allowed("10.0.0.7:8765", anywhere) and not host_allowed("rebind.example:8765", anywhere)


def test_origin_needs_allowing():
    assert origin_allowed(None, ServeSettings())  # a program, not a page
    assert not origin_allowed("http://localhost:3000", ServeSettings())
    s = ServeSettings(allow_origins=("http://localhost:3000/",))
    assert origin_allowed("http://localhost:3000", s) and not origin_allowed("http://evil.com", s)


def test_api_key():
    s = ServeSettings(api_key="sekrit")
    assert key_ok("Bearer sekrit", s) and key_ok("bearer sekrit", s)
    assert not key_ok(None, s) and not key_ok("Bearer wrong", s) and not key_ok("sekrit", s)
    assert key_ok(None, ServeSettings())


def test_check_order_and_codes():
    s = ServeSettings(api_key="k")
    with pytest.raises(ApiError) as e:
        check({"host": "evil.com"}, "GET", s)
    assert e.value.status == 403
    with pytest.raises(ApiError) as e:
        check({"host": "localhost", "origin": "http://evil.com"}, "GET", s)
    assert e.value.status == 403
    with pytest.raises(ApiError) as e:
        check({"host": "localhost"}, "GET", s)
    assert e.value.status == 401 and e.value.headers["WWW-Authenticate"] == "Bearer"
    check({"host": "localhost", "authorization": "Bearer k"}, "GET", s)


def test_non_loopback_host_needs_a_key():
    with pytest.raises(ValueError, match="--api-key"):
        ServeSettings(host="0.0.0.0")
    ServeSettings(host="0.0.0.0", api_key="k")
