"""Yunying (运营): a metadata-driven platform for hospital operations management.

The import package has five layers, imported one way only:
``designer`` → ``runtime`` → ``metadata`` → ``platform``; ``modules`` holds
configuration packages (YAML only).
"""

__all__ = ["__version__", "create_app"]

__version__ = "0.1.0"


def create_app(config=None):
    """Build a Yunying Flask application (see :mod:`yunying.app`)."""
    from yunying.app import create_app as _create_app

    return _create_app(config)
