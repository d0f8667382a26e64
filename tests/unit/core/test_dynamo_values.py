"""DynamoDB's typed JSON, both ways, as boto3's TypeSerializer / TypeDeserializer map it (the stores
use this instead, so that no Lambda function imports boto3)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bedrock_gateway.core.dynamo_values import from_dynamo, to_dynamo
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

VALUES = [
    "text",
    "",
    0,
    -17,
    12345678901234567890,
    Decimal("1.25"),
    True,
    False,
    None,
    {"inputTokens": 3, "outputTokens": None, "nested": {"list": [1, "two", {"three": True}]}},
    [],
    {},
    ["a", 1, None],
    {"a", "b"},
    {1, 2},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_serialize_as_boto3_serializes_them(value):
    ours, boto3s = to_dynamo(value), TypeSerializer().serialize(value)
    if isinstance(value, set):  # set members have no order
        ((kind, members),) = ours.items()
        assert {kind: sorted(members)} == {kind: sorted(boto3s[kind])}
    else:
        assert ours == boto3s


def _typed(value):
    """``value`` with every member's type beside it: ``==`` alone takes Decimal(1) for 1."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, set):
        return sorted((type(v).__name__, str(v)) for v in value)
    return (type(value).__name__, value)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_come_back_as_boto3_reads_them(value):
    attribute = TypeSerializer().serialize(value)
    assert _typed(from_dynamo(attribute)) == _typed(TypeDeserializer().deserialize(attribute))


def test_numbers_come_back_as_decimals_and_binary_as_bytes():
    assert from_dynamo({"N": "42"}) == Decimal(42) and isinstance(from_dynamo({"N": "42"}), Decimal)
    assert to_dynamo(b"\x00\x01") == {"B": b"\x00\x01"}
    assert from_dynamo({"B": b"\x00\x01"}) == b"\x00\x01"
    assert from_dynamo({"BS": [b"a"]}) == {b"a"}


@pytest.mark.parametrize(
    "value", [1.5, set(), {1, "a"}, object(), Decimal("NaN"), Decimal("Infinity")], ids=repr
)
def test_values_dynamodb_cannot_hold_exactly_are_refused(value):
    with pytest.raises(TypeError, match="no DynamoDB type"):
        to_dynamo(value)


@pytest.mark.parametrize("value", [10**38 + 1, Decimal("1." + "1" * 40)], ids=repr)
def test_numbers_past_dynamodbs_38_digits_are_refused_as_boto3_refuses_them(value):
    with pytest.raises(ArithmeticError):
        TypeSerializer().serialize(value)
    with pytest.raises(ArithmeticError):
        to_dynamo(value)


def test_big_numbers_within_38_digits_go_out_exactly():
    assert to_dynamo(10**37) == TypeSerializer().serialize(10**37) == {"N": str(10**37)}


def test_an_unknown_type_is_refused():
    with pytest.raises(TypeError, match="unknown DynamoDB type"):
        from_dynamo({"X": "?"})
