#!/usr/bin/env python3
"""The Chinese edition of the notebooks (notebooks/zh/), from the English notebooks and the catalogue i18n/zh/.

    python3 tools/translate.py build            # (python3 tasks.py zh) write notebooks/zh/, report
    python3 tools/translate.py status [NAME]    # report, and how the English of each stale cell changed
    python3 tools/translate.py update NAME      # start or update the catalogue i18n/zh/NAME.md
    python3 tools/translate.py accept NAME [ID] # record translations as current (new ones, or cells ID)
    python3 tools/translate.py accept README.zh.md   # the same for a translated document's sections

NAME is a notebook's path under notebooks/ without .ipynb (01_forward_pass, answers/01_...), or
"exercises" for the student notebooks' title cell; ``update --all`` updates every catalogue and starts
the missing ones. Every Markdown cell of a Chinese notebook is the translation of its English cell;
code cells and outputs are the English ones, copied. ``build`` and ``status`` exit with status 1 when
a translation is stale (its English changed since), missing, or lost maths, code or links of the
English. The format, the workflow and the terms: docs/translating.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from translation import workflow
from translation.catalogue import CatalogueError
from translation.edition import Layout, build

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    commands = parser.add_subparsers(dest="command")
    build_command = commands.add_parser("build", help="write notebooks/zh/ and report what is stale or missing")
    build_command.add_argument("--out", type=Path, help="write here instead of notebooks/zh (tests)")
    status = commands.add_parser("status", help="report, with the English changes of stale cells")
    status.add_argument("names", nargs="*", help="catalogues whose changes to show (default: all)")
    update = commands.add_parser("update", help="start or update catalogues: every English Markdown cell, in order")
    update.add_argument("names", nargs="*")
    update.add_argument("--all", action="store_true", help="every English notebook, started or not")
    update.add_argument("--prune", action="store_true", help="drop translations of cells the English no longer has")
    accept = commands.add_parser("accept", help="record translations as translating the English as it is now")
    accept.add_argument("name", help="a catalogue name, or a translated document such as README.zh.md")
    accept.add_argument("cells", nargs="*", help="cell ids (default: the new translations, not the stale ones)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:] or ["build"])
    layout = Layout(root)
    try:
        return run(args, layout)
    except CatalogueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, layout: Layout) -> int:
    if args.command == "build":
        written, reports = build(args.out, layout)
        for path in written:
            print(f"wrote {path}")
        report = workflow.report(layout, reports)
    elif args.command == "status":
        report = workflow.report(layout)
        names = args.names or [r.source.catalogue_name for r in report.notebooks if r.source.kind != "exercises"]
        for name in names + [workflow.EXERCISES]:
            if workflow.catalogue_path(layout, name).is_file() and (diff := workflow.changes(layout, name)):
                print(f"How the English of the stale cells of {name} changed:\n{diff}\n")
    elif args.command == "update":
        names = args.names
        if args.all:
            names = [s.name for s in layout.sources() if s.kind != "exercises"] + [workflow.EXERCISES]
        if not names:
            print("error: name the catalogues to update (e.g. 01_forward_pass), or --all", file=sys.stderr)
            return 2
        if any(layout.source(n).kind == "series" for n in names if n != workflow.EXERCISES):
            names = list(dict.fromkeys(names + [workflow.EXERCISES]))  # student notebooks need their title
        for name in names:
            print(workflow.update(layout, name, prune=args.prune))
        return 0
    else:
        document = layout.root / args.name
        if args.name.endswith(".md") and document in layout.documents():
            print(workflow.accept_document(layout, document))
        else:
            print(workflow.accept(layout, args.name, args.cells))
        return 0
    print(report.text())
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
