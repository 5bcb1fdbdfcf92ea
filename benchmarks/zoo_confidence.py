"""A shipped model's polygon confidence: learnt on its validation fold (never the test split), kept in
its card as data, and its polygon scores on the held-out test split with and without the cut.

Run: .venv/bin/python benchmarks/zoo_confidence.py NAME RECORDS [--folds 0]

RECORDS are the records the model trained on (their validation fold `--folds` and test split): for
`bijie`, benchmarks/experiment.py's r16 (the Bijie development set at 1.6 m). Writes
lim_tf/zoo/NAME.json (confidence, scores.test_polygons) and NAME.md; prints the scores as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from lim_tf import zoo  # noqa: E402
from lim_tf.evaluate import EvalRequest, evaluate_run  # noqa: E402
from lim_tf.trained.confidence import fit_confidence, validation_polygons  # noqa: E402


def fit_card_confidence(name: str, records: Path, folds: list[int]) -> dict:
    """Fit on the validation folds and score on the test split; returns the card's new parts."""
    state = dataclasses.replace(zoo.run_state(name), records=str(records))
    found, weight = validation_polygons(name, state, folds)
    model = fit_confidence(found, weight)
    if model is None:
        raise SystemExit(f"{name}: too few validation polygons to learn a confidence from")
    card = json.loads((zoo.ZOO / f"{name}.json").read_text())
    card["confidence"] = model.to_json()
    (zoo.ZOO / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")  # eval reads it from the card
    with tempfile.TemporaryDirectory() as folder:
        metrics = evaluate_run(name, Path(folder) / "eval", EvalRequest(records=records, figures=0), progress=False)
    card["scores"]["test_polygons"] = {key: metrics["polygons"][key] for key in
                                       ("rule", "cut", "all", "all_at_kind_ratio", "kept", "kept_at_kind_ratio")}
    card["scores"]["test_polygons"]["data"] = card["scores"]["test"]["data"]
    return card


def main() -> None:
    from make_zoo import render

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("records", type=Path)
    parser.add_argument("--folds", default="0", help="validation folds to learn from (comma-separated)")
    args = parser.parse_args()
    card = fit_card_confidence(args.name, args.records, [int(k) for k in args.folds.split(",")])
    (zoo.ZOO / f"{args.name}.json").write_text(json.dumps(card, indent=2) + "\n")
    (zoo.ZOO / f"{args.name}.md").write_text(render(card))
    print(json.dumps({"confidence": card["confidence"], "test_polygons": card["scores"]["test_polygons"]}))


if __name__ == "__main__":
    main()
