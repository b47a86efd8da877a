"""Meta-test: every hook is documented in docs/reference/hooks.md and exercised by a test."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from obsyk_core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS_DOC = ROOT / "docs" / "reference" / "hooks.md"


def hook_names() -> list[str]:
    return sorted(
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("obsyk_") and hasattr(function, "obsyk_spec")
    )


def doc_section(name: str) -> str:
    """The text of the hook's ``### `name``` section, up to the next heading of any level."""
    text = HOOKS_DOC.read_text()
    match = re.search(rf"^### `{name}`\n(.*?)(?=^#{{1,3}} |\Z)", text, re.M | re.S)
    return match.group(1) if match else ""


def documented_functions(name: str) -> list[ast.FunctionDef]:
    """Every ``def name(...)`` in the section's Python blocks: the signature, then examples."""
    functions = []
    for block in re.findall(r"```python\n(.*?)```", doc_section(name), re.S):
        if block.lstrip().startswith(f"def {name}(") and not block.rstrip().endswith(":"):
            block = block.rstrip() + ": ..."  # the bare signature, made a function to parse
        tree = ast.parse(block)
        functions += [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name == name
        ]
    return functions


def spec_parameters(name: str) -> dict[str, str]:
    """The spec's argument names with their annotations' last dotted part."""
    spec = getattr(hookspecs, name)
    return {
        parameter.name: str(parameter.annotation).rsplit(".", 1)[-1]
        for parameter in inspect.signature(spec).parameters.values()
    }


def test_hook_specs_are_found() -> None:
    assert "obsyk_register_kinds" in hook_names()
    assert "obsyk_resource_changed" in hook_names()


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_has_a_documented_section_with_an_example(name: str) -> None:
    section = doc_section(name)
    assert section, f"docs/reference/hooks.md has no '### `{name}`' section"
    assert f"def {name}(" in section, f"the {name} section shows no signature"
    assert "**When:**" in section, f"the {name} section does not say when it is called"
    assert "**Example" in section and "@hookimpl" in section, f"the {name} section has no example"


@pytest.mark.parametrize("name", hook_names())
def test_every_documented_signature_matches_the_spec(name: str) -> None:
    signature, *examples = documented_functions(name)
    documented = {
        arg.arg: ast.unparse(arg.annotation).rsplit(".", 1)[-1] if arg.annotation else ""
        for arg in signature.args.args
    }
    assert documented == spec_parameters(name), (
        f"docs/reference/hooks.md shows {name}({', '.join(documented)}), "
        f"the spec in obsyk_core/hookspecs.py is {name}({', '.join(spec_parameters(name))})"
    )
    assert examples, f"the {name} section has no example implementation"
    for example in examples:
        # pluggy lets an implementation take a subset of the spec's arguments, never others.
        used = [arg.arg for arg in example.args.args]
        assert set(used) <= set(documented), f"the {name} example takes {used}"


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_is_mentioned_by_a_test(name: str) -> None:
    this_file = Path(__file__).resolve()
    mentioning = [
        path
        for path in (ROOT / "tests").rglob("test_*.py")
        if path.resolve() != this_file and name in path.read_text()
    ]
    assert mentioning, f"no test under tests/ mentions the hook {name}"
