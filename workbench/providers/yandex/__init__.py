"""The yandex provider: models, driver and auth."""
