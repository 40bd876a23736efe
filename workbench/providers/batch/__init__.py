"""The batch provider: models, driver and auth."""
