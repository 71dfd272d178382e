"""The paper's tables (Markdown, CSV and LaTeX), one module each, and the names they share, re-exported here.

- :mod:`.load`: reading the result files into frames (``load_norms``, ``per_edit``, ``load_metrics``,
  ``load_downstream``);
- :mod:`.names`: naming and ordering methods, tasks and protocols;
- :mod:`.render`: cells (best / second marks), Markdown and LaTeX tables, writing a table's files;
- :mod:`.table2` (zsRE, per protocol and checkpoint, 95% intervals), :mod:`.table3` (CounterFact and MQuAKE at the
  last checkpoint, 95% intervals), :mod:`.table4` (downstream before / after): each a function from loaded frames
  to the table's frame, and its Markdown and LaTeX rendering.
"""
from __future__ import annotations

from .load import (  # noqa: F401
    CF_KEYS,
    MQ_KEYS,
    NORM_COLUMNS,
    load_downstream,
    load_metrics,
    load_norms,
    main_protocols,
    metric_protocols,
    per_edit,
)
from .names import (  # noqa: F401
    DECIMALS,
    METHOD_DISPLAY,
    METHOD_ORDER,
    METRICS,
    PROTOCOL_TEXT,
    TASK_DISPLAY,
    TASK_ORDER,
    UNSPECIFIED,
    WEIGHTLESS_METHODS,
    is_weightless,
    method_display,
    order_methods,
    order_plain,
    order_protocols,
    order_tasks,
    protocol_columns,
    protocol_text,
    task_display,
)
from .render import (  # noqa: F401
    Cell,
    decorate,
    fmt,
    fmt_count,
    fmt_signed,
    latex_document,
    latex_escape,
    latex_label,
    latex_table,
    marked_column,
    md_footer,
    md_table,
    rank_marks,
    write_table,
)
from .table2 import T2_COLUMNS, T2_HEADERS, T2_LEGEND, table2, table2_latex, table2_markdown  # noqa: F401
from .table3 import T3_COLUMNS, T3_FIELDS, table3, table3_latex, table3_markdown  # noqa: F401
from .table4 import T4_LEGEND, table4, table4_latex, table4_markdown  # noqa: F401
