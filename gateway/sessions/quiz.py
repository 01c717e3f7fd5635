"""The quiz score: the upstream's structured `score`, else its `Puntuación: X/N (P%)` line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_LINE = re.compile(r"Puntuaci[oó]n\s*:\s*\**\s*(\d{1,6})\s*/\s*(\d{1,6})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Score:
    correct: int
    total: int

    @property
    def percentage(self) -> float:
        return round(self.correct * 100 / self.total, 2)

    @classmethod
    def checked(cls, correct: int, total: int) -> Score | None:
        return cls(correct, total) if 0 <= correct <= total and total > 0 else None


def from_structured(score: Any) -> Score | None:
    if not isinstance(score, dict):
        return None
    correct, total = score.get("correct"), score.get("total")
    if type(correct) is not int or type(total) is not int:  # bool is not a score
        return None
    return Score.checked(correct, total)


def from_text(text: str | None) -> Score | None:
    """The last score line wins: feedback may quote earlier partial scores."""
    if not text:
        return None
    matches = _LINE.findall(text)
    if not matches:
        return None
    correct, total = matches[-1]
    return Score.checked(int(correct), int(total))


def final_score(structured: Any, text: str | None) -> Score | None:
    return from_structured(structured) or from_text(text)
