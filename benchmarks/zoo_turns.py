"""Set how many test-time quarter turns a shipped model averages by default, and everything chosen
with them: its threshold (F1-optimal on its validation fold with those turns, never the test split),
its polygon confidence, and the card's test and fixed-set scores.

Run: .venv/bin/python benchmarks/zoo_turns.py NAME RECORDS DATA --turns 2 [--fold 0]

RECORDS are the records the model trained on (their validation fold and test split; for `bijie`
benchmarks/experiment.py's r16), DATA the source folder of its fixed set (../shared/data/bijie).
Writes lim_tf/zoo/NAME.json and NAME.md; prints the new scores as JSON. Which number of turns pays
is benchmarks/turns.py's question; what they cost is the card's map_cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from make_zoo import SCORES, render, score_at_kind_ratio, score_fixed_set  # noqa: E402
from zoo_confidence import fit_card_confidence  # noqa: E402

from lim_tf import zoo  # noqa: E402
from lim_tf.evaluate import EvalRequest, evaluate_run  # noqa: E402


def evaluated(name: str, request: EvalRequest) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        return evaluate_run(name, Path(folder) / "eval", request, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("records", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--turns", type=int, choices=(1, 2, 3, 4), required=True)
    parser.add_argument("--fold", type=int, default=0, help="the validation fold the threshold and confidence come "
                        "from (a shipped model is one fold's network)")
    args = parser.parse_args()
    path, folds = zoo.ZOO / f"{args.name}.json", [args.fold]
    card = json.loads(path.read_text())
    validation = evaluated(args.name, EvalRequest(records=args.records, split="val", fold=args.fold, threshold=0.5,
                                                  tta=args.turns, figures=0))
    card["turns"] = args.turns
    card["threshold"] = round(validation["f1_optimal_threshold_on_this_data"], 4)
    card["threshold_source"] = (f"F1-optimal on validation fold {args.fold} with {args.turns} quarter turn"
                                f"{'s' if args.turns > 1 else ''} averaged")
    card["scores"]["validation"] = {"folds": folds, "turns": args.turns, "best_threshold": card["threshold"],
                                    "best_f1": validation["f1_at_that_threshold"],
                                    "at_0.5": {k: validation[k] for k in SCORES if k in validation}}
    path.write_text(json.dumps(card, indent=2) + "\n")  # what the scoring below loads
    test = evaluated(args.name, EvalRequest(records=args.records, figures=0))
    card["scores"]["test"] = {**{k: test[k] for k in SCORES if k in test}, "turns": args.turns,
                              "data": card["scores"]["test"]["data"]}
    card["scores"]["landslide"] = {k: test["landslide_chips"][k] for k in SCORES if k in test["landslide_chips"]}
    for key, turns in (("test_one_pass", 1), ("test_tta", 4)):
        other = evaluated(args.name, EvalRequest(records=args.records, figures=0, tta=turns))
        card["scores"][key] = {**{k: other[k] for k in SCORES if k in other}, "turns": turns}
    card["scores"]["test_at_kind_ratio"] = score_at_kind_ratio(args.name, args.records)
    path.write_text(json.dumps(card, indent=2) + "\n")
    card = fit_card_confidence(args.name, args.records, folds)  # with the new turns and threshold
    card["fixed_set"]["scores"] = score_fixed_set(args.name, args.data, card["fixed_set"]["ids"])
    path.write_text(json.dumps(card, indent=2) + "\n")
    (zoo.ZOO / f"{args.name}.md").write_text(render(card))
    print(json.dumps({"turns": args.turns, "threshold": card["threshold"], "scores": card["scores"]}, indent=1))


if __name__ == "__main__":
    main()
