"""Runs every curl example of ``docs/api.md`` against a real embedded exchange.

Each ``sh`` block with a ``curl`` is run by bash with ``RINGEX``, ``KEY`` and ``ORDER_ID`` set;
its answer must be JSON with at least the keys of the ``json`` block that follows it (and of
its first list items), and the same ``status`` when the example is a problem. Reads are
retried for a few seconds, since market data follows the sequencer asynchronously.
"""

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
_BLOCK = re.compile(r"```sh\n((?:(?!```).)*)```\n```json\n((?:(?!```).)*)```", re.S)


def examples() -> list[tuple[str, dict]]:
    found = [(command, json.loads(expected))
             for command, expected in _BLOCK.findall(DOC.read_text())
             if "curl " in command]
    assert len(found) >= 14
    return found


def _first_order_id(value):
    if isinstance(value, dict):
        if isinstance(value.get("order_id"), int):
            return value["order_id"]
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return None
    for child in children:
        found = _first_order_id(child)
        if found is not None:
            return found
    return None


def _shape_problems(expected, actual, where="$") -> list[str]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems = [f"{where}.{key}: missing" for key in expected if key not in actual]
        if "title" in expected and expected.get("status") != actual.get("status"):
            problems.append(f"{where}.status: {actual.get('status')} != {expected['status']}")
        for key, value in expected.items():
            if isinstance(value, list) and value and isinstance(value[0], dict) \
                    and actual.get(key):
                problems += _shape_problems(value[0], actual[key][0], f"{where}.{key}[0]")
        return problems
    return []


def test_every_curl_example_of_the_api_doc(embedded_exchange):
    environment = {"PATH": "/usr/bin:/bin", "RINGEX": embedded_exchange.base_url,
                   "KEY": embedded_exchange.api_key, "ORDER_ID": "0"}
    for command, expected in examples():
        reads = "-X" not in command
        deadline = time.monotonic() + (90 if reads else 0)
        while True:
            run = subprocess.run(["bash", "-c", command], env=environment, capture_output=True,
                                 text=True, timeout=30)
            assert run.returncode == 0, (command, run.stderr)
            answer = json.loads(run.stdout)
            problems = _shape_problems(expected, answer)
            if not problems or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert not problems, (command, answer, problems)
        order_id = _first_order_id(answer)
        if order_id is not None and not reads:
            environment["ORDER_ID"] = str(order_id)
