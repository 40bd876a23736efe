"""Image Workbench: quick, safe ad-hoc image edits on four clouds.

Kept import-light on purpose: the app's start-up time depends on it. The
notebook API (``workbench.demo()``, ``workbench.open("prod")``) is loaded on
first use from ``workbench.notebook``.
"""

__version__ = "0.1.0"

_NOTEBOOK = {"demo", "open", "Workbench"}


def __getattr__(name: str):
    if name in _NOTEBOOK:
        from workbench import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_NOTEBOOK])
