"""500+ random API queries over HTTP to a live dashboard on localhost: never a 5xx, always JSON."""

from __future__ import annotations

import http.client
import json
import random
from urllib.parse import quote, urlsplit

from hwnas.dashboard import create_app
from hwnas.dashboard._browser import live_server

QUERIES = 520
KEYS = ["naswot", "latency_ms@pixel4", "latency_ms@xeon", "params_m", "flops_m", "latency_ms", "acc", "", "@", "a@b@c"]
OPS = ["<=", ">=", "<", ">", "==", "!=", "=", "=<", "<<", "", " ", "~"]
NUMBERS = ["0", "1", "-1", "0.05", "1e3", "1e", "--1", "+.", ".", "inf", "nan", "1e999", "-1e-999", "9" * 400, "0x10", "1_0", ""]
JUNK = ["", " ", "%", "%zz", "%00", "%ff%fe", "'", '"', ";", "\\", "..", "../../etc/passwd", "é", "∞", "\x00", "\n", "and",
        "and and", "<script>", "{}", "[]", "null", "a" * 3000, "$(rm -rf /)", "__class__", "params_m <= 1 or 1=1"]


def _token(rng: random.Random) -> str:
    return rng.choice([rng.choice(KEYS), rng.choice(JUNK), rng.choice(NUMBERS), "synthetic", "nope"])


def _where(rng: random.Random) -> str:
    clauses = [f"{rng.choice(KEYS)}{rng.choice(['', ' ', '  '])}{rng.choice(OPS)}{rng.choice(['', ' '])}{rng.choice(NUMBERS)}"
               for _ in range(rng.randint(1, 4))]
    text = rng.choice([" and ", " AND ", "and", " & ", ","]).join(clauses)
    return text if rng.random() < 0.8 else text + rng.choice(JUNK)


def _value(rng: random.Random, name: str) -> str:
    if name == "experiment":
        return rng.choice(["synthetic"] * 6 + ["nope", "", " synthetic", "SYNTHETIC", rng.choice(JUNK)])
    if name == "objectives":
        return ",".join(rng.choice(KEYS + JUNK[:6]) for _ in range(rng.randint(0, 4)))
    if name == "where":
        return _where(rng)
    return _token(rng)


def _encode(text: str, rng: random.Random) -> str:
    """Mostly proper percent-encoding; sometimes raw ASCII as a careless client would send it."""
    if rng.random() < 0.8 or not text.isascii() or any(c in text for c in " \x00\n#?"):
        return quote(text, safe=rng.choice(["", "@,", "@,<>="]))
    return text


def random_request(rng: random.Random) -> str:
    path = rng.choice(["/api/pareto"] * 8 + ["/api/experiments", "/api/experiments/synthetic/trials", "/api/x",
                                              f"/api/experiments/{quote(_token(rng), safe='')}/trials", "/api/pareto/"])
    names = rng.sample(["experiment", "objectives", "where"], rng.randint(0, 3))
    if rng.random() < 0.15:
        names.append(rng.choice(["experiment", "objectives", "where", "limit", "", "wher", "é"]))
    pairs = [f"{_encode(n, rng)}={_encode(_value(rng, n), rng)}" for n in names]
    if rng.random() < 0.1:
        pairs.append(rng.choice(["=", "&", "%", "x", "experiment", "=%zz", "%00=%00"]))
    return path + ("?" + "&".join(pairs) if pairs or rng.random() < 0.5 else "")


def test_random_queries_never_fail_the_server(journal_url: str) -> None:
    rng = random.Random(20240601)
    statuses: dict[int, int] = {}
    with live_server(create_app(journal_url).server) as base:
        host = urlsplit(base)
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        for _ in range(QUERIES):
            target = random_request(rng)
            connection.request("GET", target)
            response = connection.getresponse()
            body = response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
            assert response.status < 500, f"{target!r} -> {response.status}: {body[:500]!r}"
            payload = json.loads(body)
            if response.status == 200:
                assert isinstance(payload, list), target
            else:
                assert response.status in (400, 404) and payload["error"], (target, payload)
        connection.close()
    assert sum(statuses.values()) == QUERIES and statuses.get(200, 0) > 30 and statuses.get(400, 0) > 100, statuses
