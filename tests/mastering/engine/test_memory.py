import json
import subprocess
import sys
from pathlib import Path

from mastering.engine import MAX_TRAINING_RECORDS

ROOT = Path(__file__).resolve().parents[3]

# Builds a learner from 10,000 synthetic people in a fresh interpreter, so the peak RSS is the
# learner's own and not whatever earlier tests left behind.
SCRIPT = r"""
import json, random, resource, sys
sys.path.insert(0, sys.argv[1])
from mastering.engine import ActiveLearner, AttributeSpec, LabeledPair, train_model

rng = random.Random(3)
def word(n):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
streets = [word(7) + " street" for _ in range(800)]
records = {}
for i in range(10_000):
    base = i if i % 2 == 0 else i - 1  # every odd record duplicates the one before, with a typo
    r = random.Random(base)
    rec = {"given": "".join(r.choice("abcdefghij") for _ in range(6)), "surname": word(8),
           "street": r.choice(streets), "state": r.choice(["nsw", "vic", "qld", "wa"]),
           "dob": f"19{r.randrange(10, 99)}{r.randrange(1, 13):02d}{r.randrange(1, 29):02d}"}
    if i % 2:
        rec["surname"] = rec["surname"][:-1]
    records[i] = rec
specs = [AttributeSpec("given", "ShortString"), AttributeSpec("surname", "ShortString"),
         AttributeSpec("street", "String"), AttributeSpec("state", "Exact"), AttributeSpec("dob", "DateTime")]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
learner = ActiveLearner(specs, records, seed=1)
labels = [LabeledPair(a, b, a // 2 == b // 2) for a, b in learner.uncertain_pairs(20)]
labels += [LabeledPair(0, 1, True), LabeledPair(0, 2, False)]
learner.mark(labels, records=records)
train_model(specs=specs, labels=labels, records=records, seed=1, learner=learner)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"held": len(learner.sample_ids), "coverage": learner.coverage.n_records,
                  "population": learner.coverage.population, "growth_mb": (after - before) / 1024,
                  "peak_mb": after / 1024}))
"""


def test_learner_memory_is_bounded_however_many_records_it_is_given():
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], capture_output=True, text=True, check=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["held"] == result["coverage"] == MAX_TRAINING_RECORDS
    assert result["population"] == 10_000
    # dedupe's own prepare_training grows with the square of its input: 1.3 GB at 1,000 records.
    assert result["growth_mb"] < 600, result
    assert result["peak_mb"] < 1024, result
