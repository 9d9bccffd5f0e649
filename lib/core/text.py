"""Untrusted text in and out: notes as users give them, model output as the page shows it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from lib.core.errors import InputRejected

MAX_NOTE_CHARS = 400_000  # ~100k tokens; a longer paste is almost certainly a mistake
_IMAGE = re.compile(r"!\[")


def decode_upload(data: bytes, name: str = "file") -> str:
    """Bytes of an uploaded text file as str; a clear error when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputRejected(
            f"{name} is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}).",
            "Save it as UTF-8 (most editors offer this under 'Save as' / 'Encoding') and upload it again.",
        ) from exc


def clean_note(text: str | None) -> str:
    """A note ready to send: stripped, non-empty, of a sane size. Raises InputRejected otherwise."""
    note = (text or "").replace("\r\n", "\n").strip()
    if not note:
        raise InputRejected("The note is empty.", "Paste a note or load a sample first.")
    if "\x00" in note:
        raise InputRejected("The note contains binary data.", "Paste plain text.")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate (e.g. "\\ud800" from a JSON file): not text
        raise InputRejected(f"The note holds an invalid character at position {exc.start}.",
                            "Remove it, or save the file again as UTF-8.") from exc
    if len(note) > MAX_NOTE_CHARS:
        raise InputRejected(
            f"The note is {len(note):,} characters long; the limit is {MAX_NOTE_CHARS:,}.",
            "Split it into several notes.",
        )
    return note


_LINK = re.compile(r"\]\(\s*(?P<target>[^)\s]*)")
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]!|~#>$])")  # what makes links, images, emphasis, code, math
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|above|previous)\b"
    r"|\b(system prompt|you are now|act as|new instructions)\b"
    r"|\b(mark|set|change|move)\s+(all|every)\b.{0,40}\b(deals?|contacts?|records?|stages?|amounts?)\b",
    re.IGNORECASE)


def safe_markdown(text: str) -> str:
    """Untrusted text (model output, notes, CRM values) made safe for st.markdown: no raw HTML, no
    images (remote or not), and links only to http(s) and mailto (any other target is shown, not linked)."""
    text = _IMAGE.sub(r"!\\[", text.replace("<", "&lt;"))
    return _LINK.sub(lambda m: m.group(0) if m["target"].lower().startswith(_SAFE_SCHEMES) or not m["target"]
                     else "]\\(" + m["target"], text)


def safe_inline(text: object) -> str:
    """One untrusted value shown literally where Streamlit reads Markdown (labels, headers, captions):
    every Markdown character escaped, HTML neutralised, on one line."""
    flat = " ".join(str(text if text is not None else "").split())
    return _INLINE_SPECIAL.sub(r"\\\1", flat).replace("<", "&lt;")


def reads_like_instruction(text: str | None) -> bool:
    """Text that talks to the model ("ignore previous instructions", "mark all deals…") rather than
    about the customer: flagged in the review grid, and never pre-accepted."""
    return bool(text) and _INSTRUCTION.search(text) is not None


def safe_markdown_chunks(chunks: Iterable[str]) -> Iterator[str]:
    """`safe_markdown` applied to a stream, holding back a trailing '!' until the next chunk."""
    pending = ""
    for chunk in chunks:
        text = pending + chunk
        pending = "!" if text.endswith("!") else ""
        if pending:
            text = text[:-1]
        if text:
            yield safe_markdown(text)
    if pending:
        yield pending


_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def looks_like_email(value: str) -> bool:
    """A plausible single address (local@domain.tld); the review grid flags anything else."""
    return bool(_EMAIL.match(value.strip())) and ".." not in value
