"""The kusto provider: models, driver and auth."""
