"""Fair augmentation: downstream gap between groups and AUROC, before and after, over seeds.

For each seed: split 50/50 (stratified on the target), fit the generator on train, augment
train (``fair=True`` by GROUP, and, for comparison, every GROUP x outcome cell to the largest),
train a logistic regression on real vs augmented data and test both on the real holdout
(``synthmed.evaluation.augmentation``). Prints mean (sd) over the seeds. Usage::

    .venv/bin/python -W ignore benchmarks/bench_fair_augmentation.py aids sex
    .venv/bin/python -W ignore benchmarks/bench_fair_augmentation.py covid_testing gender \\
        --positive positive --exclude ct_result

(``ct_result`` is recorded only for positive tests: it gives the outcome away, AUROC ~1.)
"""

from __future__ import annotations

import argparse

import numpy as np

from synthmed import get_generator, load_dataset, train_holdout_split
from synthmed.evaluation.augmentation import evaluate_augmentation
from synthmed.modes import release_augment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("group")
    parser.add_argument("--positive", default=None)
    parser.add_argument("--exclude", nargs="*", default=[])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--generators", nargs="*", default=["bayesian_network", "gaussian_copula"])
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    group = args.group
    print("| data | generator | variant | AUROC real -> aug | EOD real -> aug "
          "| AUROC gap real -> aug | recall@0.5 real -> aug |")
    print("|---|---|---|---|---|---|---|")
    for gname in args.generators:
        for label, kw in (("fair", {"fair": True, "balance": group}),
                          ("cells", {"balance": [group, "target"]})):
            rows = []
            for seed in range(args.seeds):
                train, hold = train_holdout_split(data.frame, stratify=data.schema.target,
                                                  random_state=seed)
                gen = get_generator(gname).fit(train, schema=data.schema, random_state=seed)
                release = release_augment(gen, train, schema=data.schema, random_state=seed, **kw)
                section, _ = evaluate_augmentation(
                    train, release.data, hold, data.schema, groups=[group],
                    positive=args.positive, exclude=args.exclude, random_state=seed)
                pairs = [section.metric(name) for name in
                         ("auroc", f"eod_{group}", f"auroc_gap_{group}", "recall")]
                rows.append([v for m in pairs for v in (m.holdout_value, m.value)])
            arr = np.array(rows, dtype=float)
            mu, sd = np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)
            cells = [f"{mu[i]:.3f} ({sd[i]:.3f}) -> {mu[i + 1]:.3f} ({sd[i + 1]:.3f})"
                     for i in range(0, arr.shape[1], 2)]
            print(f"| {args.dataset} by {group} | {gname} | {label} | " + " | ".join(cells) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
