"""Platform layer: shared middle-platform services (database, errors, i18n,
dictionaries, numbering, attachments). Imports nothing from the other layers."""
