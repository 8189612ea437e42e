"""Runtime layer: interpreters of metadata specs (entity tables, schema sync,
record service, HTTP faces)."""
