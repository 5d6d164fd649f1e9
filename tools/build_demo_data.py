#!/usr/bin/env python3
"""Build Steward's demo tables from the Febrl 3 data set (run once; the output is committed).

usage: build_demo_data.py FEBRL3_DATA_CSV OUT_DIR

Takes 160 people from Febrl 3 and spreads their records over three sources with their
own column names, so that the demo shows schema mapping and duplicates across sources:
crm (the originals), billing and web (the duplicates, plus some people of their own).
Writes crm.csv, billing.csv, web.csv and truth.csv (record → person) with a fixed seed.
"""

import csv
import random
import sys
from collections import defaultdict
from pathlib import Path


def main(data_csv: str, out_dir: str) -> None:
    rng = random.Random(20261124)
    clusters: dict[str, list[dict]] = defaultdict(list)
    with open(data_csv, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            clusters[row["true_cluster_id"]].append(row)
    with_dups = sorted(c for c, rows in clusters.items() if len(rows) > 1)
    singles = sorted(c for c, rows in clusters.items() if len(rows) == 1)
    chosen = rng.sample(with_dups, 110) + rng.sample(singles, 50)
    crm, billing, web, truth = [], [], [], []
    for person, cluster in enumerate(chosen, start=1):
        rows = sorted(clusters[cluster], key=lambda r: r["record_id"])
        original = next((r for r in rows if r["record_id"].endswith("-org")), rows[0])
        dups = [r for r in rows if r is not original][:3]
        home = rng.random()
        if home < 0.7:
            crm.append(original); truth.append((f"crm:C{len(crm):04d}", person))
        elif home < 0.85:
            billing.append(original); truth.append((f"billing:B-{len(billing) + 1000}", person))
        else:
            web.append(original); truth.append((f"web:{len(web) + 500}", person))
        for dup in dups:
            if rng.random() < 0.5:
                billing.append(dup); truth.append((f"billing:B-{len(billing) + 1000}", person))
            else:
                web.append(dup); truth.append((f"web:{len(web) + 500}", person))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write(out / "crm.csv", ["customer_id", "given_name", "surname", "street_number", "address_1", "address_2",
                            "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"],
          [[f"C{i:04d}", r["given_name"], r["surname"], r["street_number"], r["address_1"], r["address_2"],
            r["suburb"], r["postcode"], r["state"], r["date_of_birth"], r["soc_sec_id"]] for i, r in enumerate(crm, 1)])
    write(out / "billing.csv", ["account_id", "first_name", "last_name", "street", "suburb", "postcode", "state",
                                "birth_date", "ssn"],
          [[f"B-{i + 1000}", r["given_name"], r["surname"], " ".join(x for x in (r["street_number"], r["address_1"]) if x),
            r["suburb"], r["postcode"], r["state"], r["date_of_birth"], r["soc_sec_id"]] for i, r in enumerate(billing, 1)])
    write(out / "web.csv", ["signup_id", "first_name", "surname", "suburb", "postcode", "date_of_birth", "email"],
          [[str(i + 500), r["given_name"], r["surname"], r["suburb"], r["postcode"], r["date_of_birth"], email(r, rng)]
           for i, r in enumerate(web, 1)])
    write(out / "truth.csv", ["record", "person"], truth)


def email(row: dict, rng: random.Random) -> str:
    name = ".".join(x for x in (row["given_name"], row["surname"]) if x).replace(" ", "") or "someone"
    return f"{name}{rng.randint(1, 99)}@{rng.choice(['example.com', 'example.org', 'mail.example.net'])}"


def write(path: Path, header: list[str], rows: list) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


if __name__ == "__main__":
    main(*sys.argv[1:3])
