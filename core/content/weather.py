"""Current weather from OpenWeatherMap as a short prompt phrase ("light rain, 12 °C, evening").

The API key travels in the query string (`appid`), the only place the API reads it, so it can
leak through exception texts (requests puts the URL in them) and urllib3's debug log. Every
message we raise goes through `redact`, exceptions are raised `from None` so the original
(with the URL) is not chained, and a logging filter redacts urllib3's records while we call.
Retries are a small loop of our own so each failure gets a message that says what to do.
requests' timeout applies to each read, so a server that sends a byte at a time could hold a call
for ever: each try runs in a worker thread and is given up after `timeout` seconds in all.
"""

import contextlib
import datetime as dt
import logging
import math
import os
import re
import threading
import time
from urllib.parse import urlsplit

from ..common.validation import echoed

DEFAULT_BASE_URL = "https://api.openweathermap.org/data/2.5/weather"
ENV_KEY = "OPENWEATHERMAP_API_KEY"
UNITS = {"metric": "°C", "imperial": "°F", "standard": "K"}
_RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_LOCATION = 200  # characters; the longest place names (Bangkok's ceremonial one) are under 170
_LAT_LON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")

log = logging.getLogger("style_aligned.weather")


class WeatherError(RuntimeError):
    """A weather lookup failed; the message is safe to show (no key)."""


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOOKS_LIKE_KEY = re.compile(r"[0-9a-fA-F]{32}")  # OpenWeatherMap keys are 32 hex digits


def resolve_key(env_var: str = ENV_KEY) -> str:
    """The key from the environment variable named `env_var`. The key itself never travels through a
    node input: whatever a prompt carries is stored in the host's /history."""
    name = (env_var or ENV_KEY).strip()
    if not _ENV_NAME.fullmatch(name) or _LOOKS_LIKE_KEY.fullmatch(name):
        # not echoed: it may be the key itself, typed into the name field
        raise WeatherError(f"api_key_env must be the name of an environment variable that holds the key (such as "
                           f"{ENV_KEY}), not the key itself: set the variable before starting ComfyUI")
    key = os.environ.get(name, "").strip()
    if not key:
        raise WeatherError(f"no OpenWeatherMap API key: set the environment variable {echoed(name)} before starting "
                           "ComfyUI (get a free key at openweathermap.org)")
    return key


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


class _RedactFilter(logging.Filter):
    def __init__(self, secret):
        super().__init__()
        self.secret = secret

    def filter(self, record):
        if self.secret in record.getMessage():
            record.msg, record.args = redact(record.getMessage(), self.secret), None
        return True


@contextlib.contextmanager
def _redacted_logs(secret):
    loggers = [logging.getLogger(name) for name in ("urllib3.connectionpool", "urllib3", "requests")]
    flt = _RedactFilter(secret)
    for logger in loggers:
        logger.addFilter(flt)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(flt)


def location_params(location: str) -> dict:
    """`lat,lon` numbers or a place name such as `London,GB`."""
    location = (location or "").strip()
    if not location:
        raise ValueError("location is empty: type a place such as 'Paris,FR' or coordinates such as '48.85,2.35'")
    if len(location) > MAX_LOCATION:  # refused before it becomes a megabyte of URL
        raise ValueError(f"location '{echoed(location)}' is longer than any place name (at most {MAX_LOCATION} "
                         "characters): type a place such as 'Paris,FR' or coordinates such as '48.85,2.35'")
    match = _LAT_LON.match(location)
    if match:
        return {"lat": match.group(1), "lon": match.group(2)}
    return {"q": location}


def _status_error(status: int, location: str, body: str) -> WeatherError | None:
    if status == 401:
        return WeatherError("OpenWeatherMap rejected the API key (HTTP 401): check the key in the environment "
                            "variable named in api_key_env; new keys take up to two hours to activate")
    if status == 404:
        return WeatherError(f"OpenWeatherMap does not know the location '{echoed(location)}' (HTTP 404): "
                            "use 'City,CountryCode' such as 'Paris,FR' or 'lat,lon'")
    if status == 400:
        return WeatherError(f"OpenWeatherMap refused the request for '{echoed(location)}' (HTTP 400: "
                            f"{echoed(body, 120)})")
    return None


def check_base_url(base_url: str) -> str:
    """An http(s) URL with a host, or a ValueError that says so (before any request is made)."""
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError as exc:
        raise ValueError(f"base_url '{echoed(base_url)}' is not a valid URL ({echoed(exc)}); use the default "
                         f"{DEFAULT_BASE_URL} or an http(s) URL of your proxy") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url '{echoed(base_url)}' must be an http:// or https:// URL with a host, such as "
                         f"{DEFAULT_BASE_URL}")
    return base_url


def _within(seconds, call):
    """call() in a daemon thread; its result, or TimeoutError after `seconds` in all."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="style-aligned-weather", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def fetch_current(location: str, api_key: str, units: str = "metric", base_url: str = DEFAULT_BASE_URL,
                  timeout: float = 10.0, retries: int = 3, backoff: float = 0.5) -> dict:
    """The current-weather JSON for `location`, retrying 429/5xx/timeouts with exponential backoff.
    Each try gets `timeout` seconds in all, however slowly the server sends."""
    import requests

    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, got '{units}'")
    check_base_url(base_url)
    params = {**location_params(location), "appid": api_key, "units": units}
    attempts = max(1, int(retries) + 1)
    last = ""

    def get(session):
        with _redacted_logs(api_key):  # held by the worker, also if it outlives its deadline
            return session.get(base_url, params=params, timeout=timeout)

    with requests.Session() as session:
        for attempt in range(attempts):
            if attempt:
                time.sleep(backoff * 2 ** (attempt - 1))
            try:
                reply = _within(timeout, lambda session=session: get(session))
            except (requests.Timeout, TimeoutError):
                last = f"no reply within {timeout:g} s"
                log.warning("weather: %s (try %d of %d)", last, attempt + 1, attempts)
                continue
            except requests.RequestException as exc:
                raise WeatherError(redact(f"could not reach OpenWeatherMap at {_host(base_url)}: "
                                          f"{type(exc).__name__}; check the network connection", api_key)) from None
            if reply.status_code in _RETRY_STATUS:
                last = f"HTTP {reply.status_code}"
                log.warning("weather: %s (try %d of %d)", last, attempt + 1, attempts)
                continue
            error = _status_error(reply.status_code, location, redact(reply.text, api_key))
            if error is None and reply.status_code >= 400:
                error = WeatherError(f"OpenWeatherMap answered HTTP {reply.status_code} for '{echoed(location)}'")
            if error is not None:
                raise error from None
            try:
                data = reply.json()
            except (ValueError, RecursionError):  # deeply nested JSON exhausts the parser's recursion
                raise WeatherError("OpenWeatherMap sent a reply that is not valid JSON; try again later") from None
            if not isinstance(data, dict) or not isinstance(data.get("weather"), list) or "main" not in data:
                raise WeatherError("OpenWeatherMap sent JSON without 'weather'/'main' fields; is base_url the "
                                   "current-weather endpoint (/data/2.5/weather)?")
            return data
    hint = "the service is rate limiting this key; wait a minute" if last == "HTTP 429" else "try again later"
    raise WeatherError(f"OpenWeatherMap failed {attempts} times (last: {last}); {hint}")


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _number(value):
    """A finite int or float from a JSON field, else None (odd replies leave the part out)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def time_of_day(data: dict) -> str:
    """Local part of day from the observation time and the city's UTC offset ('' if they are odd)."""
    when, offset = _number(data.get("dt")), _number(data.get("timezone", 0))
    if when is None or offset is None:
        return ""
    try:
        local = dt.datetime.fromtimestamp(int(when) + int(offset), tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):  # a time outside what datetime can hold
        return ""
    hour = local.hour
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 21:
        return "evening"
    return "night"


def describe(data: dict, units: str = "metric") -> str:
    """'light rain, 12 °C, evening' from a current-weather reply; fields of the wrong kind are left
    out, and a reply with nothing usable is a WeatherError (so on_error applies)."""
    parts = []
    conditions = data.get("weather")
    first = conditions[0] if isinstance(conditions, list) and conditions else None
    if isinstance(first, dict) and isinstance(first.get("description"), str) and first["description"].strip():
        parts.append(first["description"].strip())
    main = data.get("main")
    temp = _number(main.get("temp")) if isinstance(main, dict) else None
    if temp is not None:
        parts.append(f"{round(temp)} {UNITS.get(units, '°C')}")
    if not parts:
        raise WeatherError("OpenWeatherMap sent a reply with no usable conditions or temperature; try again later")
    part = time_of_day(data)
    if part:
        parts.append(part)
    return ", ".join(parts)
