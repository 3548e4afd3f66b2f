"""What a translation of a Markdown cell must keep: its maths, its code, its links, its headings.

A translator rewrites the prose and nothing else. These functions pull out of a Markdown text the
parts that must come through unchanged, so that ``check_translation`` can compare an English cell
with its translation, and ``rewrite_links`` can point a translated cell's links at the Chinese
edition. They understand the Markdown the series uses, not all of CommonMark:

- code: fenced blocks (```` ``` ````) and inline spans (`` `x` ``, ``` `` x `` ```); nothing inside code is
  maths, a link or a heading;
- maths: ``$$...$$``, ``$...$``, ``\\(...\\)``, ``\\[...\\]``, compared with runs of white space
  made one space (re-wrapping a formula's lines changes nothing) and the words of ``\\text{...}``
  left out (they are prose, and are translated);
- links: the targets of ``[text](target)``, ``![alt](target)`` and HTML ``src="..."`` / ``href="..."``,
  compared without their ``#anchor`` (it names a heading, and the translation renames the headings);
- headings: the level of every line that starts with ``#``;
- emphasis: a ``*`` or ``**`` that CommonMark cannot pair, because punctuation sits inside it and a
  letter outside (``**时长：**约`` shows its asterisks; ``**时长**：约`` is bold). English puts a
  space after the punctuation; Chinese does not, so a translation meets this where the English did not.

The check is one-sided: everything the English has must be in the translation (a formula changed is
a formula lost), and a translator may add a formula, a code span or a link in a note of their own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$]+?)(?<!\\)\$|\\\((.+?)\\\)", re.S)
# each with three groups: what comes before the target, the target, what comes after
LINK = re.compile(r"(?P<before>\]\()(?P<target>[^)\s]+)(?P<after>(?:\s+\"[^\"]*\")?\))")
HTML_LINK = re.compile(r"(?P<before>\b(?:src|href)=\")(?P<target>[^\"]+)(?P<after>\")")
HEADING = re.compile(r"^(#{1,6})[ \t]", re.M)
TEXT_IN_MATHS = re.compile(r"\\(text|textrm|mbox)\{[^{}]*\}")
EMPHASIS_RUN = re.compile(r"(?<![\\*])\*+")


@dataclass(frozen=True)
class Segment:
    """A piece of a Markdown text: ``code`` (a fenced block or an inline span) or prose."""
    text: str
    code: bool


def segments(text: str) -> list[Segment]:
    """``text`` cut into code and prose, in order; joining the pieces gives ``text`` back."""
    pieces, position = [], 0
    spans = sorted([m.span() for m in FENCE.finditer(text)])
    code_spans = []
    for start, end in spans:  # inline code only in the prose between fenced blocks
        code_spans.extend(_inline_spans(text, position, start))
        code_spans.append((start, end))
        position = end
    code_spans.extend(_inline_spans(text, position, len(text)))
    position = 0
    for start, end in code_spans:
        if start > position:
            pieces.append(Segment(text[position:start], False))
        pieces.append(Segment(text[start:end], True))
        position = end
    if position < len(text):
        pieces.append(Segment(text[position:], False))
    return pieces


def _inline_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + m.start(), start + m.end()) for m in INLINE_CODE.finditer(text[start:end])]


def prose(text: str) -> str:
    """``text`` without its code (each piece of code replaced by a space)."""
    return "".join(" " if s.code else s.text for s in segments(text))


def code(text: str) -> list[str]:
    """Every fenced block and inline code span, as written."""
    return [s.text for s in segments(text) if s.code]


def _one_space(formula: str) -> str:
    return re.sub(r"\s+", " ", TEXT_IN_MATHS.sub(r"\\\1{…}", formula)).strip()


def formulas(text: str) -> list[str]:
    """Every formula outside code, display maths first, white space normalised."""
    outside = prose(text)
    display = [_one_space(m.group(1) or m.group(2)) for m in DISPLAY_MATH.finditer(outside)]
    rest = DISPLAY_MATH.sub(" ", outside)
    inline = [_one_space(m.group(1) or m.group(2)) for m in INLINE_MATH.finditer(rest)]
    return [f"$${f}$$" for f in display] + [f"${f}$" for f in inline]


def links(text: str) -> list[str]:
    """The target of every link and image outside code, in order."""
    outside = prose(text)
    return [m.group("target") for pattern in (LINK, HTML_LINK) for m in pattern.finditer(outside)]


def link_files(text: str) -> list[str]:
    """The link targets without their ``#anchor`` (an anchor names a heading, which a translation renames)."""
    return [f for f in (target.partition("#")[0] for target in links(text)) if f]


def heading_levels(text: str) -> list[int]:
    """The level of every heading outside code (``## 3. ...`` is 2), in order."""
    return [len(m.group(1)) for m in HEADING.finditer(prose(text))]


# full-width punctuation (and the quotes, ellipsis and dash of Chinese text): no space on either side of it
CJK_PUNCTUATION = "\u2018\u2019\u201c\u201d\u2026\u2014\u3000-\u303f\uff00-\uffef"
# Chinese characters and the punctuation written with them, for joining lines (see join_cjk_lines)
CJK = CJK_PUNCTUATION + "\u3400-\u4dbf\u4e00-\u9fff"
# in join_cjk_lines' masked text, a fenced code block's characters and an inline code span's
BLOCK, INLINE = "\x01", "\x02"
# what may not be pulled up onto the line before: a blank line, a list item, a quote, a heading, a table row,
# display maths, a code block
STARTS_A_BLOCK = f"(?![ \\t]*(?:\\n|[-*+][ \\t]|\\d+[.)][ \\t]|>|#|\\||\\$\\$|{BLOCK}))"
CJK_LINE_BREAK = re.compile(
    f"(?:(?<=[{CJK}])|(?<=[{CJK}][*_])|(?<=[{CJK}]\\*\\*))\n[ \t]*(?=[*_\\[]*[{CJK}])"   # Chinese on both sides
    f"|(?<=[{CJK_PUNCTUATION}])\n{STARTS_A_BLOCK}[ \t]*"                                # after full-width punctuation
    f"|(?<=[^\\n|{BLOCK}])\n[ \t]*(?=[{CJK_PUNCTUATION}])")                            # before it
# a line that nothing may be pulled up onto
ENDS_A_BLOCK = re.compile(r"^[ \t]*(?:#|\||\$\$|>)|\$\$[ \t]*$")


def join_cjk_lines(text: str) -> str:
    """``text`` with every line break removed that stands between two Chinese characters, or next to
    full-width punctuation (``，`` ``。`` ``：`` ``（`` ...), outside code (also when emphasis marks or a
    link's ``[`` stand between the break and a character). A break before a new block (a list item,
    a heading, display maths, a code block, a blank line) stays.

    Markdown turns a line break inside a paragraph into a space; between English words that is right,
    between Chinese characters, or after a Chinese comma, it is a gap in the middle of a sentence (CSS says
    a browser should drop it between Chinese characters; Chromium does not). So translators may wrap their
    lines anywhere, and the notebooks get one line per paragraph where the Chinese runs on.
    """
    masked = "".join((BLOCK if s.text.lstrip().startswith("```") else INLINE) * len(s.text) if s.code else s.text
                     for s in segments(text))
    kept, position = [], 0
    for match in CJK_LINE_BREAK.finditer(masked):
        if ENDS_A_BLOCK.search(masked[masked.rfind("\n", 0, match.start()) + 1:match.start()]):
            continue            # a heading, table row, quote or display maths ends there
        kept.append(text[position:match.start()])
        position = match.end()
    return "".join(kept) + text[position:]


def rewrite_links(text: str, rewrite: Callable[[str], str]) -> str:
    """``text`` with every link target outside code replaced by ``rewrite(target)``."""
    def one(match: re.Match) -> str:
        return match.group("before") + rewrite(match.group("target")) + match.group("after")

    return "".join(s.text if s.code else HTML_LINK.sub(one, LINK.sub(one, s.text)) for s in segments(text))


def unpaired_emphasis(text: str) -> list[str]:
    """The ``*`` runs outside code and maths that CommonMark cannot use as emphasis, with their context."""
    masked = "".join("`c`" if s.code else s.text for s in segments(text))
    masked = INLINE_MATH.sub("@@0@@", DISPLAY_MATH.sub("@@0@@", masked))  # as JupyterLab hides maths
    openers: list[tuple[int, str]] = []
    unpaired = []
    for match in EMPHASIS_RUN.finditer(masked):
        start, end = match.span()
        before = masked[start - 1] if start else "\n"
        after = masked[end] if end < len(masked) else "\n"
        if before == "\n" and after == " ":
            continue  # a list bullet
        can_open = not after.isspace() and (not _punctuation(after) or before.isspace() or _punctuation(before))
        can_close = not before.isspace() and (not _punctuation(before) or after.isspace() or _punctuation(after))
        if can_close and openers and openers[-1][1] == match.group(0):
            openers.pop()
        elif can_open:
            openers.append((start, match.group(0)))
        else:
            unpaired.append(masked[max(0, start - 8):end + 8])
    return unpaired + [masked[max(0, start - 8):start + len(run) + 8] for start, run in openers]


def _punctuation(character: str) -> bool:
    return unicodedata.category(character)[0] in "PS"


def translation_problems(english: str, translation: str) -> list[str]:
    """What the translation lost or broke: maths, code, links, headings, emphasis (empty: nothing)."""
    problems = []
    for name, extract in (("formulas", formulas), ("code", code), ("links", link_files)):
        lost = sorted(set(extract(english)) - set(extract(translation)))
        if lost:
            problems.append(f"{name} of the English missing from the translation: {_short(lost)}")
    broken = unpaired_emphasis(translation)
    if len(broken) > len(unpaired_emphasis(english)):
        problems.append(f"emphasis that will show as asterisks: {_short(broken)}; put punctuation outside "
                        "the stars (**时长**：) or a space after them")
    if heading_levels(english) != heading_levels(translation):
        problems.append(f"headings differ: levels {heading_levels(english)} in the English, "
                        f"{heading_levels(translation)} in the translation")
    return problems


def _short(items: list[str]) -> str:
    shown = [item if len(item) <= 60 else item[:57] + "..." for item in items[:4]]
    more = f" and {len(items) - 4} more" if len(items) > 4 else ""
    return "[" + ", ".join(repr(s) for s in shown) + "]" + more
