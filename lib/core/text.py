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
    if len(note) > MAX_NOTE_CHARS:
        raise InputRejected(
            f"The note is {len(note):,} characters long; the limit is {MAX_NOTE_CHARS:,}.",
            "Split it into several notes.",
        )
    return note


def safe_markdown(text: str) -> str:
    """Model output made safe for st.markdown: no raw HTML, no images (remote or not)."""
    return _IMAGE.sub(r"!\\[", text.replace("<", "&lt;"))


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
