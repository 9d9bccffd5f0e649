"""A small disk to fill: a tmpfs mounted for a test or a bench (root only), and filling it up."""

import shutil
import subprocess
from pathlib import Path


def mount_tmpfs(folder: Path, size: str = "24m") -> str | None:
    """Mount a tmpfs of `size` on `folder`; None when mounted, else why it could not be."""
    if not shutil.which("mount"):
        return "no mount command"
    tried = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True,
                           text=True)
    return None if tried.returncode == 0 else (tried.stderr.strip() or f"mount exited {tried.returncode}")


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(disk: Path) -> Path:
    """Write zeros to `disk` until it is full; returns the file, to unlink when the disk should have room again."""
    filler = disk / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 20))
        except OSError:
            pass
    return filler
