"""Compare the tool decision's logistic regression with gradient-boosted trees, out of fold.

    pip install -e '.[train]'
    python scripts/compare_tool_models.py [--gold ../shared/gold] [--corpus ../shared/corpus]

The same candidates, features and leave-one-group-out folds as scripts/train.py; prints the
out-of-fold ROC AUC and the best F1 over thresholds for each model (docs/quality.md).
Slow for the trees (minutes on 2 cores).
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def main() -> None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from stackextract.catalog.vocabulary import Catalog
    from stackextract.evaluation.train import (
        MIN_COUNT,
        SEED,
        C,
        _matrix,
        _vocabulary,
        read_data,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gold", type=Path, default=SHARED / "gold")
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    args = parser.parse_args()
    data = read_data(args.gold, args.corpus, None, Catalog.default())
    rows, labels, groups = [], [], []
    for d in data.docs:
        for name, f in d.feat.tool_features.items():
            rows.append(f)
            labels.append(d.tool_y[name])
            groups.append(d.group)
    y, g = np.array(labels), np.array(groups)
    n_gold = sum(len(d.gold.get("tools", [])) for d in data.docs)

    def out_of_fold(make, dense: bool) -> np.ndarray:
        p = np.zeros(len(y))
        for held in sorted(set(groups)):
            train = [i for i in range(len(y)) if g[i] != held]
            test = [i for i in range(len(y)) if g[i] == held]
            vocab = _vocabulary([rows[i] for i in train], MIN_COUNT["tool"])
            if dense:  # trees: the features seen in 5+ training candidates
                vocab = [v for v in vocab if sum(1 for i in train if v in rows[i]) >= 5]
            x_train = _matrix([rows[i] for i in train], vocab)
            x_test = _matrix([rows[i] for i in test], vocab)
            if dense:
                x_train, x_test = x_train.toarray(), x_test.toarray()
            model = make()
            model.fit(x_train, y[train])
            p[test] = model.predict_proba(x_test)[:, 1]
        return p

    def report(label: str, p: np.ndarray) -> None:
        best = max(
            (2 * tp / (kept + n_gold), th)
            for th in np.arange(0.2, 0.8, 0.05)
            for kept, tp in [((p >= th).sum(), ((p >= th) & (y == 1)).sum())]
        )
        print(f"{label}: ROC AUC {roc_auc_score(y, p):.3f}, best F1 {best[0]:.3f} "
              f"at {best[1]:.2f} ({len(y)} candidates, {n_gold} gold tools)")

    report("logistic regression", out_of_fold(lambda: LogisticRegression(
        C=C["tool"], solver="liblinear", dual=True, max_iter=5000, random_state=SEED), False))
    report("gradient-boosted trees", out_of_fold(lambda: HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=200, max_leaf_nodes=15, min_samples_leaf=10,
        l2_regularization=1.0, random_state=SEED), True))


if __name__ == "__main__":
    main()
