"""Call notes made up in bulk, for runs long enough to be stopped halfway (CLI signal, disk and bench runs)."""

from pathlib import Path

FIRST = ["Maria", "John", "Priya", "Tom", "Linda", "Omar", "Grace", "Wei", "Nora", "Diego"]
LAST = ["Lopez", "Smith", "Patel", "Baker", "Park", "Haddad", "Kim", "Chen", "Kowalski", "Rossi"]


def note(n: int) -> str:
    first, last = FIRST[n % 10], LAST[(n // 10) % 10]
    return (f"Call with {first} {last} ({first.lower()}.{last.lower()}@acme{n}.com), VP Sales at Acme {n} Ltd. "
            f"Stage: qualified. Budget $10,000. Next step: demo next week.")


def write_notes_csv(path: Path, count: int) -> Path:
    """A CSV with a note column and `count` notes, each naming one person."""
    path.write_text("note\n" + "".join(f'"{note(n)}"\n' for n in range(count)), encoding="utf-8")
    return path
