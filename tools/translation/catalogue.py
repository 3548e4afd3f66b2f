"""The translation catalogue: one Markdown file per English notebook, e.g. ``i18n/zh/01_forward_pass.md``.

The file lists the notebook's Markdown cells in order. Each entry is a marker line naming the cell
and the fingerprint of the English text it was translated from, the English text itself (in an HTML
comment, so the file renders as the Chinese text alone), then the translation::

    <!-- cell 7ae698dc · translated from English 5f0c2d9e41a7 -->
    <!-- English:
    ## Setup

    The layers live in the small library `cnn_lib`; ...
    -->
    ## 准备工作

    网络的各层都在小型库 `cnn_lib` 中; ...

A cell nobody has translated yet reads ``<!-- cell 7ae698dc · not translated yet -->`` and has no
text under its English. The **fingerprint** is the first 12 hexadecimal digits of the SHA-256 of
the English cell's source (UTF-8). A translation is *fresh* when its fingerprint is the English
cell's fingerprint now; when the English cell changes, its fingerprint changes and the translation
is *stale* until a translator updates the Chinese and runs ``tools/translate.py accept``, which
records the new English and its fingerprint. The English kept in the file is the text the
translation was made from, so ``tools/translate.py status`` can show what changed since.

The files are written by ``tools/translate.py update`` (new cells, in the notebook's order) and
``accept`` (new fingerprints); translators edit only the text under each English comment.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

FINGERPRINT_DIGITS = 12
MARKER = re.compile(r"^<!-- cell (?P<id>\S+) · (?:translated from English (?P<fingerprint>[0-9a-f]{12})"
                    r"|(?P<untranslated>not translated yet)) -->$")
ENGLISH_START = "<!-- English:"
ENGLISH_END = "-->"
HEADER = """<!-- Translation catalogue of {english} into {language}: the generator (python3 tasks.py zh)
     builds {target} from that notebook and this file. Translate the text under each cell's English;
     keep the maths, the code and the link targets as they are. Workflow and terms: docs/translating.md. -->
"""


class CatalogueError(Exception):
    """A catalogue file that cannot be read: the message names the file, the line and what to do."""


def fingerprint(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of ``text`` (UTF-8): changes whenever the text does."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:FINGERPRINT_DIGITS]


@dataclass(frozen=True)
class Entry:
    """One cell's translation.

    ``english`` is the English text the entry was made from; ``translated_from`` the fingerprint the
    translation was accepted for (``None``: not translated yet); ``translation`` the Chinese text.
    """
    cell_id: str
    english: str
    translation: str = ""
    translated_from: str | None = None

    def state(self, english_now: str) -> str:
        """``"fresh"``, ``"stale"`` (the English changed since) or ``"missing"`` (no translation yet)."""
        if self.translated_from is None or not self.translation.strip():
            return "missing"
        return "fresh" if self.translated_from == fingerprint(english_now) else "stale"

    def consistent(self) -> bool:
        """Whether the recorded fingerprint is that of the recorded English (false: the file was hand-edited)."""
        return self.translated_from is None or self.translated_from == fingerprint(self.english)

    def accepted(self, english_now: str) -> Entry:
        """This translation, declared to translate ``english_now``."""
        return replace(self, english=english_now, translated_from=fingerprint(english_now))


def parse(text: str, name: str) -> dict[str, Entry]:
    """The entries of a catalogue file's ``text``, by cell id, in the file's order."""
    lines = text.split("\n")
    entries: dict[str, Entry] = {}
    starts = [k for k, line in enumerate(lines) if line.startswith("<!-- cell ")]
    preamble = "\n".join(lines[:starts[0]] if starts else lines)
    if re.sub(r"<!--.*?-->", "", preamble, flags=re.S).strip():
        raise CatalogueError(f"{name}: text before the first cell marker; translations go under a "
                             "'<!-- cell ... -->' line (python3 tools/translate.py update writes them)")
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(lines)
        entry = _entry(lines, start, end, name)
        if entry.cell_id in entries:
            raise CatalogueError(f"{name}, line {start + 1}: cell {entry.cell_id} appears twice; keep one")
        entries[entry.cell_id] = entry
    return entries


def _entry(lines: list[str], start: int, end: int, name: str) -> Entry:
    marker = MARKER.match(lines[start])
    if not marker:
        raise CatalogueError(f"{name}, line {start + 1}: a cell marker must read '<!-- cell ID · translated "
                             f"from English FINGERPRINT -->' or '<!-- cell ID · not translated yet -->', "
                             f"not {lines[start]!r}")
    if start + 1 >= end or lines[start + 1] != ENGLISH_START:
        raise CatalogueError(f"{name}, line {start + 2}: expected {ENGLISH_START!r} after the marker of "
                             f"cell {marker['id']}")
    try:
        close = lines.index(ENGLISH_END, start + 2, end)
    except ValueError:
        raise CatalogueError(f"{name}, line {start + 2}: the English of cell {marker['id']} is not closed "
                             f"by a line {ENGLISH_END!r}") from None
    return Entry(cell_id=marker["id"], english="\n".join(lines[start + 2:close]),
                 translation="\n".join(lines[close + 1:end]).strip("\n"),
                 translated_from=marker["fingerprint"])


def format_catalogue(entries: list[Entry], english: str, target: str, language: str) -> str:
    """The text of a catalogue file holding ``entries`` in this order (``parse`` reads it back)."""
    blocks = [HEADER.format(english=english, target=target, language=language)]
    for entry in entries:
        for kind, text in (("English", entry.english), ("translation", entry.translation)):
            clash = [line for line in text.split("\n") if line == ENGLISH_END or line.startswith("<!-- cell ")]
            if clash:
                raise CatalogueError(f"cell {entry.cell_id}: its {kind} has a line {clash[0]!r}, which the "
                                     "catalogue format reserves; reword or indent that line")
        state = (f"translated from English {entry.translated_from}" if entry.translated_from
                 else "not translated yet")
        block = f"<!-- cell {entry.cell_id} · {state} -->\n{ENGLISH_START}\n{entry.english}\n{ENGLISH_END}\n"
        if entry.translation:
            block += f"{entry.translation}\n"
        blocks.append(block)
    return "\n".join(blocks)
