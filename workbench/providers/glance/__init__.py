"""The glance provider: models, driver and auth."""
