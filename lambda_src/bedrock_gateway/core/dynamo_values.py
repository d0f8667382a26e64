"""Python values to DynamoDB's typed JSON (``{"S": ...}``, ``{"N": ...}``, ...) and back.

What ``boto3.dynamodb.types`` does, for the two stores here: importing any part of boto3 imports all
of it (its session, resources and s3transfer, which imports multiprocessing), about 20 ms of every
cold start for functions that only need botocore's clients. The mapping follows boto3's: numbers go
out through DynamoDB's number context (38 digits; anything it would round, and NaN or infinity, is
refused) and come back as :class:`~decimal.Decimal`, sets map to the set types, floats are refused
(they are inexact). One difference: binary values come back as ``bytes``, not boto3's ``Binary``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

#: DynamoDB's numbers: 38 significant digits, exponents from -130 to 125 (boto3's DYNAMODB_CONTEXT).
_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def to_dynamo(value: Any) -> dict[str, Any]:
    """One attribute value in DynamoDB's JSON."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, Decimal)):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    if isinstance(value, Mapping):
        return {"M": {k: to_dynamo(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [to_dynamo(v) for v in value]}
    if isinstance(value, (set, frozenset)) and value:
        members = [to_dynamo(v) for v in value]
        kinds = {next(iter(m)) for m in members}
        if len(kinds) == 1 and (kind := kinds.pop()) in ("S", "N", "B"):
            return {f"{kind}S": [m[kind] for m in members]}
    raise TypeError(f"no DynamoDB type for {type(value).__name__} value {value!r}")


def _number(value: int | Decimal) -> str:
    number = _NUMBERS.create_decimal(value)  # raises what DynamoDB could not hold exactly
    if not number.is_finite():
        raise TypeError(f"no DynamoDB type for {value!r}: numbers must be finite")
    return str(number)


def from_dynamo(attribute: Mapping[str, Any]) -> Any:
    """One attribute value from DynamoDB's JSON."""
    ((kind, value),) = attribute.items()
    if kind in ("S", "BOOL", "B"):
        return value
    if kind == "N":
        return Decimal(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_dynamo(v) for k, v in value.items()}
    if kind == "L":
        return [from_dynamo(v) for v in value]
    if kind == "SS" or kind == "BS":
        return set(value)
    if kind == "NS":
        return {Decimal(v) for v in value}
    raise TypeError(f"unknown DynamoDB type {kind!r}")
