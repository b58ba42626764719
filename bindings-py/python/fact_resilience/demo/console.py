"""Live output a person can follow."""

from __future__ import annotations

from typing import TextIO


class Console:
    """Live output a person can follow: a progress bar, and the transitions as they happen."""

    def __init__(self, out: TextIO, total: int, live: bool) -> None:
        self.out, self.total, self.live = out, total, live
        self.drawn = False

    def transition(self, t: float, line: str) -> None:
        self.clear()
        self.out.write(f"  {t:6.2f}s  {line}\n")
        self.out.flush()

    def progress(self, done: int, state: str, phase: str) -> None:
        if not self.live:
            return
        width = 30
        filled = width * done // max(self.total, 1)
        self.out.write(
            f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:>5}/{self.total}"
            f"  circuit {state:<9}  cache {phase:<8}"
        )
        self.out.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.out.write("\r" + " " * 78 + "\r")
            self.drawn = False
