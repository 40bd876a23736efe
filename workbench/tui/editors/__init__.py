"""The per-provider request editors (see ``base`` for the contract with their host).

``editor_for`` picks one; each provider's module is imported only when its
editor is asked for, so opening the app costs none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.tui.editors.base import EditorWidget, FieldError, field_errors

if TYPE_CHECKING:
    from workbench.core.images import ImageSummary
    from workbench.providers.base import Driver

__all__ = ["EditorWidget", "FieldError", "editor_for", "field_errors"]


def editor_for(provider: str, driver: Driver, image: ImageSummary | None) -> EditorWidget | None:
    """A new, unmounted editor for ``provider``'s ``image`` (None: a new image),
    or None when the provider has no editor for that case."""
    if provider in ("glance", "ims"):
        if image is None:
            return None  # Glance edits an image with a JSON patch; there is nothing to patch yet
        from workbench.tui.editors.glance import GlanceEditor

        return GlanceEditor(driver, image)  # type: ignore[arg-type]
    if provider == "yandex":
        from workbench.tui.editors.yandex import YandexEditor

        return YandexEditor(driver, image)  # type: ignore[arg-type]
    if provider == "kusto":
        from workbench.tui.editors.kusto import KustoEditor

        return KustoEditor(driver, image)  # type: ignore[arg-type]
    if provider == "batch":
        from workbench.tui.editors.batch import BatchEditor

        return BatchEditor(driver, image)  # type: ignore[arg-type]
    return None
