"""The URL operators must be given (``--platform-url``), computed in one place.

It is the first of the platform's public URLs, which are also the audiences
its token endpoint accepts: an operator configured with any other URL is
refused.  With ``OBSYK_PUBLIC_URL`` set that is a fact.  Without it,
``obsyk serve`` accepts the address it listens on and records it in the
instance folder, so the other ``obsyk`` commands (``clusters register``)
print that address; before any ``serve``, only the default one.  Either way
it is a guess about how operators will reach the platform, and is said to be.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reference_app.config import DEFAULT_PUBLIC_URLS, Settings

#: Where ``obsyk serve`` records the URLs it serves when ``OBSYK_PUBLIC_URL`` is unset.
SERVED_URLS_FILE = "served-urls"


@dataclass(frozen=True, slots=True)
class OperatorUrl:
    url: str
    #: Why ``url`` is a guess; ``None`` when it is configured (``OBSYK_PUBLIC_URL``).
    guess: str | None = None


def served_urls(host: str, port: int) -> tuple[str, ...]:
    """The URLs ``obsyk serve`` accepts as audiences when ``OBSYK_PUBLIC_URL`` is unset."""
    urls = [f"http://{host}:{port}"]
    if host in ("127.0.0.1", "0.0.0.0"):
        urls.append(f"http://localhost:{port}")
    return tuple(urls)


def record_served_urls(instance_path: Path, urls: tuple[str, ...]) -> None:
    instance_path.mkdir(parents=True, exist_ok=True)
    (instance_path / SERVED_URLS_FILE).write_text("\n".join(urls) + "\n")


def operator_url(settings: Settings, instance_path: Path) -> OperatorUrl:
    """What operators of this platform must be configured with, and whether it is a guess."""
    if settings.public_urls != DEFAULT_PUBLIC_URLS:
        return OperatorUrl(settings.public_urls[0])
    recorded = instance_path / SERVED_URLS_FILE
    if recorded.exists():
        url = recorded.read_text().split()[0]
        return OperatorUrl(
            url,
            "OBSYK_PUBLIC_URL is not set; this is the address `obsyk serve` last listened on "
            "with this instance folder. Operators on other machines reach the platform "
            "another way: set OBSYK_PUBLIC_URL to that URL on the platform and use it.",
        )
    return OperatorUrl(
        DEFAULT_PUBLIC_URLS[0],
        "OBSYK_PUBLIC_URL is not set and `obsyk serve` has not run with this instance "
        "folder; this is its default address. Set OBSYK_PUBLIC_URL to the URL operators "
        "reach the platform at.",
    )
