"""Against the real Claude API: opt-in only (SCRIBE_LIVE=1 and ANTHROPIC_API_KEY set), never in CI.

The same gateway calls the sandbox tests make, to catch a drift between the simulator and the API.
"""

import os

import pytest

from lib.claude import prompts
from lib.claude.gateway import Gateway
from lib.usage.log import UsageLog
from lib.work.schemas import Extraction

# read before the autouse fixture clears the environment for hermetic tests
KEY = os.environ.get("ANTHROPIC_API_KEY")
ENABLED = os.environ.get("SCRIBE_LIVE") == "1" and bool(KEY)
pytestmark = pytest.mark.skipif(not ENABLED, reason="live API tests need SCRIBE_LIVE=1 and ANTHROPIC_API_KEY")

MODEL = os.environ.get("SCRIBE_MODEL_SUMMARIZE", "claude-sonnet-4-6")
NOTE = "Date: 2026-11-19\nMet John Smith (VP Operations, Acme Corp.). He wants a proposal for $48,000 by Friday."


@pytest.fixture
def live(db):
    return Gateway(UsageLog(db), api_key=KEY, base_url=None, backend="anthropic", max_retries=2)


def test_a_streamed_summary_is_logged_with_cost_and_cache_write(live):
    stream = live.stream_text(feature="summarize", user="live-test", model=MODEL, max_tokens=300,
                              system=prompts.summarize_system("short"), messages=prompts.note_message(NOTE))
    text = "".join(stream)
    record = stream.result.record
    assert text and record.status == "ok" and record.output_tokens > 0 and record.cost_usd > 0
    assert record.cache_creation_input_tokens + record.cache_read_input_tokens > 0  # the house guide is cached
    assert record.rl_requests_limit is not None


def test_structured_extraction_validates(live):
    parsed, result = live.parse(feature="extract", user="live-test", model=MODEL, max_tokens=1500,
                                output_format=Extraction, system=prompts.extract_system("2026-11-19"),
                                messages=prompts.note_message(NOTE))
    assert any("Smith" in p.name for p in parsed.people) and result.cost_usd > 0
