"""The shared core: HTTP, errors, request log, operations, auth base."""
