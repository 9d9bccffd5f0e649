"""The model table (data/models.toml): one row per model, read by pricing, prompts, budgets and the CLI."""

from lib.claude import prompts
from lib.core.models import LADDER, UNKNOWN_MIN_CACHEABLE, model_table
from lib.usage import pricing


def test_every_priced_model_has_its_facts_row_and_line():
    table = model_table()
    for model in pricing.load_prices().known_models():
        facts = table.facts(model)
        assert facts is not None, model
        assert facts.line in LADDER, model


def test_documented_cache_minimums_and_the_assumption_for_the_rest():
    assert prompts.min_cacheable_tokens("claude-sonnet-4-6") == 1024
    assert prompts.min_cacheable_tokens("claude-haiku-4-5-20251001") == 4096  # an alias of the row
    assert prompts.min_cacheable_tokens("claude-3-haiku-20240307") == 2048
    assert prompts.min_cacheable_tokens("claude-opus-4-7") == UNKNOWN_MIN_CACHEABLE  # not verified: the largest


def test_context_and_output_limits_come_with_a_source():
    table = model_table()
    sonnet = table.facts("claude-sonnet-4-6")
    assert (sonnet.context_window, sonnet.max_output) == (1_000_000, 128_000) and sonnet.source
    assert table.max_output("claude-haiku-4-5") == 64_000
    assert table.context_window("claude-unknown-1") is None


def test_lines_for_the_step_down_ladder():
    table = model_table()
    assert table.line("claude-mythos-5-1") == "fable"
    assert table.line("claude-opus-4-8") == "opus"
    assert table.line("claude-opus-9") == "opus"  # newer than the table: named by its id
    assert table.line("gpt-5") is None
