"""A third-party plugin installed the way pip installs one, without pip or a network.

A module and its ``.dist-info`` (``METADATA`` and an ``obsyk`` entry point)
in a folder: on ``sys.path`` (``PYTHONPATH`` for a subprocess) the plugin
manager finds it through ``importlib.metadata`` exactly as it finds a
``pip install``-ed plugin.
"""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def install_example_plugin(site: Path) -> Path:
    """Install ``examples/obsyk_cert_manager.py`` as ``obsyk-cert-manager`` in ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "obsyk_cert_manager.py", site / "obsyk_cert_manager.py")
    info = site / "obsyk_cert_manager-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: obsyk-cert-manager\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text("[obsyk]\ncert_manager = obsyk_cert_manager\n")
    return site
