"""The deployable Obsyk platform: a Flask app over obsyk_core and its plugins."""

from reference_app.app import create_app

__all__ = ["create_app"]
