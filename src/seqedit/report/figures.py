"""The paper's figures (matplotlib, Agg backend), one module each, re-exported here. Each takes the loaded
DataFrames (:mod:`.load`) and returns a Figure; :func:`save` writes it atomically as PNG and PDF with a provenance
footer. A panel without data says "no data", so every figure is always produced, whatever inputs are missing.

- :mod:`.fig2` ``fig2_downstream``: downstream task scores vs number of edits (Fig. 2);
- :mod:`.fig5` ``fig5_bottleneck`` (Fig. 5a, with ``success_series``) and ``fig5_norms_per_layer`` (Fig. 5b/c);
- :mod:`.fig6` ``fig6_norms_methods``: mean|W| of every method and the downstream average (Fig. 6a-c);
- :mod:`.fig8` ``fig8_edit_metrics``: Efficacy / Paraphrase / Specificity vs edits (Fig. 8);
- :mod:`.plot`: what they share (grid, legend, title and footer, ``save``).
"""
from __future__ import annotations

from .fig2 import fig2_downstream  # noqa: F401
from .fig5 import (  # noqa: F401
    PAPER_BOTTLENECK_METHODS,
    SUCCESS_EPS,
    fig5_bottleneck,
    fig5_norms_per_layer,
    success_series,
)
from .fig6 import downstream_average, fig6_norms_methods  # noqa: F401
from .fig8 import METRIC_TITLES, fig8_edit_metrics  # noqa: F401
from .plot import MAX_PNG_PIXELS, PANEL_H, PANEL_W, save  # noqa: F401
