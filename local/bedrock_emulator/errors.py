"""Bedrock's modeled errors: HTTP status, default message and event-stream member name.

Status codes are the ones in botocore's ``bedrock-runtime`` service model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Real Coral services append their namespace to the error type; botocore keeps the part before ":".
ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    message: str
    stream_member: str | None  # member of the ResponseStream union, if modeled mid-stream


ERRORS: dict[str, ErrorSpec] = {
    "ValidationException": ErrorSpec(400, "Input validation failed.", "validationException"),
    "AccessDeniedException": ErrorSpec(
        403, "You don't have access to the model with the specified model ID.", None
    ),
    "ResourceNotFoundException": ErrorSpec(404, "The specified resource was not found.", None),
    "ModelTimeoutException": ErrorSpec(
        408, "Model has timed out in processing the request. Try your request again.", "modelTimeoutException"
    ),
    "ThrottlingException": ErrorSpec(
        429, "Too many requests, please wait before trying again.", "throttlingException"
    ),
    "ModelNotReadyException": ErrorSpec(
        429, "Model is not ready for inference. Wait and try your request again.", None
    ),
    # "Too many tokens, please wait before trying again." is a ThrottlingException on Bedrock (see
    # TOO_MANY_TOKENS); this quota message is our wording, Bedrock's is not public.
    "ServiceQuotaExceededException": ErrorSpec(
        400, "Your request exceeds a service quota of your account. Check your Amazon Bedrock quotas.", None
    ),
    "ModelErrorException": ErrorSpec(424, "The model returned an error while processing the request.", None),
    "ModelStreamErrorException": ErrorSpec(
        424,
        "An error occurred while streaming the response. Retry your request.",
        "modelStreamErrorException",
    ),
    "InternalServerException": ErrorSpec(
        500,
        "The server encountered an internal error while processing the request.",
        "internalServerException",
    ),
    "ServiceUnavailableException": ErrorSpec(
        503, "Bedrock is unable to process your request.", "serviceUnavailableException"
    ),
}

TOO_MANY_TOKENS = "Too many tokens, please wait before trying again."  # ThrottlingException, 429
END_OF_LIFE = (
    "This model version has reached the end of its life. "
    "Please refer to the AWS documentation for more details."
)

_BY_LOWER = {name.lower(): name for name in ERRORS}
_BY_LOWER.update({name.lower().removesuffix("exception"): name for name in ERRORS})


def canonical_error(name: str) -> str:
    """Map ``"throttling"``, ``"throttlingException"`` or ``"ThrottlingException"`` to the modeled name."""
    try:
        return _BY_LOWER[name.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown error type {name!r}; one of {sorted(ERRORS)}") from None


@dataclass
class BedrockError(Exception):
    """A modeled error to send back: ``X-Amzn-ErrorType`` + status + ``{"message": ...}`` body."""

    type: str
    message: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.type = canonical_error(self.type)
        if not self.message:
            self.message = ERRORS[self.type].message
        super().__init__(f"{self.type}: {self.message}")

    @property
    def status(self) -> int:
        return ERRORS[self.type].status

    def body(self) -> dict:
        return {"message": self.message, **self.extra}


def validation(message: str) -> BedrockError:
    return BedrockError("ValidationException", message)


def end_of_life() -> BedrockError:
    """What Bedrock answers for a model past its EOL date (404)."""
    return BedrockError("ResourceNotFoundException", END_OF_LIFE)


def constraint(value, member: str, rule: str) -> BedrockError:
    """Coral's wording for a modeled input constraint, e.g. a number out of its range."""
    return validation(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must {rule}"
    )


def enum_violation(value: str, member: str, allowed: list[str]) -> BedrockError:
    """The wording of Coral's input-constraint errors."""
    return validation(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{', '.join(allowed)}]"
    )
