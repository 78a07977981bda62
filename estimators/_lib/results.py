"""The result base shared by every public result object.

Results are ``@dataclass(frozen=True)`` classes that inherit :class:`Result` and implement
``to_frame()`` and ``plot(ax=None)``. :class:`Result` supplies ``summary()`` (text or HTML) built from
``_summary_title()``, ``_summary_facts()`` and ``to_frame()``, and the notebook HTML repr.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from estimators._lib.validation import check_option

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Result", "format_fact", "frozen_instance", "get_axes"]


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def frozen_instance(cls: type, /, **values: Any) -> Any:
    """``cls(**values)`` for a frozen dataclass without ``__post_init__``, built in one step.

    A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``; on hot
    paths that build small results many times (an allocation at ten groups, a quota decision) that
    is a visible share of the call. Every field must be given by name (no defaults are filled in),
    so the object is exactly the one the constructor makes.
    """
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
    if values.keys() != names:
        raise TypeError(f"{cls.__name__} needs exactly the fields {sorted(names)}")
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def format_fact(value: Any) -> str:
    """Format a scalar for a summary line (floats to 6 significant digits)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def get_axes(ax: Axes | None = None, **subplot_kw: Any) -> Axes:
    """Return ``ax`` or a fresh Axes on a new figure (matplotlib imported lazily)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new_ax = plt.subplots(**subplot_kw)
    return new_ax


class Result:
    """Mixin for frozen result dataclasses: ``summary()``, HTML repr; subclasses add the rest."""

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def plot(self, ax: Axes | None = None) -> Axes:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def _summary_title(self) -> str:
        return type(self).__name__

    def _summary_facts(self) -> Iterable[tuple[str, Any]]:
        return ()

    def summary(self, kind: Literal["text", "html"] = "text", *, max_rows: int = 30) -> str:
        """Return a readable summary: a title, key facts, and the table from ``to_frame()``.

        Parameters
        ----------
        kind : {"text", "html"}
            Plain text for terminals and logs, or HTML for notebooks and reports.
        max_rows : int
            Rows of the table shown before it is truncated.
        """
        kind = check_option(kind, ("text", "html"), "kind")
        title = self._summary_title()
        facts = [(k, format_fact(v)) for k, v in self._summary_facts()]
        table = self.to_frame()
        if kind == "html":
            items = "".join(f"<li><b>{k}</b>: {v}</li>" for k, v in facts)
            body = table.to_html(max_rows=max_rows, float_format=lambda x: f"{x:.6g}")
            return f"<h4>{title}</h4><ul>{items}</ul>{body}"
        lines = [title, "=" * len(title)]
        width = max((len(k) for k, _ in facts), default=0)
        lines += [f"{k:<{width}} : {v}" for k, v in facts]
        with pd.option_context("display.max_rows", max_rows, "display.width", 120):
            lines += ["", table.to_string(max_rows=max_rows, float_format=lambda x: f"{x:.6g}")]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.summary("html")
