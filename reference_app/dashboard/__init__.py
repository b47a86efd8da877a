"""The read-only web dashboard: one HTML page and plain JS modules over the REST API.

No build step: the browser loads the files in ``static/`` as they are.
"""

from reference_app.dashboard.routes import blp

__all__ = ["blp"]
