"""The translator's commands behind ``tools/translate.py``: report, update a catalogue, accept translations."""

from __future__ import annotations

import difflib
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import documents, markdown
from .catalogue import CatalogueError, Entry, fingerprint, format_catalogue
from .edition import LANGUAGE_NAME, Layout, NotebookReport, make_exercises, read_catalogue, translate_notebook

EXERCISES = "exercises"  # the catalogue of the student notebooks' title cell


@dataclass
class Report:
    """The state of the whole edition: one report per translated notebook, the documents, what is not started."""
    notebooks: list[NotebookReport] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)  # catalogue names
    document_lines: list[str] = field(default_factory=list)
    document_problems: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [line for r in self.notebooks for line in r.problems()] + self.document_problems

    def text(self) -> str:
        lines = []
        for report in self.notebooks:
            counts = {state: sum(c.state == state for c in report.cells) for state in ("fresh", "stale", "missing")}
            parts = [f"{counts['fresh']} translated"] + [f"{counts[s]} {s}" for s in ("stale", "missing") if counts[s]]
            where = report.source.zh.relative_to(report.source.layout.root).as_posix()
            lines.append(f"{where}: {len(report.cells)} Markdown cells: {', '.join(parts)}")
            if report.orphans:
                lines.append(f"    (the catalogue keeps {len(report.orphans)} translations of cells the English "
                             f"no longer has: {', '.join(report.orphans)}; `update --prune` drops them)")
        if self.not_started:
            lines.append(f"not translated yet (no catalogue; `python3 tools/translate.py update NAME` starts one): "
                         f"{', '.join(self.not_started)}")
        lines += self.document_lines
        problems = self.problems()
        lines.append(f"{len(problems)} problems" + (":" if problems else ""))
        lines += [f"- {p}" for p in problems]
        return "\n".join(lines)


def report(layout: Layout, build_reports: list[NotebookReport] | None = None) -> Report:
    """What is translated, stale, missing or wrong; ``build_reports`` saves translating again after a build."""
    result = Report()
    if build_reports is None:
        titles: dict[str, str] = {}
        build_reports = [translate_notebook(s, titles)[1] for s in layout.sources() if s.started]
    result.notebooks = build_reports
    result.not_started = [s.name for s in layout.sources() if not s.started and s.kind != "exercises"]
    for path in layout.documents():
        name = path.relative_to(layout.root).as_posix()
        found = documents.markers(path.read_text(encoding="utf-8"))
        states = [documents.marker_state(m, layout.root) for m in found]
        result.document_lines.append(f"{name}: translates {len(found)} English sections, "
                                     f"{states.count('fresh')} of them up to date")
        result.document_problems += document_link_problems(layout, path)
        for marker, state in zip(found, states):
            if state != "fresh":
                result.document_problems.append(
                    f"{name}, line {marker.line}: {marker.english_path} {marker.heading!r}: {state}"
                    + ("; update the translation below that line (`git log -p "
                       f"{marker.english_path}` shows the change), then `python3 tools/translate.py accept {name}`"
                       if state == "stale" else "; fix the marker"))
    return result


def document_link_problems(layout: Layout, path: Path) -> list[str]:
    """Broken relative links of a translated document, and links to English notebooks that have a Chinese edition."""
    name, problems = path.relative_to(layout.root).as_posix(), []
    for target in markdown.links(path.read_text(encoding="utf-8")):
        if "://" in target or target.startswith(("#", "mailto:")):
            continue
        linked = Path(os.path.normpath(path.parent / target.partition("#")[0]))
        if not linked.exists():
            problems.append(f"{name}: link {target!r} leads nowhere")
        elif linked.suffix == ".ipynb" and layout.counterpart(linked) != linked:
            chinese = posixpath.relpath(layout.counterpart(linked).as_posix(), path.parent.as_posix())
            problems.append(f"{name}: link {target!r} leads to an English notebook; its Chinese edition is {chinese}")
    return problems


def english_cells(layout: Layout, name: str) -> list[tuple[str, str]]:
    """(cell id, English source) of every Markdown cell a catalogue translates, in order."""
    if name == EXERCISES:
        return [(make_exercises.HEADER_ID, make_exercises.HEADER_TEMPLATE)]
    source = layout.source(name)
    notebook = nbformat.read(source.english, as_version=4)
    cells = [(c.get("id"), c.source) for c in notebook.cells if c.cell_type == "markdown"]
    if any(cell_id is None for cell_id, _ in cells):
        raise CatalogueError(f"{source.english}: a cell has no id; save it with JupyterLab >= 3 (nbformat 4.5)")
    return cells


def catalogue_path(layout: Layout, name: str) -> Path:
    return layout.exercises_catalogue if name == EXERCISES else layout.source(name).catalogue


def _write(layout: Layout, name: str, entries: list[Entry]) -> None:
    path = catalogue_path(layout, name)
    if name == EXERCISES:
        english, target = "tools/make_exercises.py (HEADER_TEMPLATE)", "the title cell of notebooks/zh/exercises/*"
    else:
        source = layout.source(name)
        english = source.english.relative_to(layout.root).as_posix()
        target = source.zh.relative_to(layout.root).as_posix()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_catalogue(entries, english, target, LANGUAGE_NAME), encoding="utf-8")


def update(layout: Layout, name: str, prune: bool = False) -> str:
    """Write the catalogue ``name`` with an entry for every English Markdown cell, in the notebook's order.

    New cells get their English and no translation; a cell not translated yet gets the English as it
    is now; translated cells are left as they are (a stale one keeps the English it was translated
    from, so ``status`` can show the change). Entries for cells the English no longer has are kept at
    the end (their text may serve a split or renamed cell), or dropped with ``prune``.
    """
    path = catalogue_path(layout, name)
    old = read_catalogue(path, layout.root) if path.is_file() else {}
    cells = english_cells(layout, name)
    entries, added = [], []
    for cell_id, english in cells:
        entry = old.get(cell_id)
        if entry is None:
            added.append(cell_id)
            entry = Entry(cell_id, english)
        elif entry.translated_from is None:
            entry = Entry(cell_id, english, entry.translation)
        entries.append(entry)
    ids = {cell_id for cell_id, _ in cells}
    orphans = [e for cell_id, e in old.items() if cell_id not in ids]
    _write(layout, name, entries + ([] if prune else orphans))
    verb = "started" if not old else "updated"
    return (f"{verb} {path.relative_to(layout.root).as_posix()}: {len(cells)} cells, {len(added)} new"
            + (f", {len(orphans)} for cells no longer in the English {'dropped' if prune else 'kept at the end'}"
               if orphans else ""))


def accept(layout: Layout, name: str, cell_ids: list[str]) -> str:
    """Declare translations current: the named cells, or (none named) every new translation.

    Accepting records the English as it is now and its fingerprint, so only accept a stale cell by
    name, once its Chinese says what the new English says.
    """
    path = catalogue_path(layout, name)
    if not path.is_file():
        raise CatalogueError(f"no catalogue {path.relative_to(layout.root)}: start it with "
                             f"`python3 tools/translate.py update {name}`")
    english = dict(english_cells(layout, name))
    entries = read_catalogue(path, layout.root)
    unknown = [i for i in cell_ids if i not in entries or i not in english]
    if unknown:
        raise CatalogueError(f"{name}: no cell {', '.join(unknown)} in both the notebook and the catalogue "
                             f"(run `python3 tools/translate.py update {name}` first)")
    empty = [i for i in cell_ids if not entries[i].translation.strip()]
    if empty:
        raise CatalogueError(f"{name}: cells {', '.join(empty)} have no translation to accept")
    chosen = cell_ids or [i for i, e in entries.items()
                          if i in english and e.translated_from is None and e.translation.strip()]
    for cell_id in chosen:
        entries[cell_id] = entries[cell_id].accepted(english[cell_id])
    _write(layout, name, list(entries.values()))
    stale = [i for i, e in entries.items() if i in english and e.state(english[i]) == "stale"]
    note = (f"; still stale (accept each by id once its Chinese is updated): {', '.join(stale)}" if stale else "")
    return f"accepted {len(chosen)} cells of {path.relative_to(layout.root).as_posix()}{note}"


def accept_document(layout: Layout, path: Path) -> str:
    text, changed = documents.accept(path.read_text(encoding="utf-8"), layout.root)
    path.write_text(text, encoding="utf-8")
    done = ", ".join(f"{m.english_path} {m.heading!r}" for m in changed) or "nothing was stale"
    return f"{path.relative_to(layout.root).as_posix()}: accepted {done}"


def changes(layout: Layout, name: str) -> str:
    """For each stale cell of catalogue ``name``: how its English changed since it was translated (a diff)."""
    path = catalogue_path(layout, name)
    if not path.is_file():
        return ""
    entries = read_catalogue(path, layout.root)
    blocks = []
    for cell_id, english in english_cells(layout, name):
        entry = entries.get(cell_id)
        if entry and entry.state(english) == "stale":
            diff = difflib.unified_diff(entry.english.split("\n"), english.split("\n"), lineterm="",
                                        fromfile=f"{cell_id}, English when translated ({entry.translated_from})",
                                        tofile=f"{cell_id}, English now ({fingerprint(english)})")
            blocks.append("\n".join(diff))
    return "\n\n".join(blocks)
