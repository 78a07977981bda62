"""Data shipped with the package: census tables, the PRISM-schema sample, synthetic generators.

Load census tables with :func:`census` (joint age x sex x ethnicity cells, or margins with
:func:`census_margins`); every table's source is in :func:`census_notes`. The PRISM tables load
with :func:`load_prism`; :func:`synthetic_population` draws a synthetic population from the census.
"""

from estimators.datasets._census import (
    census,
    census_margins,
    census_notes,
    data_path,
    prism_sample_path,
)
from estimators.datasets._prism import (
    PrismData,
    load_prism,
    read_prism_table,
    utterances_from_conversations,
)
from estimators.datasets._synthetic import SYNTHETIC_OPTIONS, synthetic_population

__all__ = [
    "SYNTHETIC_OPTIONS",
    "PrismData",
    "census",
    "census_margins",
    "census_notes",
    "data_path",
    "load_prism",
    "prism_sample_path",
    "read_prism_table",
    "synthetic_population",
    "utterances_from_conversations",
]
