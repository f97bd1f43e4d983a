"""Evaluation: how good is a backend, measured against labels.

Takes: gold labels (`../shared/gold` format) and their source texts, or the cleaning
benchmark's pages. Gives: precision, recall and F1 for tools, status accuracy, reasons,
regrets and migrations (score), and the article-extraction metric (article_metric).
"""

from __future__ import annotations

from stackextract.evaluation.score import Report, evaluate

__all__ = ["Report", "evaluate"]
