import pytest

from estimators import MarginError, ValidationError
from estimators.datasets._census import census, census_margins, census_notes, prism_sample_path


def test_uk_platform_cells():
    t = census("uk", ["age", "sex", "ethnicity"], age_bands="prolific")
    assert len(t) == 50
    assert abs(t["share"].sum() - 1) < 1e-12
    assert set(t["age"]) == {"18-27", "28-37", "38-47", "48-57", "58+"}


def test_uk_2011_and_margins_sum():
    t = census("uk", ["age"], year=2011, age_bands="prolific")
    assert len(t) == 5
    sex = census("uk", "sex")
    assert set(sex["sex"]) == {"Female", "Male"}


def test_us_joint_and_margin_only():
    t = census("us")
    assert len(t) == 6 * 2 * 3
    # The US joint total is the PEP 2022 adult total (README: 260,836,730).
    assert t["count"].sum() == pytest.approx(260_836_730, rel=1e-6)
    reg = census("us", ["region"])
    assert set(reg["region"]) == {"Northeast", "Midwest", "South", "West"}
    edu = census("us", ["education"])
    assert len(edu) == 4
    m = census_margins("us", ["sex", "region"])
    assert abs(sum(m["region"].values()) - 1) < 1e-12


def test_errors():
    with pytest.raises(ValidationError, match="country: must be one of 'us', 'uk'"):
        census("fr")
    with pytest.raises(MarginError, match="variables: must name census variables"):
        census("us", ["income"])
    with pytest.raises(MarginError, match="region and education are available as single margins only"):
        census("us", ["age", "region"])
    with pytest.raises(MarginError, match="age_bands: the US tables only have the standard bands"):
        census("us", age_bands="prolific")
    with pytest.raises(MarginError, match="age_bands: the 2011 UK table has only"):
        census("uk", year=2011)


def test_notes_and_prism_files():
    assert "Sources" in census_notes()
    assert (prism_sample_path() / "survey.jsonl").is_file()
