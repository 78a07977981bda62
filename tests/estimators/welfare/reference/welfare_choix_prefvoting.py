"""Reference values for estimators.welfare from choix and pref_voting (outside truth).

Run from the repository root in a virtualenv that has choix and pref_voting (NOT the package's
own environment; equisample is not imported here):

    python tests/estimators/welfare/reference/welfare_choix_prefvoting.py  (with choix and pref_voting installed)

Writes tests/estimators/welfare/reference/welfare_choix_prefvoting.json. Every input is built here from the raw
PRISM-schema sample with plain Python loops, independently of the code under test.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path


def main() -> None:
    # third-party references, imported here so that test collection never needs them
    import choix
    import numpy as np
    from pref_voting.margin_based_methods import beat_path, minimax_scores, ranked_pairs_tb
    from pref_voting.profiles import Profile
    from pref_voting.profiles_with_ties import ProfileWithTies
    from pref_voting.scoring_methods import symmetric_borda_scores

    ROOT = Path(__file__).resolve().parents[4]
    SAMPLE = ROOT / "estimators" / "data" / "prism_sample"
    OUT = Path(__file__).with_suffix(".json")
    TOL = 1e-13

    def read_jsonl(path):
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    utterances = [r for r in read_jsonl(SAMPLE / "utterances.jsonl") if r["turn"] == 0]
    models = sorted({r["model_name"] for r in utterances})
    index = {m: k for k, m in enumerate(models)}
    n_items = len(models)
    users = sorted({r["user_id"] for r in utterances})
    # deterministic integer weight per rater: 1 + (k mod 3) for "user<k>"
    rater_weight = {u: 1 + int(u.removeprefix("user")) % 3 for u in users}

    by_interaction = defaultdict(list)
    for r in utterances:
        by_interaction[r["interaction_id"]].append(r)

    def centred(params):
        params = np.asarray(params, dtype=float)
        return (params - params.mean()).tolist()

    # ---- pairwise battles: each pair within an interaction; ties = half wins ----------------
    # choix has no ties or weights: a tie (a, b) is entered as one win each way and every decisive
    # battle twice (the MLE is invariant to scaling all counts by 2); integer weights replicate rows.
    pairs_plain, pairs_weighted = [], []
    for rows in by_interaction.values():
        rows = sorted(rows, key=lambda r: r["within_turn_id"])
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                a, b = rows[i], rows[j]
                if a["model_name"] == b["model_name"]:
                    continue
                ia, ib = index[a["model_name"]], index[b["model_name"]]
                if a["score"] > b["score"]:
                    entries = [(ia, ib), (ia, ib)]
                elif a["score"] < b["score"]:
                    entries = [(ib, ia), (ib, ia)]
                else:
                    entries = [(ia, ib), (ib, ia)]
                pairs_plain += entries
                pairs_weighted += entries * rater_weight[a["user_id"]]

    bt = {
        "ilsr": centred(
            choix.ilsr_pairwise(n_items, pairs_plain, alpha=0.0, tol=TOL, max_iter=10000)
        ),
        "mm": centred(choix.mm_pairwise(n_items, pairs_plain, alpha=0.0, tol=TOL, max_iter=100000)),
        "opt": centred(choix.opt_pairwise(n_items, pairs_plain, alpha=0.0, tol=TOL, max_iter=1000)),
        "ilsr_weighted": centred(
            choix.ilsr_pairwise(n_items, pairs_weighted, alpha=0.0, tol=TOL, max_iter=10000)
        ),
        # the same ridge penalty alpha * ||theta||^2 as estimators.bradley_terry(regularization=)
        "opt_alpha_0.5": centred(
            choix.opt_pairwise(n_items, pairs_plain, alpha=0.5, tol=TOL, max_iter=1000)
        ),
    }

    # a comparison graph that is not strongly connected: model 0 never loses
    disconnected = [(0, 1), (0, 2), (1, 2), (2, 1), (1, 3), (3, 2), (0, 3)]
    bt["disconnected_opt_alpha_0.01"] = centred(
        choix.opt_pairwise(4, disconnected, alpha=0.01, tol=TOL, max_iter=1000)
    )

    # ---- top-1 choices (PRISM's if_chosen among the shown responses) and rankings -----------
    top1, top1_weighted, rankings = [], [], []
    for rows in by_interaction.values():
        rows = sorted(rows, key=lambda r: r["within_turn_id"])
        chosen = [index[r["model_name"]] for r in rows if r["if_chosen"]]
        losers = [index[r["model_name"]] for r in rows if not r["if_chosen"]]
        top1.append((chosen[0], losers))
        top1_weighted += [(chosen[0], losers)] * rater_weight[rows[0]["user_id"]]
        ordered = sorted(rows, key=lambda r: (-r["score"], r["within_turn_id"]))
        rankings.append([index[r["model_name"]] for r in ordered])

    pl = {
        "top1_ilsr": centred(choix.ilsr_top1(n_items, top1, alpha=0.0, tol=TOL, max_iter=10000)),
        "top1_mm": centred(choix.mm_top1(n_items, top1, alpha=0.0, tol=TOL, max_iter=100000)),
        "top1_opt": centred(choix.opt_top1(n_items, top1, alpha=0.0, tol=TOL, max_iter=1000)),
        "top1_ilsr_weighted": centred(
            choix.ilsr_top1(n_items, top1_weighted, alpha=0.0, tol=TOL, max_iter=10000)
        ),
        "rankings_ilsr": centred(
            choix.ilsr_rankings(n_items, rankings, alpha=0.0, tol=TOL, max_iter=10000)
        ),
        "rankings_mm": centred(
            choix.mm_rankings(n_items, rankings, alpha=0.0, tol=TOL, max_iter=100000)
        ),
        "rankings_opt": centred(
            choix.opt_rankings(n_items, rankings, alpha=0.0, tol=TOL, max_iter=1000)
        ),
    }
    rankings_out = [[models[k] for k in r] for r in rankings]

    # ---- voting rules with pref_voting --------------------------------------------------------
    # member-mean utilities per rater (first turn), then rankings (ties allowed, unexposed unranked)
    sums, counts = defaultdict(float), defaultdict(int)
    for r in utterances:
        sums[(r["user_id"], r["model_name"])] += r["score"]
        counts[(r["user_id"], r["model_name"])] += 1
    utility = {u: {} for u in users}
    for (u, m), s in sums.items():
        utility[u][m] = s / counts[(u, m)]

    def weak_ranking(util):
        """dict candidate -> rank (1 = best), equal utilities share a rank."""
        levels = sorted(set(util.values()), reverse=True)
        return {index[m]: levels.index(v) + 1 for m, v in util.items()}

    def rules(profile, candidates):
        mg = profile.margin_graph() if hasattr(profile, "margin_graph") else profile
        cw = profile.condorcet_winner()
        copeland = profile.copeland_scores()
        mm = minimax_scores(profile)
        return {
            "condorcet_winner": None if cw is None else models[cw],
            "copeland_scores": {models[c]: float(copeland[c]) for c in candidates},
            "minimax_scores": {models[c]: float(mm[c]) for c in candidates},
            "schulze_winners": [models[c] for c in beat_path(profile)],
            "ranked_pairs_tb_winner": models[ranked_pairs_tb(profile)[0]],
            "margins": {
                models[a]: {models[b]: float(profile.margin(a, b)) for b in candidates}
                for a in candidates
            },
            "_mg": str(type(mg).__name__),
        }

    candidates = list(range(n_items))
    sample_rankings = [weak_ranking(utility[u]) for u in users]
    unweighted = ProfileWithTies(sample_rankings, candidates=candidates)
    weighted = ProfileWithTies(
        sample_rankings, rcounts=[rater_weight[u] for u in users], candidates=candidates
    )
    votes = {
        "sample_unweighted": rules(unweighted, candidates),
        "sample_weighted": rules(weighted, candidates),
    }
    votes["sample_unweighted"]["symmetric_borda"] = {
        models[c]: float(v) for c, v in symmetric_borda_scores(unweighted).items()
    }
    votes["sample_weighted"]["symmetric_borda"] = {
        models[c]: float(v) for c, v in symmetric_borda_scores(weighted).items()
    }
    # complete strict profile: raters who saw all models and have no ties
    complete_users = [
        u for u in users if len(utility[u]) == n_items and len(set(utility[u].values())) == n_items
    ]
    linear = Profile(
        [
            [index[m] for m in sorted(utility[u], key=lambda m: -utility[u][m])]
            for u in complete_users
        ],
        rcounts=[rater_weight[u] for u in complete_users],
    )
    votes["complete_weighted"] = rules(linear, candidates)
    votes["complete_weighted"]["borda_scores"] = {
        models[c]: float(v) for c, v in linear.borda_scores().items()
    }
    votes["complete_weighted"]["users"] = complete_users

    # random incoherent profiles (cyclic majorities, ties, unexposed options), seeded
    rng = random.Random(20240607)
    random_profiles = []
    for _case in range(25):
        m = rng.choice([3, 4, 5, 7])
        n = rng.choice([3, 5, 8, 13])
        util_rows, weights_rows, rank_rows = [], [], []
        for _ in range(n):
            row = [rng.choice([1, 2, 3, 4, 5, None]) for _ in range(m)]
            if sum(v is not None for v in row) < 2:
                row[0], row[1] = 3, 1
            util_rows.append(row)
            weights_rows.append(rng.choice([1, 1, 2, 3]))
            levels = sorted({v for v in row if v is not None}, reverse=True)
            rank_rows.append({k: levels.index(v) + 1 for k, v in enumerate(row) if v is not None})
        prof = ProfileWithTies(rank_rows, rcounts=weights_rows, candidates=list(range(m)))
        cw = prof.condorcet_winner()
        random_profiles.append(
            {
                "utilities": util_rows,
                "weights": weights_rows,
                "condorcet_winner": cw,
                "copeland_scores": [float(prof.copeland_scores()[c]) for c in range(m)],
                "minimax_scores": [float(minimax_scores(prof)[c]) for c in range(m)],
                "schulze_winners": list(beat_path(prof)),
                "ranked_pairs_tb_winner": ranked_pairs_tb(prof)[0],
                "symmetric_borda": [float(symmetric_borda_scores(prof)[c]) for c in range(m)],
            }
        )

    OUT.write_text(
        json.dumps(
            {
                "models": models,
                "rater_weight": rater_weight,
                "bradley_terry": bt,
                "plackett_luce": pl,
                "rankings": rankings_out,
                "votes": votes,
                "random_profiles": random_profiles,
                "tolerance_used": TOL,
                "versions": {
                    "choix": version("choix"),
                    "pref_voting": version("pref_voting"),
                    "numpy": version("numpy"),
                    "scipy": version("scipy"),
                },
            },
            indent=1,
        )
    )
    print("wrote", OUT)


if __name__ == "__main__":
    main()
