"""Syntax status of generated code. Python is parsed with `ast` (never compiled to run, never run);
other languages are shown highlighted without a check."""

from __future__ import annotations

import ast
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class SyntaxReport:
    language: str
    checked: bool  # False for languages without a checker
    ok: Optional[bool] = None  # None when not checked
    line: Optional[int] = None  # 1-based line of the first error
    column: Optional[int] = None  # 1-based column of the first error
    message: str = ""

    def describe(self) -> str:
        if not self.checked:
            return f"{self.language}: {self.message or 'not checked'}"
        if self.ok:
            return f"{self.language}: syntax OK"
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{self.language}: syntax error at {where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SyntaxReport":
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)


def check_syntax(code: str, language: str) -> SyntaxReport:
    if not code.strip():
        return SyntaxReport(language, checked=False, message="no code")
    if language != "python":
        return SyntaxReport(language, checked=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # e.g. invalid escapes: not errors
            ast.parse(code)
    except SyntaxError as exc:
        return SyntaxReport(language, True, False, exc.lineno, exc.offset, exc.msg)
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return SyntaxReport(language, True, False, None, None, str(exc) or type(exc).__name__)
    return SyntaxReport(language, True, True)
