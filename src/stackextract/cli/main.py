"""The `stackextract` command: clean, extract, batch, reextract, import, export, review,
schema, eval.

Exit codes: 0 ok, 1 some items failed, 2 usage or input errors. Errors print as one line
unless --debug is given.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from stackextract.errors import StackExtractError, one_line

F = TypeVar("F", bound=Callable[..., Any])
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# batch.runner's defaults, repeated so that `--help` does not import the batch machinery
# (a test keeps them equal, and equal to the README and docs/batch.md)
DEFAULT_CONCURRENCY, DEFAULT_PER_HOST = 8, 2


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def friendly_errors(func: F) -> F:
    """Turn exceptions into one line on stderr (a traceback only with --debug)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:  # `... | head` closed the pipe: the reader has what it wants
            _quiet_stdout()
            sys.exit(EXIT_OK)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as exc:
            if debug:
                raise
            if isinstance(exc, StackExtractError):
                code = EXIT_FAILED if exc.stage in ("fetch", "clean", "extract") else EXIT_USAGE
                _fail(f"{exc.stage}: {one_line(str(exc))}", code)
            _fail(f"{type(exc).__name__}: {one_line(str(exc))} (run with --debug for details)",
                  EXIT_FAILED)

    return wrapper  # type: ignore[return-value]


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def backend_options(func: F) -> F:
    """The options every command that extracts shares."""
    options = [
        click.option("--backend", type=click.Choice(["auto", "offline", "llm"]), default=None,
                     help="offline (the default, or $STACKEXTRACT_BACKEND): no network or key; "
                          "llm: a model endpoint (may cost money); auto: llm if "
                          "OPENAI_API_KEY or OPENAI_BASE_URL is set, and it says so."),
        click.option("--model", default=None, help="Model name (env STACKEXTRACT_MODEL)."),
        click.option("--base-url", default=None,
                     help="OpenAI-compatible endpoint (env OPENAI_BASE_URL)."),
        click.option("--mode", default=None,
                     help="instructor mode: json_schema, tools, json, md_json "
                          "(env STACKEXTRACT_LLM_MODE)."),
        click.option("--max-tokens", type=int, default=None, help="Completion token cap."),
        click.option("--hints/--no-hints", default=None,
                     help="Pass the offline extractor's candidate tools to the model."),
        click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False), default=None,
                     help="Your own catalog JSON, merged over the bundled one (it can add, "
                          "replace and remove entries and aliases; docs/catalog.md)."),
        click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=None,
                     help="Drop items below this confidence, 0 to 1 (default 0.2)."),
        click.option("--strict", is_flag=True, help="Drop items whose quote is not found."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(
    backend: str | None, model: str | None, base_url: str | None, mode: str | None,
    max_tokens: int | None, hints: bool | None, catalog_path: str | None,
) -> dict[str, Any]:
    from stackextract.catalog.vocabulary import Catalog

    settings: dict[str, Any] = {"model": model, "base_url": base_url, "mode": mode,
                                "max_tokens": max_tokens, "hints": hints}
    settings = {k: v for k, v in settings.items() if v is not None}
    if catalog_path:
        settings["catalog"] = Catalog.default(extra=catalog_path)
    return settings


class _Main(click.Group):
    """`--debug` works before or after the command name (`stackextract extract X --debug`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            args = ["--debug", *(a for i, a in enumerate(args) if i >= end or a != "--debug")]
        return super().parse_args(ctx, args)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True,
              help="Show tracebacks instead of one-line errors (before or after the command).")
@click.version_option(package_name="stackextract")
def main(debug: bool) -> None:
    """Turn writeups about tech stacks into grounded, structured records."""
    import logging

    # trafilatura warns on every page whose first pass finds little; our errors say enough
    logging.getLogger("trafilatura").setLevel(logging.DEBUG if debug else logging.ERROR)


@main.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print the Document as JSON.")
@click.option("--allow-private", is_flag=True, help="Allow URLs on private/loopback addresses.")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=20.0, show_default=True,
              help="Seconds allowed for fetching a URL.")
@friendly_errors
def clean(source: str, as_json: bool, allow_private: bool, timeout: float) -> None:
    """Print the cleaned text the extractor sees, with its metadata."""
    from stackextract.sources.load import load

    document = load(source, allow_private=allow_private, timeout=timeout)
    if as_json:
        click.echo(document.model_dump_json(indent=2))
        return
    for label, value in (("title", document.title), ("author", document.author),
                         ("published", document.published), ("site", document.site_name),
                         ("url", document.final_url or document.url), ("path", document.path),
                         ("format", document.format), ("sha256", document.content_sha256)):
        if value:
            click.echo(f"{label}: {value}")
    click.echo("")
    click.echo(document.text)


min_relevance_option = click.option(
    "--min-relevance", type=click.FloatRange(0, 1), default=None,
    help="Keep nothing of a page scored less likely than this to be a stack writeup "
         "(offline backend; default 0.5, 0 keeps every page).")


@main.command()
@click.argument("source")
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the Stack as JSON.")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="Also store the result in this SQLite file.")
@click.option("--prefix", default="",
              help="Table name prefix in --db (to share another tool's database).")
@click.option("--allow-private", is_flag=True, help="Allow URLs on private/loopback addresses.")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=20.0, show_default=True,
              help="Seconds allowed for fetching a URL.")
@min_relevance_option
@friendly_errors
def extract(source: str, backend: str | None, model: str | None, base_url: str | None,
            mode: str | None, max_tokens: int | None, hints: bool | None,
            catalog_path: str | None, min_confidence: float | None, strict: bool,
            as_json: bool, db: str | None, prefix: str, allow_private: bool,
            timeout: float, min_relevance: float | None) -> None:
    """Extract the stack of one writeup (URL, file, or - for stdin)."""
    from stackextract.extractors import announce_backend, get_extractor, resolve_backend
    from stackextract.pipeline import (
        DEFAULT_MIN_CONFIDENCE,
        DEFAULT_MIN_RELEVANCE,
        process_document,
        stored_config_key,
    )
    from stackextract.sources.load import load

    settings = _settings(backend, model, base_url, mode, max_tokens, hints, catalog_path)
    resolved = resolve_backend(backend, **settings)
    threshold = DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence
    store = None
    if db:  # opened first: a database that is not ours is refused before any work
        from stackextract.store.database import Store

        store = Store(db, prefix=prefix)
    try:
        document = load(source, allow_private=allow_private, timeout=timeout)
        announce_backend(backend, resolved, settings)
        extractor = get_extractor(resolved, **settings)
        relevance = DEFAULT_MIN_RELEVANCE if min_relevance is None else min_relevance
        stack = process_document(
            document, extractor, strict=strict, min_confidence=threshold,
            min_relevance=relevance,
        )
        if store is not None:
            key = stored_config_key(extractor, strict=strict, min_confidence=threshold,
                                    min_relevance=relevance)
            result = store.save(document, stack, config_key=key)
    finally:
        if store is not None:
            store.close()
    if db:
        click.echo(f"stored in {db} ({'new' if result.created else 'already there'})", err=True)
    if as_json:
        click.echo(stack.model_dump_json(indent=2))
    else:
        from stackextract.cli.render import print_stack

        print_stack(stack)


def run_options(func: F) -> F:
    """Options of the commands that run many documents (batch, reextract)."""
    options = [
        min_relevance_option,
        click.option("--concurrency", type=click.IntRange(1, 512), default=DEFAULT_CONCURRENCY,
                     show_default=True,
                     help="Pages in flight and model requests in flight, for the whole run."),
        click.option("--force", is_flag=True,
                     help="Re-extract even what is already stored (from the stored text: no "
                          "page is fetched again)."),
        click.option("--limit", type=click.IntRange(1), default=None,
                     help="Process at most N sources."),
        click.option("--prefix", default="",
                     help="Table name prefix (to share another tool's database)."),
        click.option("--workers", type=click.IntRange(1, 64), default=None,
                     help="Processes for cleaning and offline extraction (default: CPU count); "
                          "with batch --engine ray: actors (default: one per CPU of the "
                          "cluster)."),
        click.option("--model-processes", type=click.IntRange(0, 64), default=None,
                     help="Processes making model calls for the llm backend (default: one per "
                          "core; 0 = in the main process)."),
        click.option("--dry-run", is_flag=True,
                     help="Make no model request: report documents, chunks, estimated tokens "
                          "and cost (pages not yet stored are fetched and kept)."),
        click.option("--price-in", type=click.FloatRange(0), default=None,
                     help="With --dry-run: price of a million input tokens, for the estimate."),
        click.option("--price-out", type=click.FloatRange(0), default=None,
                     help="With --dry-run: price of a million output tokens."),
        click.option("--progress/--no-progress", default=None,
                     help="Progress bar (default: on when stderr is a terminal)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run_settings(backend: str | None, model: str | None, base_url: str | None,
                  mode: str | None, max_tokens: int | None, hints: bool | None,
                  catalog_path: str | None) -> dict[str, Any]:
    settings = _settings(backend, model, base_url, mode, max_tokens, hints, catalog_path)
    if catalog_path:  # workers load it themselves (a path pickles; a Catalog is large)
        settings.pop("catalog")
        settings["catalog_path"] = catalog_path
    return settings


@main.command()
@click.argument("sources", nargs=-1, required=False)
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite file to fill (with --engine ray: import the results into it).")
@backend_options
@run_options
@click.option("--per-host", type=click.IntRange(1, 64), default=DEFAULT_PER_HOST, show_default=True,
              help="Concurrent requests per host (politeness).")
@click.option("--retry-failed", is_flag=True,
              help="Re-run only the sources that failed before (404s and pages robots.txt "
                   "kept out included).")
@click.option("--refetch", is_flag=True,
              help="Fetch stored pages again, conditionally (ETag / Last-Modified).")
@click.option("--keep-raw", is_flag=True,
              help="Also store each fetched page as it came, compressed (table pages).")
@click.option("--ignore-robots", is_flag=True,
              help="Do not read or obey robots.txt (for your own sites only).")
@click.option("--user-agent", default=None,
              help="User-Agent header, also matched against robots.txt (default names "
                   "stackextract and its URL).")
@click.option("--contact", default=None,
              help="An e-mail address or URL put into the default User-Agent, so that site "
                   "owners can reach you.")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=20.0, show_default=True,
              help="Seconds allowed for each page fetch (connect, headers and body).")
@click.option("--allow-private", is_flag=True, help="Allow URLs on private/loopback addresses.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
              show_default=True,
              help="local: this machine into --db; ray: a Ray cluster into parts under --out.")
@click.option("--address", default=None,
              help="--engine ray: the cluster to join (auto, ray://host:10001); default: "
                   "start a local Ray.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="--engine ray: folder for the result parts (re-runs resume from it).")
@click.option("--out-format", type=click.Choice(["parquet", "jsonl"]), default="parquet",
              show_default=True, help="--engine ray: format of the result parts.")
@click.option("--max-model-requests", type=click.IntRange(1), default=None,
              help="--engine ray: model requests in flight across the whole cluster.")
@friendly_errors
def batch(sources: tuple[str, ...], db: str, backend: str | None, model: str | None,
          base_url: str | None, mode: str | None, max_tokens: int | None,
          hints: bool | None, catalog_path: str | None, min_confidence: float | None,
          strict: bool, concurrency: int, force: bool, limit: int | None, prefix: str,
          workers: int | None, model_processes: int | None, dry_run: bool,
          price_in: float | None, price_out: float | None, progress: bool | None,
          per_host: int, retry_failed: bool, refetch: bool, keep_raw: bool,
          ignore_robots: bool, user_agent: str | None, contact: str | None, timeout: float,
          allow_private: bool, engine: str, address: str | None, out_dir: str | None,
          out_format: str, max_model_requests: int | None,
          min_relevance: float | None) -> None:
    """Extract many sources (files, directories, files of URLs, - for a URL list on stdin)
    into a SQLite file.

    With --engine ray the same work runs on a Ray cluster and its results go to Parquet or
    JSONL parts under --out (load them with `stackextract import`, or give --db too).
    """
    from stackextract.batch.runner import run_batch
    from stackextract.sources.fetch import user_agent as default_user_agent

    if not sources and not retry_failed:
        raise click.UsageError("give at least one source (file, directory or URL list)")
    settings = _run_settings(backend, model, base_url, mode, max_tokens, hints, catalog_path)
    fetch_options = {"timeout": timeout, "user_agent": user_agent or default_user_agent(contact)}
    if engine == "ray":
        if out_dir is None:
            raise click.UsageError("--engine ray needs --out FOLDER for the result parts")
        if retry_failed:
            raise click.UsageError("--engine ray re-runs failed sources anyway: drop "
                                   "--retry-failed and run the same command again")
        _ray_batch(list(sources), out=out_dir, output_format=out_format, address=address,
                   db=db, prefix=prefix, force=force, limit=limit, backend=backend,
                   concurrency=concurrency, per_host=per_host, actors=workers,
                   max_model_requests=max_model_requests, allow_private=allow_private,
                   progress=progress, fetch_options=fetch_options, robots=not ignore_robots,
                   strict=strict, min_confidence=min_confidence,
                   min_relevance=min_relevance, **settings)
        return
    if db is None:
        raise click.UsageError("give --db FILE (the SQLite file to fill)")
    summary = run_batch(
        list(sources), db=db, backend=backend, concurrency=concurrency, per_host=per_host,
        retry_failed=retry_failed, force=force, limit=limit, allow_private=allow_private,
        progress=progress, prefix=prefix, strict=strict, workers=workers,
        model_processes=model_processes, fetch_options=fetch_options,
        robots=not ignore_robots, keep_raw=keep_raw, refetch=refetch, dry_run=dry_run,
        price_in=price_in, price_out=price_out,
        min_confidence=min_confidence, min_relevance=min_relevance, **settings,
    )
    click.echo(summary.line(), err=True)
    sys.exit(0 if dry_run and not summary.interrupted else summary.exit_code)


def _ray_batch(sources: list[str], **options: Any) -> None:
    try:
        from stackextract.ray.dataset import run_job
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("ray", "pyarrow"):
            raise
        _fail("--engine ray needs Ray: pip install 'stackextract[ray]'")
    summary = run_job(sources, **options)
    click.echo(summary.line(), err=True)
    sys.exit(summary.exit_code)


@main.command(name="import")
@click.argument("parts", nargs=-1, required=True)
@click.option("--db", type=click.Path(dir_okay=False), required=True, help="SQLite file to fill.")
@click.option("--prefix", default="", help="Table name prefix (to share another tool's DB).")
@friendly_errors
def import_command(parts: tuple[str, ...], db: str, prefix: str) -> None:
    """Load result parts of `batch --engine ray` (Parquet or JSONL files or folders) into a
    SQLite file, as batch stores them: nothing stored twice, a re-import adds nothing."""
    from stackextract.ray.parts import import_parts

    summary = import_parts(list(parts), db=db, prefix=prefix)
    click.echo(summary.line(), err=True)
    sys.exit(summary.exit_code)


@main.command()
@click.argument("sources", nargs=-1, required=False)
@click.option("--db", type=click.Path(dir_okay=False, exists=True), required=True,
              help="SQLite file whose stored documents are extracted again.")
@backend_options
@run_options
@friendly_errors
def reextract(sources: tuple[str, ...], db: str, backend: str | None, model: str | None,
              base_url: str | None, mode: str | None, max_tokens: int | None,
              hints: bool | None, catalog_path: str | None, min_confidence: float | None,
              strict: bool, concurrency: int, force: bool, limit: int | None, prefix: str,
              workers: int | None, model_processes: int | None, dry_run: bool,
              price_in: float | None, price_out: float | None,
              progress: bool | None, min_relevance: float | None) -> None:
    """Extract the stored text of every stored document again (or of SOURCES), under the
    current settings: nothing is fetched or read. Already extracted under the same settings:
    skipped, unless --force."""
    from stackextract.batch.runner import run_batch

    settings = _run_settings(backend, model, base_url, mode, max_tokens, hints, catalog_path)
    summary = run_batch(
        list(sources), db=db, backend=backend, concurrency=concurrency, force=force,
        limit=limit, progress=progress, prefix=prefix, strict=strict, workers=workers,
        model_processes=model_processes, reextract=True, dry_run=dry_run,
        price_in=price_in, price_out=price_out, min_confidence=min_confidence,
        min_relevance=min_relevance, **settings,
    )
    click.echo(summary.line(), err=True)
    sys.exit(0 if dry_run and not summary.interrupted else summary.exit_code)


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, exists=True), required=True,
              help="SQLite file to read.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True, help="jsonl: one Stack a line; csv: one file a table.")
@click.option("--output", "-o", default="-",
              help="File for jsonl (- for stdout), directory for csv.")
@click.option("--prefix", default="", help="Table name prefix used when storing.")
@click.option("--all", "all_versions", is_flag=True,
              help="Every extraction, not only the latest per document.")
@friendly_errors
def export(db: str, fmt: str, output: str, prefix: str, all_versions: bool) -> None:
    """Export stored stacks as JSONL (one Stack a line) or CSV (one file a table)."""
    from stackextract.store.database import Store
    from stackextract.store.export import export_csv, export_jsonl

    store = Store(db, prefix=prefix, read_only=True)  # works on read-only media too
    try:
        if fmt == "jsonl":
            target: Any = sys.stdout if output == "-" else output
            skipped: list[int] = []
            count = export_jsonl(store, target, latest=not all_versions, skipped=skipped)
            click.echo(f"exported {count} stacks", err=True)
            if skipped:
                shown = ", ".join(map(str, skipped[:10])) + (" ..." if len(skipped) > 10 else "")
                _fail(f"store: skipped {len(skipped)} row(s) whose stack_json is not a valid "
                      f"Stack (extraction id {shown}); the others are exported", EXIT_FAILED)
        else:
            if output == "-":
                raise click.UsageError("--format csv needs --output DIRECTORY")
            paths = export_csv(store, output)
            click.echo(f"wrote {len(paths)} CSV files to {output}", err=True)
    finally:
        store.close()


@main.command()
@click.option("--output", "-o", type=click.Path(file_okay=False), default=None,
              help="Write the schema files to this directory (default: print stack schema).")
@click.option("--check", type=click.Path(file_okay=False), default=None,
              help="Exit 1 if the schema files in this directory are stale.")
@friendly_errors
def schema(output: str | None, check: str | None) -> None:
    """Print or write the JSON Schemas of the output and of the gold format."""
    from stackextract.store.json_schema import render, stale_schemas, write_schemas

    if check:
        stale = stale_schemas(check)
        if stale:
            _fail(f"stale schema files in {check}: {', '.join(stale)}; "
                  f"run `stackextract schema -o {check}`", EXIT_FAILED)
        click.echo("schemas are up to date")
        return
    if output:
        for path in write_schemas(output):
            click.echo(f"wrote {path}")
        return
    click.echo(render("stack.schema.json"), nl=False)


@main.command()
@click.argument("source")
@click.option("--output", "-o", default=None,
              help="Page to write (one source), or folder / index .html (a database).")
@click.option("--graph", "graph_format", type=click.Choice(["dot", "mermaid"]), default=None,
              help="Print the migration graph as Graphviz DOT or Mermaid text instead "
                   "(to -o if given).")
@click.option("--prefix", default="", help="Table name prefix used when storing.")
@backend_options
@click.option("--allow-private", is_flag=True, help="Allow URLs on private/loopback addresses.")
@friendly_errors
def review(source: str, output: str | None, graph_format: str | None, prefix: str,
           backend: str, model: str | None, base_url: str | None, mode: str | None,
           max_tokens: int | None, hints: bool | None, catalog_path: str | None,
           min_confidence: float | None, strict: bool, allow_private: bool) -> None:
    """Write an HTML review of a database (index + one page per document) or of one source.

    A SQLite file is reviewed as stored; any other SOURCE is extracted first (offline or
    LLM, as for `extract`). Open the page offline in any browser; see docs/review.md.
    """
    from stackextract.review import graph_text, is_database
    from stackextract.review import review as write_review

    settings = _settings(backend, model, base_url, mode, max_tokens, hints, catalog_path)
    settings["strict"] = strict
    if min_confidence is not None:
        settings["min_confidence"] = min_confidence
    if graph_format:
        text = graph_text(source, graph_format, prefix=prefix, backend=backend,
                          allow_private=allow_private, **settings)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=False)
        return
    if not output:
        raise click.UsageError("give -o OUTPUT (a .html file, or a folder for a database)")
    path = write_review(source, output, prefix=prefix, backend=backend,
                        allow_private=allow_private, **settings)
    kind = "database" if is_database(source) else "source"
    click.echo(f"wrote {path} ({kind} review)", err=True)


@main.command(name="datasette-metadata")
@click.option("--db", type=click.Path(dir_okay=False, exists=True), required=True,
              help="SQLite file to describe.")
@click.option("--prefix", default="", help="Table name prefix used when storing.")
@click.option("--output", "-o", default="metadata.json", show_default=True,
              help="File to write (- for stdout).")
@click.option("--title", default=None, help="Title shown by Datasette.")
@friendly_errors
def datasette_metadata(db: str, prefix: str, output: str, title: str | None) -> None:
    """Write Datasette's metadata.json: table/view descriptions, facets on status, category."""
    import contextlib

    from stackextract.errors import StoreError
    from stackextract.store.database import Store
    from stackextract.store.datasette import database_name, metadata

    Store(db, prefix=prefix, read_only=True).close()  # ours? (else one line, nothing written)
    with contextlib.suppress(StoreError):  # add views newer than the file (if writable)
        Store(db, prefix=prefix).close()
    text = json.dumps(metadata(database_name(db), prefix=prefix, title=title), indent=2)
    if output == "-":
        click.echo(text)
        return
    Path(output).write_text(text + "\n", encoding="utf-8")
    click.echo(f"wrote {output}: datasette {db} -m {output}", err=True)


@main.command(name="eval")
@click.option("--gold", "gold_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="Folder of gold label files (*.json).")
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, exists=True),
              default=None, help="Folder of the writeups (default: ../corpus beside --gold).")
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="List false positives and negatives.")
@friendly_errors
def eval_command(gold_dir: str, corpus_dir: str | None, backend: str, model: str | None,
                 base_url: str | None, mode: str | None, max_tokens: int | None,
                 hints: bool | None, catalog_path: str | None, min_confidence: float | None,
                 strict: bool, as_json: bool, verbose: bool) -> None:
    """Score a backend against gold labels (precision, recall, F1, status accuracy)."""
    from stackextract.evaluation.score import evaluate
    from stackextract.extractors import announce_backend, get_extractor, resolve_backend
    from stackextract.pipeline import DEFAULT_MIN_CONFIDENCE, process_document

    corpus = Path(corpus_dir) if corpus_dir else Path(gold_dir).resolve().parent / "corpus"
    settings = _settings(backend, model, base_url, mode, max_tokens, hints, catalog_path)
    resolved = resolve_backend(backend, **settings)
    announce_backend(backend, resolved, settings)
    extractor = get_extractor(resolved, **settings)
    threshold = DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence
    report = evaluate(
        gold_dir, corpus, backend=resolved,
        run=lambda doc: process_document(doc, extractor, strict=strict, min_confidence=threshold),
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        from stackextract.cli.render import print_report

        print_report(report, verbose=verbose)
    if any(f.error for f in report.files):
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":  # pragma: no cover
    main()
