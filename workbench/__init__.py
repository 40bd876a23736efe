"""Image Workbench: quick, safe ad-hoc image edits on four clouds.

Kept import-light on purpose: the app's start-up time depends on it.
"""

__version__ = "0.1.0"
