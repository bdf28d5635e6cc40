"""A fleet of OpenAI-compatible servers that serve one model (`--base-url` given several times, or
`--base-urls-file`): where each request goes, which endpoints are out and until when, and what each
did (the manifest's record).

Routing: the least-busy endpoint in service (fewest requests in flight), ties by round robin. An
endpoint that fails (connection error, timeout, 5xx) is taken out for a cool-down that doubles with
each failed comeback; when it ends, the next request to be routed first re-probes it (GET /models)
and it serves again only if it answers. When no endpoint is in service, a request goes to the one
whose cool-down ends first: the request's own retry backoff paces it, as with a single server.

Identity: before the first request, every endpoint must list `--model` with the same root and give
the same greedy answer to a fixed probe prompt; a mixed fleet is refused in one line. An endpoint
that does not answer at start is kept out (with a warning) and checked the same way when it first
answers a probe; one that then serves something else is retired for the rest of the run."""
from __future__ import annotations

import logging
import os
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psybench.constants import FLEET_COOLDOWN_CAP_S, FLEET_COOLDOWN_S, OPENAI_DEFAULT_BASE_URL
from psybench.errors import BackendError, ConfigError

log = logging.getLogger("psybench.backends.openai")

URL_EXAMPLE = "http://127.0.0.1:8000/v1"


# ---- which URLs ------------------------------------------------------------------------------------

def valid_url(url: str) -> bool:
    parsed = urllib.parse.urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and not any(c.isspace() for c in url)


def endpoint_urls(base_url: str | Sequence[str] | None, urls_file: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The endpoints of a run: the --base-url values, then the file's lines (`#` starts a comment);
    neither: $OPENAI_BASE_URL, else OpenAI's. A bad, repeated or missing entry -> ConfigError naming
    the flag or FILE:LINE."""
    urls: dict[str, str] = {}  # url (no trailing slash) -> where it was given

    def add(url: str, where: str) -> None:
        key = url.rstrip("/")
        if key in urls:
            raise ConfigError(f"{where}: {url} is listed twice (first: {urls[key]}); list each server once")
        urls[key] = where

    for url in [base_url] if isinstance(base_url, str) else list(base_url or ()):
        if not valid_url(url):
            raise ConfigError(f"--base-url {url}: expected an http(s) URL such as {URL_EXAMPLE}")
        add(url, f"--base-url {url}")
    if urls_file is not None:
        path = Path(urls_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"--base-urls-file {urls_file}: no such file") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"--base-urls-file {urls_file}: cannot be read ({type(err).__name__}: {err})") from None
        found = 0
        for number, line in enumerate(text.splitlines(), 1):
            url = line.split("#", 1)[0].strip()
            if not url:
                continue
            if not valid_url(url):
                raise ConfigError(f"{path}:{number}: {url!r} is not an http(s) URL such as {URL_EXAMPLE} "
                                  "(--base-urls-file: one URL per line, # comments)")
            add(url, f"{path}:{number}")
            found += 1
        if not found:
            raise ConfigError(f"{path}: no URL in it (--base-urls-file: one http(s) URL per line, # comments)")
    if not urls:
        return (os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL,)
    return tuple(urls)


# ---- what an endpoint serves -----------------------------------------------------------------------

@dataclass(frozen=True)
class Identity:
    """What one endpoint serves: the model ids it lists (None: no listing), the root of --model among
    them, and its greedy answer to the probe prompt."""
    listed: tuple[str, ...] | None
    root: str | None
    probe: str


def odd_endpoint(model: str, identities: dict[str, Identity]) -> str | None:
    """None when every endpoint serves the same model; else one line naming the first odd endpoint and
    what differs. The largest group of agreeing endpoints is the reference (a tie: the first URL's)."""
    for url, ident in identities.items():
        if ident.listed is not None and model not in ident.listed:
            shown = ", ".join(ident.listed[:5]) or "nothing"
            return f"mixed fleet: {url} does not serve {model!r} (it lists {shown}): every endpoint must serve --model"
    groups = Counter((i.root, i.probe) for i in identities.values())
    if len(groups) == 1:
        return None
    first = next(iter(identities.values()))
    reference = max(groups, key=lambda key: (groups[key], key == (first.root, first.probe)))
    ref_url = next(url for url, i in identities.items() if (i.root, i.probe) == reference)
    odd_url, odd = next((url, i) for url, i in identities.items() if (i.root, i.probe) != reference)
    others = groups[reference] - 1
    against = ref_url + (f" (and {others} other{'s' if others > 1 else ''})" if others else "")
    if odd.root != reference[0]:
        what = f"the root of {model!r}: {odd.root!r} vs {reference[0]!r}"
    else:
        what = f"the greedy answer to the probe prompt: {odd.probe!r} vs {reference[1]!r}"
    return f"mixed fleet: {odd_url} differs from {against} in {what}; every endpoint must serve the same model"


# ---- routing and health ----------------------------------------------------------------------------

@dataclass(eq=False)
class Endpoint:
    url: str
    client: Any = field(default=None, repr=False)  # the openai client bound to this URL
    index: int = 0
    in_flight: int = 0
    requests: int = 0  # requests sent (each attempt counts)
    failures: int = 0  # attempts that failed here (outage errors and 429)
    outages: int = 0  # times taken out of service
    strikes: int = 0  # failed comebacks in a row: the cool-down doubles with each
    down_until: float | None = None  # None: in service; else when its cool-down ends (monotonic clock)
    probing: bool = False
    verified: bool = True  # False: did not answer at start; its identity is checked when it first does
    epoch: int = 0  # raised when it is taken out: what an attempt sent before learns nothing new
    retired: str | None = None  # why it is out for good (serves another model)
    last_error: str | None = None

    def record(self) -> dict:
        state = "retired" if self.retired else ("in service" if self.down_until is None else "out")
        return {"url": self.url, "requests": self.requests, "failures": self.failures, "outages": self.outages,
                "state": state, "last_error": self.last_error, "retired": self.retired}


@dataclass(frozen=True)
class Lease:
    """One attempt's hold on an endpoint, from acquire() to release()."""
    endpoint: Endpoint
    epoch: int

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def client(self) -> Any:
        return self.endpoint.client


# A probe's verdict on an endpoint that is out: ("ok", None), ("down", why) or ("retire", why)
Probe = Callable[[Endpoint], tuple[str, str | None]]


class Fleet:
    def __init__(self, endpoints: Sequence[Endpoint], probe: Probe, cooldown: float = FLEET_COOLDOWN_S,
                 cooldown_cap: float = FLEET_COOLDOWN_CAP_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoints = list(endpoints)
        for index, endpoint in enumerate(self.endpoints):
            endpoint.index = index
        self._probe, self._clock = probe, clock
        self.cooldown, self.cooldown_cap = float(cooldown), float(cooldown_cap)
        self._lock = threading.Lock()
        self._next = 0  # round robin among equally busy endpoints

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self.endpoints]

    def _cooldown(self, strikes: int) -> float:
        return min(self.cooldown_cap, self.cooldown * 2 ** max(0, strikes - 1))

    def _take_out(self, endpoint: Endpoint, why: str) -> None:
        """Under the lock. A new outage, or a failed comeback (after the cool-down): out for longer."""
        now = self._clock()
        if endpoint.down_until is not None and endpoint.down_until > now:
            return  # already out: requests sent before the outage fail too, one outage all the same
        if endpoint.down_until is None:
            endpoint.outages += 1
        endpoint.epoch += 1
        endpoint.strikes += 1
        endpoint.down_until = now + self._cooldown(endpoint.strikes)
        log.warning("endpoint %s out of service for %.1fs: %s", endpoint.url, endpoint.down_until - now, why)

    def mark_unreachable(self, endpoint: Endpoint, why: str) -> None:
        """At start: kept out, its identity checked when a probe first reaches it."""
        with self._lock:
            endpoint.verified, endpoint.last_error = False, why
            self._take_out(endpoint, why)

    def _reprobe_due(self) -> None:
        with self._lock:
            now = self._clock()
            due = [e for e in self.endpoints if e.retired is None and e.down_until is not None
                   and e.down_until <= now and not e.probing]
            for endpoint in due:
                endpoint.probing = True  # one thread probes it; the others route elsewhere meanwhile
        for endpoint in due:
            verdict, why = self._probe(endpoint)  # a network call: outside the lock
            with self._lock:
                endpoint.probing = False
                if verdict == "ok":
                    endpoint.down_until = None
                    log.warning("endpoint %s back in service", endpoint.url)
                elif verdict == "retire":
                    endpoint.retired = why
                    log.warning("endpoint %s retired for this run: %s", endpoint.url, why)
                else:
                    endpoint.last_error = why
                    self._take_out(endpoint, f"health probe: {why}")

    def acquire(self) -> Lease:
        """The endpoint for the next attempt, its in-flight count raised; give it back with release()."""
        self._reprobe_due()
        with self._lock:
            live = [e for e in self.endpoints if e.retired is None]
            if not live:
                raise BackendError(f"openai backend: every endpoint was retired ({', '.join(self.urls)})")
            ready = [e for e in live if e.down_until is None]
            if ready:
                least = min(e.in_flight for e in ready)
                n = len(self.endpoints)
                chosen = min((e for e in ready if e.in_flight == least), key=lambda e: (e.index - self._next) % n)
                self._next = chosen.index + 1
            else:  # none in service: the one back soonest; the caller's backoff paced this attempt
                chosen = min(live, key=lambda e: e.down_until)
            chosen.in_flight += 1
            chosen.requests += 1
            return Lease(chosen, chosen.epoch)

    def release(self, lease: Lease, error: str | None = None, outage: bool = False) -> None:
        """The attempt is over: error None (an answer), or why it failed; an outage error (connection,
        timeout, 5xx) takes the endpoint out. An attempt sent before the endpoint's latest outage
        began neither puts it back (an answer that was already on its way) nor takes it out again."""
        endpoint = lease.endpoint
        with self._lock:
            endpoint.in_flight -= 1
            current = lease.epoch == endpoint.epoch
            if error is None:
                if current:
                    endpoint.strikes, endpoint.down_until = 0, None
                return
            endpoint.failures += 1
            endpoint.last_error = error
            if outage and current:
                self._take_out(endpoint, error)

    def in_service(self, besides: Endpoint | None = None) -> bool:
        with self._lock:
            return any(e.retired is None and e.down_until is None and e is not besides for e in self.endpoints)

    def records(self) -> list[dict]:
        with self._lock:
            return [e.record() for e in self.endpoints]
