"""Summaries of call notes: check the note, then stream the summary through the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lib.claude import prompts
from lib.core.errors import InputRejected
from lib.core.models import model_table
from lib.core.text import clean_note

if TYPE_CHECKING:  # the page imports this module before the SDK is loaded: its first elements are drawn sooner
    from lib.claude.gateway import Gateway, TextStream

NOTES_DIR = Path(__file__).resolve().parents[2] / "data" / "notes"
MAX_TOKENS = {"short": 400, "medium": 800, "detailed": 1500}


def sample_notes() -> dict[str, str]:
    """The sample notes shipped in data/notes, by file name."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(NOTES_DIR.glob("*.txt"))}


def check_fits(gateway: Gateway, model: str, system: list, messages: list) -> int:
    """Count the prompt's tokens; refuse a prompt the model's context window cannot hold."""
    tokens = gateway.count_tokens(model=model, system=system, messages=messages)
    # the Models API's answer, else the model table's (a proxy that does not serve /v1/models, say)
    window = gateway.model_info(model).get("max_input_tokens") or model_table().context_window(model)
    if window and tokens > window:
        raise InputRejected(
            f"The note is too long for {model}: {tokens:,} tokens, the model takes {window:,}.",
            "Split the note, or pick a model with a larger context window.",
        )
    return tokens


def start_summary(gateway: Gateway, note: str, *, length: str, model: str, user: str) -> TextStream:
    """Validate the note and open a streamed summary. Nothing is sent for a bad note."""
    if length not in prompts.SUMMARY_LENGTHS:
        raise InputRejected(f"Unknown summary length {length!r}.")
    note = clean_note(note)
    system = prompts.summarize_system(length)
    messages = prompts.note_message(note)
    check_fits(gateway, model, system, messages)
    return gateway.stream_text(feature="summarize", user=user, model=model, max_tokens=MAX_TOKENS[length],
                               system=system, messages=messages)
