"""Bad input files through the real CLI: empty or garbage URL lists, a 100 MB file, and a
directory of files that cannot be read. Each gets one clear line or a recorded failure
(stage "input"), the good sources are stored once, and nothing hangs or eats memory."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from batch_helpers import PageServer
from fault_helpers import (
    assert_each_once,
    batch,
    cli,
    copy_corpus,
    db_state,
    error_line,
    run_measured,
    summary_line,
    unprivileged,
    world_dir,
)

MB = 1024 * 1024
BIG = 100 * MB
# A batch peaks at 220-256 MB before it reads anything: sqlite-utils imports pandas, numpy and
# pyarrow where they are installed (the dev extra has them), about 100 MB of it. Reading the
# 100 MB file, which these tests guard against, would add 100 MB or more on top.
PEAK_MB = 320


# --- URL lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("comments.urls", "# my reading list\n\n   \n# nothing yet\n"),
        ("blank.list", "\n\n\t\n"),
        ("zero.urls", ""),
    ],
)
def test_empty_url_list_is_a_usage_error(tmp_path: Path, name: str, content: str) -> None:
    listing = tmp_path / name
    listing.write_text(content, encoding="utf-8")
    proc = batch(listing, db=tmp_path / "stacks.db")
    assert proc.returncode == 2
    line = error_line(proc)
    assert "the URL list is empty; put one http(s) URL on each line" in line
    assert str(listing) in line
    assert db_state(tmp_path / "stacks.db").documents == 0


def test_url_list_of_only_garbage_is_a_usage_error(tmp_path: Path) -> None:
    listing = tmp_path / "junk.urls"
    listing.write_text("# junk\nnot a url\nhttps://exa mple.com/x\n", encoding="utf-8")
    proc = batch(listing, db=tmp_path / "stacks.db")
    assert proc.returncode == 2
    assert (f"{listing}: no valid URL in the list: 2 invalid line(s), the first is line 2: "
            "'not a url'; put one http(s) URL on each line") in error_line(proc)


def test_empty_txt_url_list_is_a_usage_error_too(tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text("# my reading list\n\n# nothing yet\n", encoding="utf-8")
    proc = batch(listing, db=tmp_path / "stacks.db")
    assert proc.returncode == 2
    assert "the URL list is empty" in error_line(proc)


GARBAGE = [
    "not a url",
    "ftp://example.com/stack",
    "http://",
    "javascript:alert(1)",
    "https://exa mple.com/stack",
    "www.example.com/stack",
    "http://[::1",
    "https://example.com:99999/",
    "\x01\x02garbage\x7f",
    "\ufffd\ufffd broken bytes",
    "x" * 5000,
]


def test_url_list_with_garbage_lines(tmp_path: Path) -> None:
    db = tmp_path / "stacks.db"
    with PageServer() as server:
        good = [server.url(i) for i in range(3)]
        lines = ["# a list with junk in it", good[0], *GARBAGE[:5], good[1], "",
                 good[0] + "#again", *GARBAGE[5:], good[2]]
        listing = tmp_path / "urls.urls"
        listing.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\xfa\n")
        proc = batch(listing, "--allow-private", db=db)
        assert proc.returncode == 1, proc.stderr
        bad = len(GARBAGE) + 1  # + the line of undecodable bytes
        assert f"{3 + bad} sources: 3 extracted, 0 cached, {bad} failed" in summary_line(proc)
        state = db_state(db)
        assert_each_once(state, 3)
        assert len(state.failures) == bad
        for source, (stage, message) in state.failures.items():
            assert stage == "input", source
            assert "not an http(s) URL" in message and len(message) < 200
        assert state.failures["not a url"][1].startswith(f"{listing}:3: ")

        again = batch(listing, "--allow-private", db=db)
        assert again.returncode == 1
        assert f"0 extracted, 3 cached, {bad} failed" in summary_line(again)
        assert_each_once(db_state(db), 3)
        assert all(server.hits[f"/page/{i}"] == 1 for i in range(3))


# --- a 100 MB file -------------------------------------------------------------------------


def _big_text(path: Path, size: int = BIG, *, lines: bool = True) -> Path:
    """size bytes of prose (or one endless line), written in a fraction of a second."""
    para = (b"We run our backend on Python with Django and keep our data in PostgreSQL. " * 12
            + (b"\n\n" if lines else b" "))
    chunk = para * (MB // len(para) + 1)
    with path.open("wb") as fp:
        left = size
        while left:
            fp.write(chunk[:left] if left < len(chunk) else chunk)
            left -= min(left, len(chunk))
    return path


def test_100mb_file_is_refused_quickly_and_in_little_memory(tmp_path: Path) -> None:
    big = _big_text(tmp_path / "huge.md")
    expected = f"{big} is 104,857,600 bytes, over the 10,000,000-byte limit; " \
               "set STACKEXTRACT_MAX_BYTES to a bigger number of bytes to read it"

    extract = run_measured(["extract", str(big), "--backend", "offline"], timeout=30)
    assert extract.returncode == 2, extract.stderr
    assert "Traceback" not in extract.stderr
    assert extract.stderr.strip() == f"error: input: {expected}"
    assert extract.seconds < 15 and extract.peak_rss_mb < PEAK_MB, extract

    db = tmp_path / "stacks.db"
    run = run_measured(["batch", str(big), "--db", str(db), "--backend", "offline",
                        "--no-progress"], timeout=30)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert "1 sources: 0 extracted, 0 cached, 1 failed" in run.stderr
    assert run.seconds < 15 and run.peak_rss_mb < PEAK_MB, run
    state = db_state(db)
    assert state.documents == 0
    assert state.failures == {str(big.resolve()): ("input", expected)}


def test_100mb_on_stdin_is_refused_after_the_limit(tmp_path: Path) -> None:
    big = _big_text(tmp_path / "huge.txt")
    with big.open("rb") as stdin:
        proc = cli("extract", "-", "--backend", "offline", stdin=stdin, timeout=30)
    assert proc.returncode == 2
    assert "stdin holds more than 10,000,000 bytes; set STACKEXTRACT_MAX_BYTES" in (
        error_line(proc))


def test_the_size_limit_is_configurable(tmp_path: Path) -> None:
    (doc,) = copy_corpus(tmp_path / "docs", 1)
    small = cli("extract", doc, "--backend", "offline",
                extra_env={"STACKEXTRACT_MAX_BYTES": "1000"})
    assert small.returncode == 2
    assert "over the 1,000-byte limit; set STACKEXTRACT_MAX_BYTES" in error_line(small)
    junk = cli("extract", doc, "--backend", "offline",
               extra_env={"STACKEXTRACT_MAX_BYTES": "lots"})
    assert junk.returncode == 2
    assert "STACKEXTRACT_MAX_BYTES='lots' is not a positive whole number" in error_line(junk)


def test_100mb_single_line_txt_in_a_batch_stays_small(tmp_path: Path) -> None:
    big = _big_text(tmp_path / "one-line.txt", lines=False)
    run = run_measured(["batch", str(big), "--db", str(tmp_path / "s.db"), "--backend",
                        "offline", "--no-progress"], timeout=30)
    assert run.returncode == 1, run.stderr
    assert run.peak_rss_mb < PEAK_MB, run


# --- a directory of files that cannot be read ---------------------------------------------


def _bad_directory(root: Path) -> dict[str, str]:
    """Two good writeups and one bad file of each kind; returns name -> expected message."""
    copy_corpus(root, 2)
    rng = random.Random(7)
    (root / "x.md").symlink_to(root / "nowhere.md")
    os.mkfifo(root / "y.html")
    (root / "z.md").write_bytes(bytes(rng.randrange(256) for _ in range(6000)))
    (root / "high.md").write_bytes(bytes(rng.randrange(0x80, 0x100) for _ in range(6000)))
    (root / "empty.md").write_bytes(b"")
    (root / "blank.txt").write_bytes(b"  \n\n\t\n")
    (root / "frontmatter-only.md").write_text("---\ntitle: Draft\n---\n", encoding="utf-8")
    return {
        "nowhere.md": "no such file",  # the batch keys a link by its target
        "y.html": "is a named pipe (FIFO), not a regular file",
        "z.md": "looks binary, not text, HTML or markdown",
        "high.md": "is not text in UTF-8 or Windows-1252",
        "empty.md": "is empty; there is nothing to extract",
        "blank.txt": "is empty; there is nothing to extract",
        "frontmatter-only.md": "holds no text once its markup is removed",
    }


def test_directory_with_unreadable_files(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    expected = _bad_directory(docs)
    latin = docs / "latin.txt"  # not UTF-8, but text: read as Windows-1252, stored
    latin.write_bytes("Our stack\n\nWe moved from MySQL to PostgreSQL at the café.\n"
                      .encode("cp1252"))
    db = tmp_path / "stacks.db"
    proc = batch(docs, db=db, timeout=30)  # a blocking read of the FIFO would time out
    assert proc.returncode == 1, proc.stderr
    n = 2 + 1 + len(expected)
    assert f"{n} sources: 3 extracted, 0 cached, {len(expected)} failed" in summary_line(proc)
    state = db_state(db)
    assert_each_once(state, 3)
    failures = {Path(source).name: value for source, value in state.failures.items()}
    assert set(failures) == set(expected)
    for name, fragment in expected.items():
        stage, message = failures[name]
        assert fragment in message, (name, message)
        assert stage == ("clean" if "nothing to extract" in fragment or "no text" in fragment
                         else "input"), (name, stage)
    with_cafe = [s for s in state.shas if s[0].endswith("latin.txt")]
    assert with_cafe


def test_extract_refuses_each_bad_file_in_one_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _bad_directory(docs)
    for name, fragment, code in [
        ("x.md", "no such file", 2),
        ("z.md", "looks binary", 2),
        ("high.md", "is not text in UTF-8", 2),
        ("empty.md", "is empty", 1),
    ]:
        proc = cli("extract", docs / name, "--backend", "offline", timeout=30)
        assert proc.returncode == code, (name, proc.stderr)
        assert fragment in error_line(proc), name


def test_fifo_named_txt_does_not_block_a_batch(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    copy_corpus(docs, 1)
    os.mkfifo(docs / "y.txt")
    # a batch that opened the FIFO would wait for a writer for ever; 30 s tells that apart from
    # a slow start on a loaded machine (two processes, each loading a 20,000-entry catalog)
    proc = batch(docs, db=tmp_path / "stacks.db", timeout=30)
    assert proc.returncode == 1


def test_files_the_user_may_not_read() -> None:
    """chmod 000 stops a normal user (root is run as `nobody` for this)."""
    with world_dir() as root:
        docs = root / "docs"
        copy_corpus(docs, 2)
        secret = docs / "secret.md"
        secret.write_text("We use PostgreSQL.\n", encoding="utf-8")
        secret.chmod(0o000)
        out = root / "out"
        out.mkdir()
        out.chmod(0o777)
        proc = batch(docs, db=out / "stacks.db", user=unprivileged(), timeout=30)
        assert proc.returncode == 1, proc.stderr
        assert "3 sources: 2 extracted, 0 cached, 1 failed" in summary_line(proc)
        state = db_state(out / "stacks.db")
        assert_each_once(state, 2)
        assert state.failures == {
            str(secret): ("input", f"cannot read {secret}: permission denied")
        }


def test_unreadable_subdirectory_is_reported() -> None:
    with world_dir() as root:
        docs = root / "docs"
        copy_corpus(docs, 1)
        hidden = docs / "private"
        hidden.mkdir()
        copy_corpus(hidden, 1)
        hidden.chmod(0o000)
        out = root / "out"
        out.mkdir()
        out.chmod(0o777)
        proc = batch(docs, db=out / "stacks.db", user=unprivileged(), timeout=30)
        assert proc.returncode == 1, proc.stderr
        state = db_state(out / "stacks.db")
        assert str(hidden) in state.failures



# --- gzipped files --------------------------------------------------------------------------


def test_gzipped_pages_are_read_and_bad_gzip_is_one_failure_each(tmp_path: Path) -> None:
    """Saved pages are often kept as .html.gz: read like the plain file (same text, same
    content hash); a gzip bomb, a truncated file and a mislabelled one fail on their own."""
    import gzip

    plain = tmp_path / "plain"
    originals = copy_corpus(plain, 2)
    docs = tmp_path / "docs"
    docs.mkdir()
    for src in originals:
        (docs / (src.name + ".gz")).write_bytes(gzip.compress(src.read_bytes()))
    html = Path(__file__).parent.parent / "fixtures" / "html"
    page = sorted(html.glob("*.html"))[0]
    (docs / (page.name + ".gz")).write_bytes(gzip.compress(page.read_bytes()))
    (docs / "bomb.html.gz").write_bytes(gzip.compress(b" " * (2 * MB)))  # ~2 KB on disk
    whole = gzip.compress(page.read_bytes())
    (docs / "cut.html.gz").write_bytes(whole[: len(whole) // 2])
    (docs / "plain.md.gz").write_text("# Not compressed\n\nWe use Django.\n")
    db = tmp_path / "stacks.db"
    proc = batch(docs, db=db, timeout=60, extra_env={"STACKEXTRACT_MAX_BYTES": str(MB)})
    assert proc.returncode == 1, proc.stderr
    assert "6 sources: 3 extracted, 0 cached, 3 failed" in summary_line(proc)
    state = db_state(db)
    assert_each_once(state, 3)
    failures = {Path(source).name: value for source, value in state.failures.items()}
    assert {stage for stage, _ in failures.values()} == {"input"}
    assert "unpacks to over the 1,048,576-byte limit" in failures["bomb.html.gz"][1]
    assert "truncated gzip file" in failures["cut.html.gz"][1]
    assert "not a valid gzip file" in failures["plain.md.gz"][1]
    # the same text as the uncompressed file: one content hash for both
    again = batch(plain, db=db, timeout=60)
    assert "2 sources: 0 extracted, 2 cached" in summary_line(again), again.stderr


def test_one_line_text_is_text_not_a_path() -> None:
    """A one-line string is read as a path only when it looks like one: a sentence longer
    than a file name may be (the file system refused it with OSError before), one that ends
    in 'Node.js' or names 'CI/CD', is text; 'notes.md' that is not there is an error."""
    from stackextract.errors import InputError
    from stackextract.sources.load import load

    long_line = "We run our services on Kubernetes and keep the data in PostgreSQL. " * 20
    assert load(long_line).text.startswith("We run our services")
    assert load("We moved everything to Node.js").text == "We moved everything to Node.js"
    assert "CI/CD" in load("We use CI/CD with GitHub Actions").text
    for missing in ("notes.md", "docs/stack.md", "my notes.md"):
        with pytest.raises(InputError, match="no such file"):
            load(missing)
