"""Untrusted text: notes in, model output out."""

import pytest

from lib.core.errors import InputRejected
from lib.core.text import MAX_NOTE_CHARS, clean_note, decode_upload, safe_markdown, safe_markdown_chunks


@pytest.mark.parametrize("note", ["", "   \n\t ", None])
def test_empty_note_is_rejected(note):
    with pytest.raises(InputRejected, match="empty"):
        clean_note(note)


def test_huge_note_is_rejected_with_sizes():
    with pytest.raises(InputRejected, match="400,000"):
        clean_note("x" * (MAX_NOTE_CHARS + 1))


def test_note_is_stripped_and_newlines_normalised():
    assert clean_note("  a\r\nb  ") == "a\nb"


def test_non_utf8_upload_names_the_byte():
    with pytest.raises(InputRejected, match="not UTF-8.*0xe9"):
        decode_upload("café".encode("latin-1"), "notes.txt")
    assert decode_upload("\ufeffcafé".encode()) == "café"


def test_html_and_images_are_neutralised():
    out = safe_markdown('Hi <script>alert(1)</script> ![x](https://evil.example/p.png) **ok**')
    assert "<script>" not in out and "&lt;script>" in out
    assert "![" not in out and "**ok**" in out


def test_streamed_image_syntax_split_across_chunks_is_neutralised():
    chunks = ["look !", "[pic](http://e.x/a.png) and <b>", "bold</b>!"]
    joined = "".join(safe_markdown_chunks(chunks))
    assert "![" not in joined and "<b>" not in joined
    assert joined.endswith("!")
    assert joined.replace("\\", "").replace("&lt;", "<") == "".join(chunks)
