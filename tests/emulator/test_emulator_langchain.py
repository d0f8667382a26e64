"""A real third-party client against the emulator, through the wire: langchain-aws.

``ChatBedrockConverse`` speaks Converse/ConverseStream; ``ChatBedrock`` speaks InvokeModel for Claude
and Converse for Nova. The emulator's own counters show which operations the client really used.
"""

from __future__ import annotations

import pytest
from bedrock_emulator.families import count_tokens
from langchain_aws import ChatBedrock, ChatBedrockConverse
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

GLOBAL_SONNET = "global.anthropic.claude-sonnet-4-6"
US_HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.fixture
def connection(emulator):
    return {
        "region_name": "us-east-1",
        "endpoint_url": emulator.url,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def test_chat_bedrock_converse_invoke_and_stream(emulator, connection):
    llm = ChatBedrockConverse(model=GLOBAL_SONNET, max_tokens=200, **connection)
    reply = llm.invoke([SystemMessage("Be brief."), HumanMessage("Describe Mars in a sentence.")])
    assert isinstance(reply.content, str) and reply.content
    assert reply.usage_metadata["output_tokens"] == count_tokens(reply.content)
    assert reply.response_metadata["stopReason"] == "end_turn"

    streamed = "".join(chunk.text for chunk in llm.stream("Describe Mars in a sentence."))
    assert streamed
    assert emulator.counters()["operations"] == {"Converse": 1, "ConverseStream": 1}


def test_chat_bedrock_converse_structured_output_uses_forced_tool_use(emulator, connection):
    class Weather(BaseModel):
        city: str
        celsius: float

    llm = ChatBedrockConverse(model=US_HAIKU, **connection)
    weather = llm.with_structured_output(Weather).invoke("What is the weather in Paris?")
    assert isinstance(weather, Weather) and weather.city


def test_chat_bedrock_invoke_and_stream_on_claude(emulator, connection):
    llm = ChatBedrock(model_id=US_HAIKU, model_kwargs={"max_tokens": 200}, **connection)
    reply = llm.invoke("Describe Mars in a sentence.")
    assert reply.content and reply.usage_metadata["input_tokens"] > 0
    streamed = "".join(chunk.content for chunk in llm.stream("Describe Mars in a sentence."))
    assert streamed
    assert emulator.counters()["operations"] == {"InvokeModel": 1, "InvokeModelWithResponseStream": 1}


def test_chat_bedrock_with_nova_goes_through_converse(emulator, connection):
    llm = ChatBedrock(model_id="us.amazon.nova-pro-v1:0", **connection)
    assert llm.invoke("Hello").content
    assert list(llm.stream("Hello"))
    assert emulator.counters()["operations"] == {"Converse": 1, "ConverseStream": 1}


def test_retired_model_fails_in_langchain_as_on_bedrock(connection):
    llm = ChatBedrockConverse(model="anthropic.claude-v2", **connection)
    with pytest.raises(Exception, match="reached the end of its life"):
        llm.invoke("Hello")
