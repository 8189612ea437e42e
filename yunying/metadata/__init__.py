"""Metadata layer: JSON Schemas, frozen spec objects, package loading and
validation, and the versioned metadata store."""
