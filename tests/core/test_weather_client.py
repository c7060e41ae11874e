"""The weather client against a real HTTP server on 127.0.0.1 (no mock of requests)."""

import http.server
import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from harness import inputs
from style_aligned.core.content import weather

GOOD_KEY = "k3y-SECRET-0123456789abcdef"
BAD_KEY = "wr0ng-SECRET-fedcba9876543210"
PARIS = {
    "weather": [{"main": "Rain", "description": "light rain"}],
    "main": {"temp": 12.4},
    "dt": 1700000000,  # 22:13 UTC
    "timezone": -3 * 3600,  # 19:13 local
    "name": "Paris",
}


class Handler(http.server.BaseHTTPRequestHandler):
    hits: dict = {}

    def log_message(self, *args):  # keep the test output quiet
        pass

    def _send(self, status, body):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        place = query.get("q", "coords")
        Handler.hits[place] = Handler.hits.get(place, 0) + 1
        if query.get("appid") != GOOD_KEY:
            return self._send(401, {"cod": 401, "message": f"Invalid API key {query.get('appid')}"})
        if place.startswith("Nowhere"):
            return self._send(404, {"cod": "404", "message": "city not found"})
        if place == "Busy":
            return self._send(429, {"cod": 429})
        if place == "Broken":
            return self._send(502, b"<html>bad gateway</html>")
        if place == "Flaky" and Handler.hits[place] < 3:
            return self._send(503, b"")
        if place == "Slow":
            time.sleep(0.6)
        if place == "Garbage":
            return self._send(200, b"{not json")
        if place == "Deep":  # valid JSON nested deeper than Python's parser recurses
            return self._send(200, b'{"weather": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
        return self._send(200, {**PARIS, "units_echo": query.get("units")})


@pytest.fixture(scope="module")
def base_url():
    with inputs.local_http_server(Handler) as base:
        yield f"{base}/data/2.5/weather"


def fetch(base_url, place, key=GOOD_KEY, **kw):
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 2.0)
    return weather.fetch_current(place, key, base_url=base_url, **kw)


def test_success_phrase(base_url):
    data = fetch(base_url, "Paris")
    assert data["units_echo"] == "metric"
    assert weather.describe(data, "metric") == "light rain, 12 °C, evening"
    assert weather.describe(fetch(base_url, "48.85, 2.35", units="imperial"), "imperial").endswith("°F, evening")


def test_unauthorised_key_is_named_but_not_shown(base_url, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(weather.WeatherError) as info:
        fetch(base_url, "Paris", key=BAD_KEY)
    text = str(info.value)
    assert "rejected the API key" in text and BAD_KEY not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert all(BAD_KEY not in r.getMessage() for r in caplog.records)


def test_unknown_city(base_url):
    with pytest.raises(weather.WeatherError, match="does not know the location 'Nowhere'"):
        fetch(base_url, "Nowhere")


@pytest.mark.parametrize("place,status", [("Busy", "429"), ("Broken", "502")])
def test_rate_limit_and_server_errors_are_retried_then_reported(base_url, place, status, caplog):
    caplog.set_level(logging.DEBUG)
    Handler.hits.pop(place, None)
    with pytest.raises(weather.WeatherError, match=f"failed 3 times \\(last: HTTP {status}\\)") as info:
        fetch(base_url, place, retries=2)
    assert Handler.hits[place] == 3
    assert GOOD_KEY not in str(info.value)
    assert all(GOOD_KEY not in r.getMessage() for r in caplog.records)
    assert any("try 1 of 3" in r.getMessage() for r in caplog.records)


def test_transient_errors_recover(base_url):
    Handler.hits.pop("Flaky", None)
    assert weather.describe(fetch(base_url, "Flaky", retries=3)).startswith("light rain")
    assert Handler.hits["Flaky"] == 3


def test_timeout_is_retried_then_reported(base_url, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(weather.WeatherError, match="no reply within 0.2 s") as info:
        fetch(base_url, "Slow", timeout=0.2, retries=1)
    assert GOOD_KEY not in str(info.value)
    assert all(GOOD_KEY not in r.getMessage() for r in caplog.records)


def test_malformed_json(base_url):
    with pytest.raises(weather.WeatherError, match="not valid JSON"):
        fetch(base_url, "Garbage")


def test_deeply_nested_json_is_a_bad_reply_not_a_recursion_error(base_url):
    with pytest.raises(weather.WeatherError, match="not valid JSON; try again later"):
        fetch(base_url, "Deep", retries=0)


def test_a_long_location_is_echoed_capped(base_url):
    place = "Nowhere" + "x" * 180  # under the limit: asked, and the 404 names its start and length
    with pytest.raises(weather.WeatherError, match=r"location 'Nowherexxx.*… \(187 characters\)' \(HTTP 404\)") as info:
        fetch(base_url, place, retries=0)
    assert place not in str(info.value) and len(str(info.value)) < 300


def test_a_huge_location_is_refused_before_any_request(base_url):
    place = "Paris" * 200_000  # a megabyte pasted into the field
    hits = dict(Handler.hits)
    with pytest.raises(ValueError, match=r"location 'ParisParis.*… \(1000000 characters\)' is longer than any place "
                                          r"name \(at most 200 characters\): type a place such as 'Paris,FR'") as info:
        fetch(base_url, place)
    assert len(str(info.value)) < 300 and Handler.hits == hits


def test_unreachable_host_hides_key(caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(weather.WeatherError, match="could not reach") as info:
        weather.fetch_current("Paris", GOOD_KEY, base_url="http://127.0.0.1:9/x", retries=0, timeout=1)
    assert GOOD_KEY not in str(info.value)
    assert all(GOOD_KEY not in r.getMessage() for r in caplog.records)


def test_key_resolution(monkeypatch):
    monkeypatch.delenv(weather.ENV_KEY, raising=False)
    with pytest.raises(weather.WeatherError, match=weather.ENV_KEY):
        weather.resolve_key("")
    monkeypatch.setenv(weather.ENV_KEY, " from-env ")
    assert weather.resolve_key("") == "from-env"
    monkeypatch.setenv("MY_KEY", "mine")
    assert weather.resolve_key("MY_KEY") == "mine"


@pytest.mark.parametrize("typed", ["0123456789abcdef0123456789ABCDEF", "key with spaces", "abc-123"])
def test_a_key_typed_as_the_variable_name_is_refused_without_echoing_it(typed):
    with pytest.raises(weather.WeatherError, match="name of an environment variable") as info:
        weather.resolve_key(typed)
    assert typed not in str(info.value)
    with pytest.raises(ValueError, match="location is empty"):
        weather.location_params("  ")


def test_time_of_day_uses_the_city_offset():
    assert weather.time_of_day({"dt": 1700000000, "timezone": 0}) == "night"  # 22:13
    assert weather.time_of_day({"dt": 1700000000, "timezone": -12 * 3600}) == "morning"  # 10:13
