"""Reusable widgets of the workbench app."""

from workbench.tui.widgets.image_list import Column, ImageList, RowMark

__all__ = ["Column", "ImageList", "RowMark"]
