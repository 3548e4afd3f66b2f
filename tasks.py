#!/usr/bin/env python3
"""Set up the project and run it, with nothing but Python >= 3.10.

    python3 tasks.py lab    # set up, then open the notebook series in JupyterLab
    python3 tasks.py test   # set up, then run every test (pytest + nbval + browser)
    python3 tasks.py train  # set up, then run the tutorial's training (python -m cnn_lib train)
    python3 tasks.py exercises  # regenerate the student notebooks in notebooks/exercises/
    python3 tasks.py exercises --nbgrader-source COURSE/source/ASSIGNMENT
                            # or write nbgrader's source notebooks of the exercises there
    python3 tasks.py zh     # regenerate the Chinese edition in notebooks/zh/, report what is stale
    python3 tasks.py bench  # set up, then measure training speed (python -m cnn_lib bench)

"Set up" means: create the virtual environment ``.venv`` in this folder (once)
and install the project into it from ``pyproject.toml`` (again only when that
file changes). For ``test`` it also installs Debian's Chromium, which the
browser tests drive, and a Chinese font (the browser tests check that the
Chinese notebooks are drawn with one), when they are missing and it can (as
root, with apt-get).
Extra arguments are passed on to JupyterLab, pytest or the trainer. This file
uses the standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed-from"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def setup() -> Path:
    """Create ``.venv`` and install the project with its lab and test extras."""
    if sys.version_info < (3, 10):
        sys.exit(f"cnn-from-scratch needs Python >= 3.10, but this is {sys.version.split()[0]}.")
    python = venv_python()
    if not python.exists():
        print(f"Creating the virtual environment {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print("Installing the project and its dependencies into .venv ...", flush=True)
        pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
        run(pip + ["install", "--quiet", "--upgrade", "pip"])
        run(pip + ["install", "--quiet", "--editable", f"{ROOT}[dev]"])
        STAMP.write_text(wanted + "\n")
    return python


def ensure_chromium() -> None:
    """The browser tests (pytest marker ``browser``) drive Chromium; install Debian's if we can."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    apt_install(["chromium"], "Chromium for the browser tests",
                "Chromium is not installed (Debian: apt-get install chromium), so the browser tests "
                "will be skipped, or fail under CI.")


# A small font with every Chinese character of the notebooks (1.6 MB; fonts-noto-cjk looks better, 56 MB).
CJK_FONT_PACKAGE = "fonts-wqy-microhei"


def has_cjk_font() -> bool:
    """Whether fontconfig knows a font for Chinese (``fc-list :lang=zh``), as Chromium's text fallback uses."""
    if not shutil.which("fc-list"):
        return False
    found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    return found.returncode == 0 and bool(found.stdout.strip())


def ensure_cjk_font() -> None:
    """The browser test of the Chinese edition checks its text is drawn with a real Chinese font."""
    if has_cjk_font():
        return
    apt_install([CJK_FONT_PACKAGE], "a Chinese font for the browser test of notebooks/zh",
                f"no Chinese font is installed (Debian: apt-get install {CJK_FONT_PACKAGE}), so the "
                "browser test of the Chinese edition will be skipped, or fail under CI.")


def apt_install(packages: list[str], what: str, otherwise: str) -> None:
    """``apt-get install`` ``packages`` when we can (root, Debian); else print ``otherwise``."""
    if not (is_root() and shutil.which("apt-get")):
        print(f"Note: {otherwise}", flush=True)
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"],
                    ["apt-get", "install", "-y", "--no-install-recommends", *packages]):
        print(f"Installing {what}: {' '.join(command)}", flush=True)
        if subprocess.run(command, env=env).returncode != 0:
            print(f"Note: could not install it: {otherwise}", flush=True)
            return


def run(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("lab", "test", "train", "bench", "exercises", "zh", "setup"):
        sys.exit(__doc__)
    task, extra = argv[0], argv[1:]
    python = setup()
    if task == "lab":
        command = [str(python), "-m", "jupyter", "lab", f"--notebook-dir={ROOT / 'notebooks'}"]
        if is_root():  # JupyterLab refuses to run as root without this flag
            command.append("--allow-root")
        os.execv(command[0], command + extra)
    elif task == "test":
        if "not browser" not in " ".join(extra):  # e.g. -m "not browser" needs no browser
            ensure_chromium()
            ensure_cjk_font()
        os.chdir(ROOT)
        os.execv(str(python), [str(python), "-m", "pytest", *extra])
    elif task in ("train", "bench"):
        os.chdir(ROOT)
        os.execv(str(python), [str(python), "-m", "cnn_lib", task, *extra])
    elif task == "exercises":  # the "Implement it yourself" sections: student notebooks or nbgrader's source
        os.execv(str(python), [str(python), str(ROOT / "tools" / "make_exercises.py"), *extra])
    elif task == "zh":  # the Chinese edition: notebooks/zh/ from the English notebooks and i18n/zh/
        os.execv(str(python), [str(python), str(ROOT / "tools" / "translate.py"), *(extra or ["build"])])


if __name__ == "__main__":
    main(sys.argv[1:])
