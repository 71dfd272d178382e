"""The rows of the claims table (:mod:`.claims`, :mod:`.claims_general`): columns and the two row builders."""
from __future__ import annotations

from . import verdicts

CLAIM_COLUMNS = ["claim", "dataset", "methods", "statement", "evidence", "criterion", "verdict", "figure"]


def make_row(claim, dataset, methods, statement, evidence, criterion, verdict, figure) -> dict:
    return dict(zip(CLAIM_COLUMNS, [claim, dataset, methods, statement, evidence, criterion, verdict, figure]))


def missing_row(claim, dataset, methods, statement, figure, what) -> dict:
    """A claim without the results it needs: inconclusive, saying what is missing."""
    return make_row(claim, dataset, methods, statement, f"no data: {what}", "-", verdicts.INCONCLUSIVE, figure)
