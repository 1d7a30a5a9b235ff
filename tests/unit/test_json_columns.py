"""JSON columns go through orjson, but keep what the standard library kept: integers past
64 bits exactly, and non-string keys as strings."""

from __future__ import annotations

from db.engine import dumps_json, loads_json


def test_big_integers_round_trip_exactly() -> None:
    value = {"n": [123456789012345678901234567890, -(2**70)], "x": 1.5}
    assert loads_json(dumps_json(value)) == value


def test_non_string_keys_are_written_as_strings() -> None:
    assert loads_json(dumps_json({1: "a"})) == {"1": "a"}


def test_plain_documents_read_back_unchanged() -> None:
    value = {"taskId": "7f0c", "progress": 0.5, "ok": True, "none": None, "list": [1, "2"]}
    assert loads_json(dumps_json(value)) == value
    assert loads_json(dumps_json(value).encode()) == value
