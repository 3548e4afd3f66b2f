"""The Chinese edition (notebooks/zh/, docs/zh/, README.zh.md) and the tools that build it.

- The committed Chinese notebooks are exactly what ``python3 tasks.py zh`` generates, and generating
  twice gives the same bytes.
- Every translation is fresh: its recorded fingerprint is that of the English cell (or document
  section) now. An English Markdown cell edited in a copy of the repository makes the check fail,
  naming the cell, and the Chinese notebook shows that cell in English under a note.
- The Chinese notebooks' code cells, outputs and metadata are the English ones; only Markdown differs.
- Every translated cell keeps the English cell's maths, code, links and headings, and its links lead
  somewhere (the Chinese edition of a notebook or document where there is one).
- Every English notebook is translated, or listed below as not translated yet.

nbval does not run notebooks/zh (pyproject.toml): the identity of code and outputs tested here makes
a second run of the same code against the same outputs redundant.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tools"))

from translation import catalogue, documents, markdown, workflow  # noqa: E402
from translation.edition import MISSING_NOTE, STALE_NOTE, Layout, build  # noqa: E402

_spec = importlib.util.spec_from_file_location("translate_tool", REPO_ROOT / "tools" / "translate.py")
translate_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(translate_tool)

LAYOUT = Layout(REPO_ROOT)
REGENERATE = "run `python3 tasks.py zh` and commit notebooks/zh/"

# The English notebooks without a Chinese edition yet (issue 15: translated once their English has settled).
# Remove a name when its catalogue i18n/zh/NAME.md is started; a new English notebook must be added here
# or translated.
NOT_YET_TRANSLATED: set[str] = set()


def chinese_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    return sorted((root / "notebooks" / "zh").rglob("*.ipynb"))


def relative(path: Path, root: Path = REPO_ROOT) -> str:
    return path.relative_to(root).as_posix()


@pytest.fixture(scope="module")
def report():
    return workflow.report(LAYOUT)


# The committed edition.

def test_the_chinese_notebooks_are_what_the_generator_writes(tmp_path):
    first, _ = build(tmp_path / "first", LAYOUT)
    second, _ = build(tmp_path / "second", LAYOUT)
    generated = {relative(p, tmp_path / "first"): p.read_bytes() for p in first}
    assert generated == {relative(p, tmp_path / "second"): p.read_bytes() for p in second}, \
        "generating twice must give identical files"
    committed = {relative(p, REPO_ROOT / "notebooks" / "zh"): p.read_bytes() for p in chinese_notebooks()}
    assert sorted(committed) == sorted(generated), f"Chinese notebooks missing or extra: {REGENERATE}"
    stale = [name for name in generated if committed[name] != generated[name]]
    assert not stale, f"stale Chinese notebooks {stale}: {REGENERATE}"


def test_every_translated_cell_is_fresh(report):
    lines = [line for r in report.notebooks for line in r.freshness_problems()]
    assert not lines, "translations to update (python3 tools/translate.py status shows how the English changed):\n" \
        + "\n".join(lines)


def test_translations_keep_the_maths_code_links_and_headings(report):
    lines = [line for r in report.notebooks for line in r.content_problems()]
    assert not lines, "\n".join(lines)


def test_translated_documents_are_fresh_and_their_links_lead_somewhere(report):
    assert [relative(p) for p in LAYOUT.documents()] == ["README.zh.md", "docs/zh/glossary.md", "docs/zh/teaching.md"]
    assert all(documents.markers(p.read_text(encoding="utf-8")) for p in LAYOUT.documents())
    assert not report.document_problems, "\n".join(report.document_problems)


def test_every_english_notebook_is_translated_or_listed_as_not_yet():
    not_started = {s.name for s in LAYOUT.sources() if s.kind != "exercises" and not s.started}
    assert not_started == NOT_YET_TRANSLATED, (
        f"translated now, remove from NOT_YET_TRANSLATED: {sorted(NOT_YET_TRANSLATED - not_started)}; "
        f"without a translation, start it (python3 tools/translate.py update NAME): {sorted(not_started - NOT_YET_TRANSLATED)}")
    assert (REPO_ROOT / "notebooks" / "zh" / "01_forward_pass.ipynb").is_file(), "the pilot"


def test_code_cells_outputs_and_metadata_are_the_english_ones():
    compared = 0
    for path in chinese_notebooks():
        chinese = json.loads(path.read_text(encoding="utf-8"))
        english_path = REPO_ROOT / chinese["metadata"]["i18n"]["translated_from"]
        english = json.loads(english_path.read_text(encoding="utf-8"))
        assert english_path.relative_to(REPO_ROOT / "notebooks") == path.relative_to(REPO_ROOT / "notebooks" / "zh")
        assert chinese["metadata"]["i18n"]["language"] == "zh-CN"
        assert {k: v for k, v in chinese["metadata"].items() if k != "i18n"} == english["metadata"]
        assert (chinese["nbformat"], chinese["nbformat_minor"]) == (english["nbformat"], english["nbformat_minor"])
        assert [(c["id"], c["cell_type"]) for c in chinese["cells"]] == [(c["id"], c["cell_type"]) for c in english["cells"]]
        for zh_cell, en_cell in zip(chinese["cells"], english["cells"]):
            if en_cell["cell_type"] == "markdown":
                assert {k: v for k, v in zh_cell.items() if k != "source"} == {k: v for k, v in en_cell.items() if k != "source"}
                assert zh_cell["source"] != en_cell["source"], f"{relative(path)}: cell {en_cell['id']} not translated"
            else:
                assert zh_cell == en_cell, f"{relative(path)}: cell {en_cell['id']} differs from the English"
                compared += 1
    assert compared > 30


def test_links_in_the_chinese_notebooks_lead_to_the_chinese_edition_where_there_is_one():
    checked = set()
    for path in chinese_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for target in markdown.links(cell.source):
                if "://" in target or target.startswith("#"):
                    continue
                linked = Path(os.path.normpath(path.parent / target.partition("#")[0]))
                assert linked.exists(), f"{relative(path)}, cell {cell.id}: link {target!r} leads nowhere"
                assert LAYOUT.counterpart(linked) == linked, \
                    f"{relative(path)}, cell {cell.id}: link {target!r} should lead to {LAYOUT.counterpart(linked)}"
                checked.add(relative(linked))
    # a translated notebook is linked in Chinese, an English-only document (docs/differences.md) in English
    assert {"docs/zh/glossary.md", "notebooks/zh/01_forward_pass.ipynb", "notebooks/zh/02_softmax_backprop.ipynb",
            "docs/differences.md"} <= checked


def test_the_student_title_cell_is_translated():
    student = nbformat.read(REPO_ROOT / "notebooks" / "zh" / "exercises" / "01_forward_pass.ipynb", as_version=4)
    title = student.cells[0].source
    assert title.startswith("# 01 · 前向传播：练习\n") and "](../01_forward_pass.ipynb)" in title
    assert "notebooks/01_forward_pass.ipynb" in title and "{" not in title


# Freshness, shown on a copy of the repository whose English changes.

@pytest.fixture
def repo_copy(tmp_path) -> Path:
    root = tmp_path / "repo"
    for name in ("notebooks", "i18n", "tools", "docs", "figures"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for name in ("README.md", "README.zh.md"):
        shutil.copy(REPO_ROOT / name, root / name)
    return root


def translate(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``python3 tools/translate.py ARGS`` on the repository at ``root``, in this process (a new Python
    would spend seconds importing nbformat)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        returncode = translate_tool.main(list(args), root=root)
    return subprocess.CompletedProcess(["translate.py", *args], returncode, stdout.getvalue(), stderr.getvalue())


def edit_cell(path: Path, cell_id: str, edit) -> str:
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.get("id") == cell_id)
    cell.source = edit(cell.source)
    nbformat.write(notebook, path)
    return cell.source


def test_the_copy_starts_fresh(repo_copy):
    result = translate(repo_copy, "status")
    assert result.returncode == 0 and "0 problems" in result.stdout, result.stdout + result.stderr


def test_editing_an_english_markdown_cell_makes_its_translation_stale(repo_copy):
    english = repo_copy / "notebooks" / "01_forward_pass.ipynb"
    new_text = edit_cell(english, "72bc4add", lambda s: s.replace("Two reasons", "Three reasons"))

    result = translate(repo_copy, "status", "01_forward_pass")
    assert result.returncode == 1, result.stdout
    stale = [line for line in result.stdout.splitlines() if "72bc4add" in line and "stale" in line]
    assert stale and "notebooks/zh/01_forward_pass.ipynb, cell 6" in stale[0], result.stdout
    assert "-which maps 0 (background) to $-0.5$ and 255 (ink) to $+0.5$. Two reasons" in result.stdout  # the diff
    assert "+which maps 0 (background) to $-0.5$ and 255 (ink) to $+0.5$. Three reasons" in result.stdout
    others = [line for line in result.stdout.splitlines() if line.startswith("- ") and "72bc4add" not in line]
    assert not others, others

    # The freshness check this suite runs names the cell too.
    stale_report = workflow.report(Layout(repo_copy))
    assert [c.cell_id for r in stale_report.notebooks for c in r.cells if c.state != "fresh"] == ["72bc4add"]

    # Built, the Chinese notebook shows the new English under the note, and its code stays the English code.
    assert translate(repo_copy, "build").returncode == 1
    chinese = nbformat.read(repo_copy / "notebooks" / "zh" / "01_forward_pass.ipynb", as_version=4)
    cell = next(c for c in chinese.cells if c.id == "72bc4add")
    assert cell.source == STALE_NOTE + new_text

    # A translator updates the Chinese and accepts the cell by id: fresh again.
    path = repo_copy / "i18n" / "zh" / "01_forward_pass.md"
    path.write_text(path.read_text(encoding="utf-8").replace("这样做有两个理由", "这样做有三个理由"), encoding="utf-8")
    accepted = translate(repo_copy, "accept", "01_forward_pass", "72bc4add")
    assert accepted.returncode == 0, accepted.stderr
    rebuilt = translate(repo_copy, "build")
    assert rebuilt.returncode == 0 and "0 problems" in rebuilt.stdout, rebuilt.stdout
    chinese = nbformat.read(repo_copy / "notebooks" / "zh" / "01_forward_pass.ipynb", as_version=4)
    assert "这样做有三个理由" in next(c for c in chinese.cells if c.id == "72bc4add").source


def test_a_new_english_cell_is_reported_until_translated(repo_copy):
    english = repo_copy / "notebooks" / "01_forward_pass.ipynb"
    notebook = nbformat.read(english, as_version=4)
    notebook.cells.insert(2, nbformat.v4.new_markdown_cell("A new remark with $x^2$.", id="new-remark"))
    nbformat.write(notebook, english)

    result = translate(repo_copy, "build")
    assert result.returncode == 1 and "id new-remark" in result.stdout and "not in the catalogue" in result.stdout
    chinese = nbformat.read(repo_copy / "notebooks" / "zh" / "01_forward_pass.ipynb", as_version=4)
    assert chinese.cells[2].source == MISSING_NOTE + "A new remark with $x^2$."

    assert translate(repo_copy, "update", "01_forward_pass").returncode == 0
    path = repo_copy / "i18n" / "zh" / "01_forward_pass.md"
    text = path.read_text(encoding="utf-8")
    assert "<!-- cell new-remark · not translated yet -->\n<!-- English:\nA new remark with $x^2$.\n-->\n" in text
    assert text.index("cell new-remark") < text.index("cell a38e0745"), "in the notebook's order"
    path.write_text(text.replace("A new remark with $x^2$.\n-->\n", "A new remark with $x^2$.\n-->\n新的说明，含 $x$。\n"),
                    encoding="utf-8")
    assert translate(repo_copy, "accept", "01_forward_pass").returncode == 0
    result = translate(repo_copy, "build")
    assert result.returncode == 1 and "formulas of the English missing" in result.stdout and "'$x^2$'" in result.stdout


def test_editing_a_translated_english_section_makes_the_document_stale(repo_copy):
    readme = repo_copy / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("(no conda needed)", "(no conda)"), encoding="utf-8")
    result = translate(repo_copy, "status")
    assert result.returncode == 1
    assert "README.zh.md, line 23: README.md '## Two commands': stale" in result.stdout, result.stdout
    assert translate(repo_copy, "accept", "README.zh.md").returncode == 0
    assert translate(repo_copy, "status").returncode == 0


# The catalogue format.

def test_a_catalogue_reads_back_what_was_written():
    entries = [catalogue.Entry("a1", "## One\n\nText $x$.", "## 一\n\n正文 $x$。", catalogue.fingerprint("## One\n\nText $x$.")),
               catalogue.Entry("b2", "Trailing newline\n"),
               catalogue.Entry("c3", "Old English", "旧译文", catalogue.fingerprint("Older English"))]
    text = catalogue.format_catalogue(entries, "notebooks/x.ipynb", "notebooks/zh/x.ipynb", "Simplified Chinese")
    assert list(catalogue.parse(text, "x.md").values()) == entries
    assert [e.state(e.english) for e in entries] == ["fresh", "missing", "stale"]
    assert [e.consistent() for e in entries] == [True, True, False]
    assert entries[0].state("## One\n\nText $x$!") == "stale"


@pytest.mark.parametrize("text, message", [
    ("<!-- cell a1 · translated -->\n<!-- English:\nx\n-->\n", "a cell marker must read"),
    ("<!-- cell a1 · not translated yet -->\nx\n", "expected '<!-- English:'"),
    ("<!-- cell a1 · not translated yet -->\n<!-- English:\nx\n", "is not closed"),
    ("stray text\n<!-- cell a1 · not translated yet -->\n<!-- English:\nx\n-->\n", "text before the first cell marker"),
    ("<!-- cell a1 · not translated yet -->\n<!-- English:\nx\n-->\n<!-- cell a1 · not translated yet -->\n"
     "<!-- English:\nx\n-->\n", "appears twice"),
])
def test_a_damaged_catalogue_is_a_clear_error(text, message):
    with pytest.raises(catalogue.CatalogueError, match=message):
        catalogue.parse(text, "x.md")


def test_the_fingerprint_is_sha256():
    assert catalogue.fingerprint("") == "e3b0c44298fc"


# What a translation must keep.

def test_the_checks_see_lost_maths_code_links_and_headings():
    english = "## 2. Title\n\nSee $x^2$ and `f(x)` in [02](02_x.ipynb), then $$y = \\text{in short } z$$."
    good = "## 2. 标题\n\n见 [02](02_x.ipynb) 中的 $x^2$ 和 `f(x)`，然后 $$y = \\text{简记为 } z$$。"
    assert markdown.translation_problems(english, good) == []
    assert markdown.translation_problems(english, good + "另加 $w$ 与 `g`。") == [], "additions are allowed"
    for broken, expected in [(good.replace("$x^2$", "$x^3$"), "formulas"), (good.replace("`f(x)`", "f(x)"), "code"),
                             (good.replace("02_x.ipynb", "03_x.ipynb"), "links"), (good.replace("## 2.", "### 2."), "headings"),
                             (good.replace("z$$", "w$$"), "formulas")]:
        problems = markdown.translation_problems(english, broken)
        assert len(problems) == 1 and problems[0].startswith(expected), problems


@pytest.mark.parametrize("text, unpaired", [
    ("**时长**：约 30 分钟", False), ("这是**前向传播**，它", False), ("**加权和**（total）", False),
    ("**时长：**约 30 分钟", True), ("**先预测一下。**上面", True), ("称为**“valid”**填充", True),
    ("- 列表 *x* 项\n* 另一项", False), ("公式 $a*b$ 与 `a**b` 不算", False),
])
def test_the_emphasis_check_knows_commonmark_flanking(text, unpaired):
    assert bool(markdown.unpaired_emphasis(text)) == unpaired


def test_lines_are_joined_between_chinese_characters_and_at_full_width_punctuation():
    """A line break inside a paragraph is drawn as a space: between Chinese characters, or next to a Chinese
    comma or bracket, that is a gap in the sentence, so the generator drops it (the reader of 00-03 found them
    after full-width punctuation). A break before a new block, and the text of code, stay."""
    text = "第一行，\n第二行\n- 列表\n  续行。\n\n新段落\n`代码\n代码`，\nEnglish\n中文"
    assert markdown.join_cjk_lines(text) == "第一行，第二行\n- 列表续行。\n\n新段落\n`代码\n代码`，English\n中文"
    text = "见下：\n- 一项\n1. 编号\n> 引用。\n## 标题：\n$$x$$\n| 表 |\n见\n`layers[1]`\n（第二层）。\n$x$ 与 valid，\n26x26"
    assert markdown.join_cjk_lines(text) == ("见下：\n- 一项\n1. 编号\n> 引用。\n## 标题：\n$$x$$\n| 表 |\n见\n"
                                            "`layers[1]`（第二层）。$x$ 与 valid，26x26")
    text = "$$x = 1$$\n（公式）\n## 标题\n（注）\n| 表 |\n，\n正文\n（注）"
    assert markdown.join_cjk_lines(text) == "$$x = 1$$\n（公式）\n## 标题\n（注）\n| 表 |\n，正文（注）"
    text = "约 20 秒。\n**参考来源**：见\n[术语表](x.md)。甲\n乙\n丙**\n丁\n* 列表"
    assert markdown.join_cjk_lines(text) == "约 20 秒。**参考来源**：见[术语表](x.md)。甲乙丙**丁\n* 列表"


def test_links_are_rewritten_outside_code_only():
    text = "[a](b.ipynb) `[c](d.ipynb)` <img src=\"e.png\">"
    assert markdown.rewrite_links(text, lambda t: "../" + t) == "[a](../b.ipynb) `[c](d.ipynb)` <img src=\"../e.png\">"


def test_a_document_section_runs_to_the_next_heading_of_any_level():
    text = "# T\n\nintro\n\n## A\n\nbody\n```\n# not a heading\n```\n\n### B\n\nmore\n"
    assert documents.section(text, "## A") == "## A\n\nbody\n```\n# not a heading\n```"
    assert documents.section(text, "### B") == "### B\n\nmore"
    assert documents.section(text, "## C") is None


def test_links_and_figure_paths_follow_the_chinese_folder(repo_copy):
    english = repo_copy / "notebooks" / "01_forward_pass.ipynb"
    # 02 has a Chinese edition, so its link stays in notebooks/zh/; 03, its catalogue removed here, has none yet,
    # so its link leads to the English notebook.
    (repo_copy / "i18n" / "zh" / "03_training_the_softmax_layer.md").unlink()
    (repo_copy / "notebooks" / "zh" / "03_training_the_softmax_layer.ipynb").unlink()
    readme = repo_copy / "README.zh.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("notebooks/zh/03_", "notebooks/03_"), encoding="utf-8")
    notebook = nbformat.read(english, as_version=4)
    source = ("See ![a digit](../figures/01_forward_pass_digit.png), [the differences](../docs/differences.md), "
              "[the glossary](../docs/glossary.md#terms), [02](02_softmax_backprop.ipynb), [03](03_training_the_softmax_layer.ipynb) and "
              "<img src=\"../figures/01_forward_pass_filters.png\" width=\"300\">; not `[code](x.ipynb)`.")
    notebook.cells.insert(3, nbformat.v4.new_markdown_cell(source, id="links"))
    nbformat.write(notebook, english)
    assert translate(repo_copy, "update", "01_forward_pass").returncode == 0
    path = repo_copy / "i18n" / "zh" / "01_forward_pass.md"
    translation = ("见 ![一个数字](../figures/01_forward_pass_digit.png)、[差异](../docs/differences.md)、"
                   "[术语表](../docs/glossary.md#terms)、[02](02_softmax_backprop.ipynb)、[03](03_training_the_softmax_layer.ipynb) 和 "
                   "<img src=\"../figures/01_forward_pass_filters.png\" width=\"300\">；不是 `[code](x.ipynb)`。")
    path.write_text(path.read_text(encoding="utf-8").replace(f"{source}\n-->\n", f"{source}\n-->\n{translation}\n"),
                    encoding="utf-8")
    assert translate(repo_copy, "accept", "01_forward_pass").returncode == 0
    result = translate(repo_copy, "build")
    assert result.returncode == 0, result.stdout
    cell = nbformat.read(repo_copy / "notebooks" / "zh" / "01_forward_pass.ipynb", as_version=4).cells[3]
    assert cell.source == ("见 ![一个数字](../../figures/01_forward_pass_digit.png)、[差异](../../docs/differences.md)、"
                           "[术语表](../../docs/zh/glossary.md#terms)、[02](02_softmax_backprop.ipynb)、"
                           "[03](../03_training_the_softmax_layer.ipynb) 和 "
                           "<img src=\"../../figures/01_forward_pass_filters.png\" width=\"300\">；不是 `[code](x.ipynb)`。")
