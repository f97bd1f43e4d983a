"""Sources: a URL, a file or text becomes a `Document` (cleaned text plus metadata).

Takes: a URL (fetched behind the SSRF guard, with size and time limits), an HTML, Markdown/MDX
or text file (gzipped too), a string. Gives: `Document`. Knows nothing of extractors, the
store or the CLI.

    load(source) / await aload(source)   fetch or read, then clean
    fetch / afetch                        the guarded HTTP client (sources.fetch)
    clean_html                            trafilatura main text + metadata (sources.clean)
    parse_url_list, normalize_url         URL lists (sources.urls)
    afetch_robots, Robots                 robots.txt, through the same guard (sources.robots)
"""

from __future__ import annotations

from stackextract.sources.load import aload, load

__all__ = ["aload", "load"]
