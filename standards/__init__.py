"""Formats, schemas, loaders and validators for what HQ authors as files, and the brand's default library.

Pure Python: no web framework, no database.
"""
