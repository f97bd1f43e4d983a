from __future__ import annotations

from stackextract.models import Document
from stackextract.offline.extractor import HeuristicExtractor
from stackextract.offline.prose import prose_mask
from stackextract.sources.markdown import markdown_to_document, split_front_matter

MD = """---
title: "Our stack"
author:
  - Ada Lovelace
date: 2024-03-07
---
We use [Postgres](https://www.mongodb.com/) for everything.

```python
import redis  # Redis only in a code sample
```

![Kafka diagram](/images/kafka.png)
<KafkaBanner src="https://kafka.apache.org" />
See https://github.com/elastic/elasticsearch for details.
"""


def test_front_matter_becomes_metadata() -> None:
    doc = markdown_to_document(MD)
    assert doc.title == "Our stack"
    assert doc.author == "Ada Lovelace"
    assert doc.published == "2024-03-07"
    assert doc.text.startswith("We use [Postgres]")
    assert "---" not in doc.text.splitlines()[0]


def test_broken_front_matter_is_left_as_text() -> None:
    meta, body = split_front_matter("---\n: : bad yaml [\n---\nhello")
    assert meta == {} and body.startswith("---")


def test_mask_keeps_length_and_blanks_non_prose() -> None:
    doc = markdown_to_document(MD)
    view = prose_mask(doc.text)
    assert len(view) == len(doc.text)
    assert "Postgres" in view
    for hidden in ("mongodb", "redis", "Kafka", "elasticsearch"):
        assert hidden not in view


def test_tools_named_only_in_code_urls_images_or_tags_are_not_mentions() -> None:
    doc = markdown_to_document(MD)
    stack = HeuristicExtractor().extract(doc)
    found = {t.canonical for t in stack.tools}
    assert "PostgreSQL" in found
    assert not found & {"MongoDB", "Redis", "Apache Kafka", "Elasticsearch"}


def test_plain_text_document_hash_is_stable() -> None:
    assert Document(text="abc").content_sha256 == Document(text="abc").content_sha256
