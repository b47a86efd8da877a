"""Placeholder: being written."""


def main() -> None:
    raise SystemExit("obsyk-operator: not built yet")
