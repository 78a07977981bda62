"""Write balance's own simulated data (balance.load_data()) with the synthetic design weights 'dw'.

Run with the balance virtual environment (balance 0.23.0, numpy 1.26.4, pandas 3.0.6):
    OPENBLAS_NUM_THREADS=1 /path/to/venv-balance/bin/python reference_sample_export_balance_sim.py
It reproduces dataset_balance_sim() of reference_sample_balance_reference.py exactly, so the ASMD
and weights stored in reference_sample_balance_reference.json refer to these rows.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    # third-party references, imported here so that test collection never needs them
    import numpy as np
    from balance import load_data

    target_df, sample_df = load_data()
    rng = np.random.default_rng(424242)
    sample_df = sample_df.copy()
    target_df = target_df.copy()
    sample_df["dw"] = rng.uniform(0.5, 2.0, len(sample_df))
    target_df["dw"] = rng.uniform(0.5, 2.0, len(target_df))
    sample_df.to_csv(os.path.join(HERE, "reference_sample_balance_sim_sample.csv"), index=False)
    target_df.to_csv(os.path.join(HERE, "reference_sample_balance_sim_target.csv"), index=False)


if __name__ == "__main__":
    main()
