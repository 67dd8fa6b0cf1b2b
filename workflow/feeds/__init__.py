"""CSV imports (feeds) of securities, prices, accounts and positions with lots.

``reader`` streams and decodes files and parses cells; ``errors`` holds the error report; one
module per kind validates and applies; ``service`` runs an import end to end and records it.
The file formats are documented in ``docs/imports.md``.
"""
