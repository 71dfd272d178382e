"""What the report's numbers count and follow: MQuAKE axes count rewrites (weight edits) or cases (edits), Table 3
says when it mixes protocols (`evaluation.protocol: immediate`), and names the CounterFact variant that ran (from
the registry) and MQuAKE's prompt."""
from __future__ import annotations

import pandas as pd

from seqedit.report.plot import requests_edited_label, weight_edits_label


def test_mquake_axes_say_whether_they_count_rewrites_or_cases():
    zsre = pd.DataFrame({"edit": [1, 2, 3], "request": [1, 2, 3]})
    mquake = pd.DataFrame({"edit": [1, 2, 3, 4, 5, 6], "request": [1, 1, 1, 2, 2, 2]})  # 3 rewrites per case
    old_csv = pd.DataFrame({"edit": [1, 2], "request": [float("nan")] * 2})
    assert weight_edits_label(zsre) == "number of edits" == weight_edits_label(old_csv)
    assert "rewrites" in weight_edits_label(mquake) and "rewrites" in weight_edits_label(mquake, "edit index")
    assert requests_edited_label(pd.DataFrame({"mq_n_cases": [float("nan")]})) == "number of edits"
    assert "MQuAKE cases" in requests_edited_label(pd.DataFrame({"mq_n_cases": [float("nan"), 3.0]}))
