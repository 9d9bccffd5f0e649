"""What the real API refuses, per model family, driven through the official SDK (issue 13).

Each test expects the real API's status, error type and message; where the message is quoted from the
real API the test checks it whole. The source of each fact is in lib/sandbox/catalogue.py (SOURCES) and
next to the check in lib/sandbox/validation.py.
"""

from __future__ import annotations

import base64

import anthropic
import pytest

from lib.sandbox import catalogue

pytestmark = pytest.mark.sandbox

HI = {"role": "user", "content": "Say hello to the team."}
PREFILL = [HI, {"role": "assistant", "content": "Hello"}]
PREFILL_MESSAGE = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)
OLD_VERSION = {"anthropic-version": "2023-06-01"}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()


def _refused(call, message: str | None = None, contains: str | None = None) -> anthropic.BadRequestError:
    with pytest.raises(anthropic.BadRequestError) as info:
        call()
    err = info.value
    assert err.status_code == 400
    assert err.body["type"] == "error"
    assert err.body["error"]["type"] == "invalid_request_error"
    if message is not None:
        assert err.body["error"]["message"] == message
    if contains is not None:
        assert contains in err.body["error"]["message"]
    return err


# -- 1. assistant prefill ----------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "claude-opus-4-6", "claude-opus-4-7", "claude-opus-4-8",
                                   "claude-sonnet-5", "claude-fable-5", "claude-opus-5-5", "claude-sonnet-5-5"])
def test_prefill_is_refused_on_4_6_and_newer(sandbox_client, model):
    _refused(lambda: sandbox_client.messages.create(model=model, max_tokens=50, messages=PREFILL), PREFILL_MESSAGE)


def test_prefill_is_refused_when_streaming_too(sandbox_client):
    def go():
        with sandbox_client.messages.stream(model="claude-sonnet-4-6", max_tokens=50, messages=PREFILL) as s:
            s.get_final_message()
    _refused(go, PREFILL_MESSAGE)


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5"])
def test_prefill_still_works_on_the_4_5_models(sandbox_client, model):
    reply = sandbox_client.messages.create(model=model, max_tokens=50, messages=PREFILL)
    assert reply.stop_reason in ("end_turn", "max_tokens")


# -- 2. max_tokens caps from the model pages ------------------------------------------------------------------

def test_sonnet_4_6_takes_128k_output_tokens(sandbox_client):
    with sandbox_client.messages.stream(model="claude-sonnet-4-6", max_tokens=128_000, messages=[HI]) as s:
        assert s.get_final_message().stop_reason == "end_turn"
    info = sandbox_client.models.retrieve("claude-sonnet-4-6")
    assert (info.max_input_tokens, info.max_tokens) == (1_000_000, 128_000)


def test_above_the_cap_is_refused_with_the_real_wording(sandbox_client):
    _refused(lambda: sandbox_client.messages.create(model="claude-sonnet-4-6", max_tokens=128_001, messages=[HI],
                                                    timeout=30),
             "max_tokens: 128001 > 128000, which is the maximum allowed number of output tokens for claude-sonnet-4-6")


def test_every_catalogue_row_names_its_sources():
    for spec in catalogue.MODELS:
        assert spec.source, spec.id
        for key in spec.source.split(","):
            assert key.split(" ")[0] in catalogue.SOURCES, (spec.id, key)


# -- 3. thinking type enabled on the adaptive-only models -------------------------------------------------------

@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-opus-4-8"])
def test_manual_thinking_is_refused_on_opus_4_7_and_4_8(sandbox_client, model):
    _refused(lambda: sandbox_client.messages.create(
        model=model, max_tokens=4000, messages=[HI], thinking={"type": "enabled", "budget_tokens": 2000}),
        '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
        '"output_config.effort" to control thinking behavior.')


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-opus-4-8"])
def test_adaptive_thinking_with_effort_works_there(sandbox_client, model):
    reply = sandbox_client.messages.create(model=model, max_tokens=4000, messages=[HI],
                                           thinking={"type": "adaptive"}, output_config={"effort": "high"})
    assert [b.type for b in reply.content] == ["thinking", "text"]
    info = sandbox_client.models.retrieve(model)
    assert info.capabilities.thinking.types.enabled.supported is False


@pytest.mark.filterwarnings("ignore:Using Claude with claude-opus-4-6 and 'thinking.type=enabled':UserWarning")
def test_manual_thinking_still_works_on_opus_4_6(sandbox_client):
    reply = sandbox_client.messages.create(model="claude-opus-4-6", max_tokens=4000, messages=[HI],
                                           thinking={"type": "enabled", "budget_tokens": 2000})
    assert reply.content[0].type == "thinking"


# -- 4. structured-output schemas --------------------------------------------------------------------------------

OPEN = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@pytest.mark.parametrize("schema", [
    OPEN,
    {"type": "object", "additionalProperties": True, "properties": {"n": {"type": "integer"}}},
    {"type": "object", "additionalProperties": False, "properties": {"people": {"type": "array", "items": OPEN}},
     "required": ["people"]},
    {"type": "object", "additionalProperties": False, "properties": {"p": {"$ref": "#/$defs/P"}},
     "$defs": {"P": OPEN}},
])
def test_schema_with_an_open_object_is_refused(sandbox_client, schema):
    _refused(lambda: sandbox_client.messages.create(
        model="claude-haiku-4-5", max_tokens=200, messages=[HI],
        output_config={"format": {"type": "json_schema", "schema": schema}}),
        "output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly set to false")


def test_count_tokens_refuses_the_same_schema(sandbox_client):
    _refused(lambda: sandbox_client.messages.count_tokens(
        model="claude-haiku-4-5", messages=[HI], output_config={"format": {"type": "json_schema", "schema": OPEN}}),
        contains="'additionalProperties' must be explicitly set to false")


BOUNDED = {
    "type": "object", "additionalProperties": False,
    "required": ["seats", "score", "ratio", "stage", "code", "tags", "label", "when"],
    "properties": {
        "seats": {"type": "integer", "minimum": 3, "maximum": 9},
        "score": {"type": "integer", "exclusiveMinimum": 10},
        "ratio": {"type": "number", "minimum": 0.5, "maximum": 0.75},
        "stage": {"enum": ["won", "lost"]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 4}, "minItems": 2, "maxItems": 3},
        "label": {"type": "string", "minLength": 12, "maxLength": 20},
        "when": {"type": "string", "format": "date"},
    },
}
DECODABLE = {  # what constrained decoding supports: enum, pattern, format, minItems 0/1
    "type": "object", "additionalProperties": False, "required": ["stage", "code", "when", "tags"],
    "properties": {
        "stage": {"enum": ["won", "lost"]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        "when": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
}
TEXTS = ["Hi", "We need 40 seats at a 0.9 ratio, code abc, stage open, label x."]


def _validate(value, schema):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(value)


@pytest.mark.parametrize(("keyword", "schema", "message"), [
    ("minimum", {"type": "integer", "minimum": 3}, "For 'integer' type, property 'minimum' is not supported"),
    ("maxLength", {"type": "string", "maxLength": 5}, "For 'string' type, property 'maxLength' is not supported"),
    ("minItems", {"type": "array", "items": {"type": "string"}, "minItems": 2},
     "For 'array' type, 'minItems' values other than 0 or 1 are not supported"),
])
def test_schema_keywords_constrained_decoding_cannot_follow_are_refused(sandbox_client, keyword, schema, message):
    wrapped = {"type": "object", "additionalProperties": False, "properties": {"x": schema}, "required": ["x"]}
    _refused(lambda: sandbox_client.messages.create(
        model="claude-haiku-4-5", max_tokens=200, messages=[HI],
        output_config={"format": {"type": "json_schema", "schema": wrapped}}),
        f"output_config.format.schema: {message}")


def test_a_strict_tool_follows_the_same_schema_rules(sandbox_client):
    tool = {"name": "count", "description": "Count seats.", "strict": True,
            "input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}
    _refused(lambda: sandbox_client.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=[HI],
                                                    tools=[tool]),
             "tools.0.input_schema: For 'object' type, 'additionalProperties' must be explicitly set to false")


@pytest.mark.parametrize("text", TEXTS)
def test_the_filled_object_satisfies_what_its_schema_can_say(sandbox_client, text):
    reply = sandbox_client.messages.create(
        model="claude-haiku-4-5", max_tokens=500, messages=[{"role": "user", "content": text}],
        output_config={"format": {"type": "json_schema", "schema": DECODABLE}})
    import json

    _validate(json.loads(reply.content[0].text), DECODABLE)


@pytest.mark.parametrize("text", TEXTS)
def test_a_tool_input_satisfies_the_bounds_of_its_schema(sandbox_client, text):
    tool = {"name": "record", "description": "Record the deal.", "input_schema": BOUNDED}  # not strict: accepted
    reply = sandbox_client.messages.create(
        model="claude-haiku-4-5", max_tokens=500, messages=[{"role": "user", "content": text}],
        tools=[tool], tool_choice={"type": "tool", "name": "record"})
    (call,) = [b for b in reply.content if b.type == "tool_use"]
    _validate(call.input, BOUNDED)


# -- 5. unknown fields, sampling, max_tokens 0, images --------------------------------------------------------------

@pytest.mark.parametrize("field", ["temprature", "foo", "response_format"])
def test_unknown_top_level_field_is_refused(sandbox_client, field):
    _refused(lambda: sandbox_client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[HI],
                                                    extra_body={field: 1}),
             f"{field}: Extra inputs are not permitted")


def test_unknown_field_is_refused_by_count_tokens_too(sandbox_client):
    _refused(lambda: sandbox_client.messages.count_tokens(model="claude-haiku-4-5", messages=[HI],
                                                          extra_body={"max_tokens": 5}),
             "max_tokens: Extra inputs are not permitted")


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-6"])
def test_temperature_and_top_p_together_are_refused(sandbox_client, model):
    _refused(lambda: sandbox_client.messages.create(model=model, max_tokens=50, messages=[HI],
                                                    extra_headers=OLD_VERSION,
                                                    extra_body={"temperature": 0.2, "top_p": 0.9}),
             "`temperature` and `top_p` cannot both be specified for this model. Please use only one.")


def test_temperature_alone_is_fine_on_the_old_version(sandbox_client):
    reply = sandbox_client.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=[HI],
                                           extra_headers=OLD_VERSION, extra_body={"temperature": 0.2})
    assert reply.content


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-opus-4-8", "claude-fable-5"])
def test_sampling_parameters_are_gone_on_opus_4_7_and_newer(sandbox_client, model):
    _refused(lambda: sandbox_client.messages.create(model=model, max_tokens=50, messages=[HI],
                                                    extra_headers=OLD_VERSION, extra_body={"temperature": 0.2}),
             "`temperature` is deprecated for this model.")


def test_sampling_parameters_are_refused_everywhere_on_2026_10_21(sandbox_client):
    _refused(lambda: sandbox_client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[HI],
                                                    extra_body={"top_p": 0.5}),
             contains="top_p: Extra inputs are not permitted")


def test_max_tokens_zero_prewarms_the_cache_and_generates_nothing(sandbox_client):
    reply = sandbox_client.messages.create(model="claude-haiku-4-5", max_tokens=0, messages=[HI])
    assert reply.content == [] and reply.usage.output_tokens == 0


@pytest.mark.parametrize("extra", [
    {"stream": True},
    {"thinking": {"type": "adaptive"}},
    {"output_config": {"format": {"type": "json_schema", "schema": {
        "type": "object", "additionalProperties": False, "properties": {}}}}},
])
def test_max_tokens_zero_does_not_combine(sandbox_client, extra):
    _refused(lambda: sandbox_client.post("/v1/messages", cast_to=object, body={
        "model": "claude-haiku-4-5", "max_tokens": 0, "messages": [HI], **extra}),
        contains="max_tokens: 0")


def _image(data: str, media_type: str = "image/png") -> dict:
    return {"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}},
        {"type": "text", "text": "What is in this picture?"}]}


@pytest.mark.parametrize("data", ["not base64 at all!", "aGVsbG8gd29ybGQ=", base64.b64encode(b"GIF89a....").decode()])
def test_invalid_image_data_is_refused(sandbox_client, data):
    _refused(lambda: sandbox_client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[_image(data)]),
             "messages.0.content.0.image.source.base64.data: Image does not match the provided media type image/png")


def test_unknown_image_media_type_is_refused(sandbox_client):
    _refused(lambda: sandbox_client.post("/v1/messages", cast_to=object, body={
        "model": "claude-haiku-4-5", "max_tokens": 50, "messages": [_image(PNG, "image/bmp")]}),
        "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
        "'image/gif' or 'image/webp'")


def test_a_real_png_is_accepted(sandbox_client):
    reply = sandbox_client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[_image(PNG)])
    assert reply.content


@pytest.mark.parametrize("extra", [
    {"metadata": {"user_id": "u-1"}},
    {"service_tier": "auto"},
    {"inference_geo": "us"},
    {"diagnostics": {"previous_message_id": None}},
    {"cache_control": {"type": "ephemeral"}},
    {"stop_sequences": ["END"]},
    {"output_config": {"effort": "low"}},
])
def test_the_sdk_s_own_fields_are_not_refused(sandbox_client, extra):
    reply = sandbox_client.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=[HI], **extra)
    assert reply.content
