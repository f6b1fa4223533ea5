"""The web page and JSON API (``acnekit serve``); see `acnekit.web.app`."""

from acnekit.web.app import create_app

__all__ = ["create_app"]
