"""An error shown in a message keeps its cause: the first line only, and a long one keeps both ends."""

from lib.usage.log import first_line


def test_only_the_first_line_of_a_multi_line_error_is_kept():
    assert first_line(RuntimeError("Failed to commit\nstack frame 1\nstack frame 2")) == "Failed to commit"


def test_a_long_line_keeps_the_cause_named_after_a_long_path():
    path = "/tmp/" + "deep/" * 60 + "scribe.duckdb.wal"
    text = first_line(OSError(f'Failed to commit: Could not write file "{path}": No space left on device'))
    assert len(text) <= 160
    assert text.startswith("Failed to commit") and text.endswith("No space left on device")


def test_a_short_line_is_left_whole():
    assert first_line(ValueError("bad value")) == "bad value"
