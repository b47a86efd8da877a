"""deploy/platform/Dockerfile's essentials, read from the file (no Docker engine here)."""

from __future__ import annotations

import importlib.metadata
import json
import re

from rendered import DEPLOY, find, render

DOCKERFILE = (DEPLOY / "platform" / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_base_image_is_pinned_and_multi_stage() -> None:
    [default] = [rest for word, rest in _instructions() if word == "ARG" and "PYTHON_IMAGE" in rest]
    image = default.split("=", 1)[1]
    # A full version (or a digest), never a floating tag.
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", image), image
    stages = _stages()
    assert len(stages) == 2
    assert stages[0][0][1].endswith(" AS build")


def test_final_stage_runs_as_non_root_without_build_tools() -> None:
    final = _stages()[-1]
    [user] = [rest for word, rest in final if word == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0, "numeric, so runAsNonRoot can verify it"
    # Nothing is installed or built in the final stage: it copies the finished venv.
    assert not [rest for word, rest in final if word == "RUN"]
    [copy] = [rest for word, rest in final if word == "COPY"]
    assert copy.startswith("--from=build ")
    assert "pip uninstall -y pip" in DOCKERFILE


def test_no_remote_add_and_an_exec_form_entrypoint() -> None:
    assert not [rest for word, rest in _instructions() if word == "ADD"]
    [entrypoint] = [rest for word, rest in _instructions() if word == "ENTRYPOINT"]
    [cmd] = [rest for word, rest in _instructions() if word == "CMD"]
    # JSON arrays: the process is PID 1 without a shell between it and SIGTERM.
    assert json.loads(entrypoint) == ["obsyk"]
    assert json.loads(cmd)[:3] == ["serve", "--host", "0.0.0.0"]


def test_version_label_is_the_package_version() -> None:
    version = importlib.metadata.version("obsyk")
    defaults = {rest for word, rest in _instructions() if word == "ARG" and "OBSYK_VERSION" in rest}
    assert defaults == {f"OBSYK_VERSION={version}"}
    assert 'org.opencontainers.image.version="${OBSYK_VERSION}"' in DOCKERFILE
    # The build itself refuses a label that disagrees with the installed package.
    assert 'm.version("obsyk")' in DOCKERFILE and '= "${OBSYK_VERSION}"' in DOCKERFILE


def test_health_is_documented_as_the_probes_the_manifests_use() -> None:
    assert "/healthz" in DOCKERFILE and "/readyz" in DOCKERFILE
    api = find(render("platform-prod"), "Deployment", "obsyk-api")
    [container] = api["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    [port] = [word for word, rest in _instructions() if word == "EXPOSE" for word in rest.split()]
    assert container["ports"][0]["containerPort"] == int(port)
