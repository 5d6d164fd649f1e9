"""Turn synth_people.py output into a person register: names and birth-date parts only, as in RLdata10000.

    python ../shared/tools/synth_people.py 10000 people.csv --dup-rate 0.1
    python benchmarks/register.py people.csv register.csv

Columns: record_id, fname, lname, by, bm, bd, true_cluster_id. Few fields, many shared names and
birth years: the kind of data where broad predicates are only usable in conjunctions.
"""

from __future__ import annotations

import csv
import sys


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8", newline="") as handle, open(target, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["record_id", "fname", "lname", "by", "bm", "bd", "true_cluster_id"])
        for row in csv.DictReader(handle):
            born = row["date_of_birth"]
            parts = (born[:4], born[4:6], born[6:8]) if len(born) == 8 and born.isdigit() else ("", "", "")
            writer.writerow([row["record_id"], row["given_name"], row["surname"], *parts, row["true_cluster_id"]])


if __name__ == "__main__":
    main(*sys.argv[1:3])
