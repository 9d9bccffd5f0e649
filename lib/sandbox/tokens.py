"""The one token counter: prompt parts and output text are measured here and nowhere else.

Prompt side: a part's rendering (canonical JSON or plain text) costs ceil(utf-8 bytes / 4) tokens, at least 1.
Output side: text is split into tokens by OUTPUT_TOKEN_RE; the pieces concatenate back to the text exactly,
so output_tokens is always the number of pieces sent.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# A token is optional leading whitespace plus up to 8 word characters, or up to 2 other symbols;
# a run of whitespace at the very end is a token of its own. About 4-5 characters per token in English.
OUTPUT_TOKEN_RE = re.compile(r"\s*(?:\w{1,8}|[^\w\s]{1,2})|\s+")


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no spaces, unicode kept (the same value always renders the same)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def count_rendering(rendering: str) -> int:
    """Tokens for one rendered prompt part: ceil(utf-8 bytes / 4), at least 1."""
    return max(1, math.ceil(len(rendering.encode("utf-8")) / 4))


def split_output(text: str) -> list[str]:
    """Split generated text into output tokens; "".join(result) == text."""
    return OUTPUT_TOKEN_RE.findall(text)


def count_output(text: str) -> int:
    """Number of output tokens in `text`."""
    return len(split_output(text))
