"""Deterministic synthetic data for the BT / welfare R reference values.

Uses only the Python standard library (random.Random with a fixed seed), so
the output does not depend on numpy versions. Run:  python3 rater_design_generate_data.py
Writes rater_design_raters.csv, rater_design_battles.csv,
rater_design_utilities.csv
"""
import csv
import math
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
OPTIONS = ["m1", "m2", "m3", "m4", "m5"]
BASE = {"m1": 0.0, "m2": 0.35, "m3": 0.7, "m4": -0.25, "m5": 1.0}
GROUP_SHIFT = {  # group-specific shifts of the log-strengths
    "A": {"m1": 0.0, "m2": 0.0, "m3": 0.0, "m4": 0.0, "m5": 0.0},
    "B": {"m1": 0.0, "m2": 0.4, "m3": -0.3, "m4": 0.2, "m5": -0.5},
    "C": {"m1": 0.0, "m2": -0.2, "m3": 0.3, "m4": 0.1, "m5": 0.2},
}
RATER_SD = 0.6  # rater-specific perturbation of each option's log-strength


def bt_data(rng):
    raters, battles = [], []
    pairs = [(a, b) for i, a in enumerate(OPTIONS) for b in OPTIONS[i + 1:]]
    for k in range(1, 201):
        rid = f"r{k:03d}"
        group = rng.choice(["A", "B", "C"])
        stratum = "S1" if rng.random() < 0.55 else "S2"
        sex = rng.choice(["F", "M"])
        age = rng.choices(["18-34", "35-54", "55+"], weights=[0.45, 0.35, 0.20])[0]
        # unequal weights in [0.5, 4], related to stratum and age
        base_w = rng.uniform(0.5, 4.0)
        if age == "55+":
            base_w = min(4.0, base_w * 1.3)
        if stratum == "S2":
            base_w = max(0.5, base_w * 0.85)
        weight = round(base_w, 4)
        raters.append(dict(rater=rid, group=group, stratum=stratum, weight=weight,
                           sex=sex, age=age))
        strength = {o: BASE[o] + GROUP_SHIFT[group][o] + rng.gauss(0.0, RATER_SD)
                    for o in OPTIONS}
        n_cmp = rng.randint(6, 12)
        for _ in range(n_cmp):
            a, b = rng.choice(pairs)
            first, second = (a, b) if rng.random() < 0.5 else (b, a)
            p_first = 1.0 / (1.0 + math.exp(-(strength[first] - strength[second])))
            if rng.random() < p_first:
                winner, loser = first, second
            else:
                winner, loser = second, first
            battles.append(dict(rater=rid, first=first, second=second,
                                winner=winner, loser=loser))
    return raters, battles


def welfare_data(rng):
    rows = []
    k = 0
    for stratum, n_psu in (("S1", 55), ("S2", 45)):
        for p in range(1, n_psu + 1):
            psu_effect = rng.gauss(0.0, 0.3)
            size = rng.choice([2, 3, 3, 4])
            stratum_w = 1.0 if stratum == "S1" else 2.0
            for _ in range(size):
                k += 1
                w = round(stratum_w * rng.uniform(0.5, 3.0), 4)
                u1 = round(math.exp(1.0 + psu_effect + rng.gauss(0.0, 0.7)), 6)
                u2 = round(math.exp(1.2 + 0.5 * psu_effect + rng.gauss(0.0, 0.5)), 6)
                # psu ids restart within each stratum -> nest=TRUE is required
                rows.append(dict(rater=f"w{k:03d}", stratum=stratum, psu=p,
                                 weight=w, u1=u1, u2=u2))
    return rows


def write(path, rows):
    with open(path, "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0].keys()), lineterminator="\n")
        wr.writeheader()
        wr.writerows(rows)


if __name__ == "__main__":
    rng = random.Random(20261207)
    raters, battles = bt_data(rng)
    write(HERE / "rater_design_raters.csv", raters)
    write(HERE / "rater_design_battles.csv", battles)
    write(HERE / "rater_design_utilities.csv", welfare_data(random.Random(777)))
    print(len(raters), "raters,", len(battles), "battles")
