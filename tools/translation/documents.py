"""Translated Markdown documents (``README.zh.md``, ``docs/zh/*.md``) and the English sections they translate.

A translated document marks each part that translates a section of an English document with a line

    <!-- translates README.md "## Two commands" 9c41d07be2a3 -->

naming the English file (from the repository's root), the section's heading line exactly as written,
and the fingerprint of that section when it was translated. A **section** is its heading line and
every line up to the next heading of any level (outside fenced code), without the blank lines at
its ends. When the English section changes, the marker is *stale* until a translator updates the
Chinese and runs ``tools/translate.py accept README.zh.md``. Text without a marker (a note for
Chinese readers only) is not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .catalogue import fingerprint

MARKER = re.compile(r'^<!-- translates (?P<path>\S+) "(?P<heading>[^"\n]+)" (?P<fingerprint>[0-9a-f]{12}) -->$',
                    re.M)
HEADING_LINE = re.compile(r"^#{1,6}[ \t]")


@dataclass(frozen=True)
class SectionMarker:
    line: int  # 1-based, in the translated document
    english_path: str
    heading: str
    fingerprint: str


def section(text: str, heading: str) -> str | None:
    """The section of ``text`` that starts with the line ``heading`` (see the module doc), or None."""
    lines = text.split("\n")
    in_fence, start = False, None
    for number, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence or not HEADING_LINE.match(line):
            continue
        if start is not None:
            return "\n".join(lines[start:number]).strip("\n")
        if line.rstrip() == heading:
            start = number
    return None if start is None else "\n".join(lines[start:]).strip("\n")


def markers(text: str) -> list[SectionMarker]:
    return [SectionMarker(text.count("\n", 0, m.start()) + 1, m["path"], m["heading"], m["fingerprint"])
            for m in MARKER.finditer(text)]


def marker_state(marker: SectionMarker, root: Path) -> str:
    """``"fresh"``, ``"stale"``, ``"no such file"`` or ``"no such section"``."""
    path = root / marker.english_path
    if not path.is_file():
        return "no such file"
    english = section(path.read_text(encoding="utf-8"), marker.heading)
    if english is None:
        return "no such section"
    return "fresh" if fingerprint(english) == marker.fingerprint else "stale"


def accept(text: str, root: Path) -> tuple[str, list[SectionMarker]]:
    """``text`` with every stale marker given the English section's fingerprint now, and those markers."""
    changed = []

    def one(match: re.Match) -> str:
        marker = SectionMarker(0, match["path"], match["heading"], match["fingerprint"])
        if marker_state(marker, root) != "stale":
            return match.group(0)
        changed.append(marker)
        english = section((root / marker.english_path).read_text(encoding="utf-8"), marker.heading)
        return f'<!-- translates {marker.english_path} "{marker.heading}" {fingerprint(english)} -->'

    return MARKER.sub(one, text), changed
