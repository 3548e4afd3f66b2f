"""The set-up files agree with each other and with the README."""

from __future__ import annotations

import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib


def requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~ ;\[]", spec.strip(), maxsplit=1)[0].lower()


def pyproject_packages(repo_root) -> dict[str, str]:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra, members in project["optional-dependencies"].items():
        specs += [m for m in members if not m.startswith(project["name"])]
    return {requirement_name(s): s.replace(" ", "") for s in specs}


def environment_packages(repo_root) -> dict[str, str]:
    packages = {}
    text = (repo_root / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        match = re.match(r"^\s*-\s+([^\s#]+)", line)
        if match and not match.group(1).endswith(":") and match.group(1) not in ("-e", "pip"):
            spec = match.group(1)
            if requirement_name(spec) != "python":
                packages[requirement_name(spec)] = spec
    return packages


def test_environment_yml_lists_the_same_packages_as_pyproject(repo_root):
    assert environment_packages(repo_root) == pyproject_packages(repo_root)


def test_environment_yml_asks_for_the_same_python(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    assert f"python{project['requires-python']}" in (repo_root / "environment.yml").read_text()


def test_ci_runs_the_readme_test_command(repo_root):
    readme = (repo_root / "README.md").read_text()
    ci = (repo_root / ".ci" / "run").read_text()
    commands = re.findall(r"^(python3 tasks\.py \w+)$", readme, flags=re.M)
    assert "python3 tasks.py test" in commands and "python3 tasks.py lab" in commands
    assert re.search(r"^python3 tasks\.py test$", ci, flags=re.M)
