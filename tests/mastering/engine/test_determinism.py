"""Same data, labels and seed give the same blocking rules in any process (issue 11).

dedupe's predicates return their block keys as frozensets, whose iteration order follows the
string hash and so PYTHONHASHSEED. The learner once numbered blocks in that order, so the pairs it
drew to price a rule, and with them the rules it chose, changed from one process to the next:
synth_5000_heavy at 50 labels scored 173,370 pairs in one run and 185,084 in another.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TOOLS = [ROOT.parent / "shared" / "tools", Path("/work/shared/tools")]

SCRIPT = r"""
import csv, hashlib, json, sys
sys.path.insert(0, sys.argv[1])
import numpy
from mastering.engine import ActiveLearner, AttributeSpec, LabeledPair, infer_comparator, train_model

rows = list(csv.DictReader(open(sys.argv[2], newline="")))
fields = [c for c in rows[0] if c not in ("record_id", "true_cluster_id")]
records = {i: {f: row[f] or None for f in fields} for i, row in enumerate(rows)}
truth = {i: row["true_cluster_id"] for i, row in enumerate(rows)}
specs = [AttributeSpec(f, infer_comparator([r[f] for r in records.values()])) for f in fields]
learner = ActiveLearner(specs, records, seed=1)
layout = hashlib.sha256()
for predicate, blocks in sorted(learner.coverage.blocks.items(), key=lambda item: repr(item[0])):
    layout.update(repr(predicate).encode())
    layout.update(blocks.records.tobytes() + blocks.starts.tobytes())
    layout.update(blocks.sample(8, numpy.random.default_rng(0)).tobytes())
for _ in range(int(sys.argv[3])):
    (a, b), = learner.uncertain_pairs(1)
    learner.mark([LabeledPair(a, b, truth[a] == truth[b])])
model = train_model(specs=specs, labels=learner.labels, records=records, seed=1, learner=learner)
print(json.dumps({"layout": layout.hexdigest(), "labels": [list(label.key) for label in learner.labels],
                  "rules": model.predicates}))
"""


def synth_people() -> Path:
    for folder in TOOLS:
        if (folder / "synth_people.py").is_file():
            return folder / "synth_people.py"
    pytest.skip("shared/tools/synth_people.py is not beside the repository")


def run(hash_seed: str, data: Path) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), str(data), "30"], capture_output=True, text=True,
                         check=True, timeout=600, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_learning_gives_the_same_blocks_and_rules_under_any_hash_seed(tmp_path):
    data = tmp_path / "heavy.csv"
    subprocess.run([sys.executable, str(synth_people()), "800", str(data), "--heavy-tail", "--dup-rate", "0.3",
                    "--seed", "1"], check=True, capture_output=True, timeout=120)
    first, second = run("1", data), run("2", data)
    assert first["layout"] == second["layout"]
    assert first["labels"] == second["labels"]
    assert first["rules"] == second["rules"]
