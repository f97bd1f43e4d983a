"""The `stackextract` command: clean, extract, batch, export, review, datasette-metadata,
schema, eval.

Takes: arguments. Gives: text or JSON on stdout, one-line errors, exit codes 0/1/2.
`main` is the console-script entry point; render prints Stacks and reports with rich.
"""

from __future__ import annotations

from stackextract.cli.main import main

__all__ = ["main"]
