"""Embedded data: published US and UK adult census tables and a PRISM-schema synthetic sample.

Every table comes with its sources and caveats (``census_notes()``; the CSV ``sources.csv`` beside
the tables names publisher, table, year and URL of each figure).

Available variables
-------------------
``"us"`` (adults 18+, 2022): ``age`` (18-24 ... 65+), ``sex``, ``ethnicity`` (White non-Hispanic,
Hispanic, Other non-Hispanic: the third group is a cross-source residual, see the notes), jointly;
``region`` (Census regions, PEP 2022) and ``education`` (CPS ASEC 2022, 4 groups) as margins only.

``"uk"`` (England and Wales, adults 18+, Census 2021, or 2011 with ``year=2011``): ``age`` (6 standard
bands, or the recruitment-platform bands 18-27 ... 58+ with ``age_bands="prolific"``), ``sex``,
``ethnicity`` (5 groups), jointly; ``region`` (approximate 18+) and ``education`` (highest
qualification, 16+) as margins only.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd

from estimators._lib.validation import check_option, fail
from estimators.errors import MarginError

__all__ = ["census", "census_margins", "census_notes", "data_path", "prism_sample_path"]

Country = Literal["us", "uk"]
JOINT_VARIABLES = ("age", "sex", "ethnicity")
MARGIN_ONLY = ("region", "education")

_US_ETHNICITY = {
    "White non-Hispanic": "White non-Hispanic",
    "Hispanic (any race)": "Hispanic",
}
_US_OTHER = "Other non-Hispanic"


def data_path(*parts: str) -> Path:
    """Path of a file embedded in the package's ``data`` folder."""
    return Path(str(resources.files("estimators.datasets").joinpath("data", *parts)))


def prism_sample_path() -> Path:
    """Folder of the PRISM-schema synthetic sample (survey, conversations, utterances JSONL)."""
    return data_path("prism_sample")


def census_notes() -> str:
    """The sources and caveats of the embedded census tables (their README), as text."""
    return data_path("census", "README.md").read_text(encoding="utf-8")


@cache
def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(data_path("census", name))


def _joint_table(country: str, year: int, age_bands: str) -> pd.DataFrame:
    if country == "us":
        if age_bands != "standard":
            fail(
                MarginError,
                "age_bands",
                "the US tables only have the standard bands (18-24 ... 65+)",
                bad=[age_bands],
                fix='Use age_bands="standard" for country="us".',
            )
        raw = _read("us_adult_age_sex_ethnicity3_derived.csv")
        eth = raw["ethnicity"].map(_US_ETHNICITY).fillna(_US_OTHER)
        return pd.DataFrame(
            {"age": raw["age_band"], "sex": raw["sex"], "ethnicity": eth, "count": raw["count"]}
        )
    if year == 2011:
        if age_bands != "prolific":
            fail(
                MarginError,
                "age_bands",
                "the 2011 UK table has only the recruitment-platform bands (18-27 ... 58+)",
                bad=[age_bands],
                fix='Use age_bands="prolific" with year=2011.',
            )
        raw = _read("uk_ew_census2011_adult_age_sex_ethnicity5_prolific_bands.csv")
    else:
        raw = _read("uk_ew_census2021_adult_age_sex_ethnicity5.csv")
        scheme = "Prolific" if age_bands == "prolific" else "6 bands"
        raw = raw[raw["variable"].str.contains(scheme, regex=False)]
    return pd.DataFrame(
        {"age": raw["age_band"], "sex": raw["sex"], "ethnicity": raw["ethnicity"], "count": raw["count"]}
    ).reset_index(drop=True)


def _margin_table(country: str, variable: str) -> pd.DataFrame:
    if country == "us" and variable == "region":
        raw = _read("us_pep2022_region.csv")
        raw = raw[(raw["variable"] == "census region") & ~raw["region"].str.startswith("Puerto")]
        return pd.DataFrame({"region": raw["region"], "count": raw["count"]})
    if country == "us" and variable == "education":
        raw = _read("us_cps2022_education_adults.csv")
        raw = raw[raw["variable"] == "education (4 groups)"]
        return pd.DataFrame({"education": raw["education"], "count": raw["count"] * 1000.0})
    if country == "uk" and variable == "region":
        raw = _read("uk_ew_census2021_region_age.csv")
        raw = raw[raw["variable"] == "region (aged 18+, approximate)"]
        return pd.DataFrame({"region": raw["region"], "count": raw["count"]})
    raw = _read("uk_ew_census2021_qualifications_16plus.csv")
    labels = raw["education"].str.split(":").str[0]
    return pd.DataFrame({"education": labels, "count": raw["count"]})


def census(
    country: Country,
    variables: Sequence[str] = JOINT_VARIABLES,
    *,
    year: int | None = None,
    age_bands: Literal["standard", "prolific"] = "standard",
) -> pd.DataFrame:
    """Load an embedded adult census table as a tidy frame: one row per cell.

    Parameters
    ----------
    country : {"us", "uk"}
        United States (2022) or England and Wales (Census 2021; 2011 with ``year=2011``).
    variables : sequence of str
        Any subset of ``("age", "sex", "ethnicity")`` (joint cells, summed over the others), or one
        of ``"region"`` / ``"education"`` on its own (margins only; no joint tables exist).
    year : int, optional
        UK only: 2021 (default) or 2011.
    age_bands : {"standard", "prolific"}
        UK only: the six bands 18-24 ... 65+ or the recruitment-platform bands 18-27 ... 58+.

    Returns
    -------
    DataFrame
        Columns ``*variables, count, share`` (``share`` sums to 1).

    Notes
    -----
    Sources and caveats are in :func:`census_notes`. The US ethnicity groups are White
    non-Hispanic (ACS B01001H), Hispanic (ACS B01001I) and the residual of the PEP 2022 adult total.

    Examples
    --------
    >>> from estimators.datasets import census
    >>> uk = census("uk", ["age", "sex", "ethnicity"], age_bands="prolific")
    >>> len(uk), round(float(uk["share"].sum()), 12)
    (50, 1.0)
    """
    country = check_option(country, ("us", "uk"), "country")
    age_bands = check_option(age_bands, ("standard", "prolific"), "age_bands")
    if year is None:
        year = 2022 if country == "us" else 2021
    allowed_years = (2022,) if country == "us" else (2021, 2011)
    check_option(year, allowed_years, "year")
    variables = [variables] if isinstance(variables, str) else list(variables)
    known = (*JOINT_VARIABLES, *MARGIN_ONLY)
    unknown = [v for v in variables if v not in known]
    if unknown or not variables:
        fail(
            MarginError,
            "variables",
            f"must name census variables among {known}",
            bad=unknown or ["<empty>"],
        )
    if len(set(variables)) != len(variables):
        fail(MarginError, "variables", "must not repeat a variable", bad=variables)
    margin_only = [v for v in variables if v in MARGIN_ONLY]
    if margin_only:
        if len(variables) > 1:
            fail(
                MarginError,
                "variables",
                "region and education are available as single margins only, not jointly",
                bad=variables,
                fix="Load them one at a time and rake to the margins (census_margins).",
            )
        if year == 2011:
            fail(MarginError, "year", "2011 has only the age x sex x ethnicity table", bad=[year])
        table = _margin_table(country, margin_only[0])
    else:
        table = _joint_table(country, year, age_bands)
        table = table.groupby(variables, sort=True, observed=True, as_index=False)["count"].sum()
    table = table.reset_index(drop=True)
    table["count"] = table["count"].astype(float)
    table["share"] = table["count"] / table["count"].sum()
    return table


def census_margins(
    country: Country,
    variables: Sequence[str] = JOINT_VARIABLES,
    *,
    year: int | None = None,
    age_bands: Literal["standard", "prolific"] = "standard",
) -> dict[str, dict[str, float]]:
    """One-way census margins as shares, in the ``margins`` form that ``rake`` takes.

    Examples
    --------
    >>> from estimators.datasets import census_margins
    >>> m = census_margins("us", ["sex", "region"])
    >>> sorted(m), round(sum(m["sex"].values()), 12)
    (['region', 'sex'], 1.0)
    """
    variables = [variables] if isinstance(variables, str) else list(variables)
    out: dict[str, dict[str, float]] = {}
    for var in variables:
        table = census(country, [var], year=year, age_bands=age_bands)
        out[var] = dict(zip(table[var].astype(str), table["share"].astype(float)))
    return out
