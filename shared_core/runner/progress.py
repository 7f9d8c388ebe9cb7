"""The live line of `sls run` (tqdm): done/total and ETA, hit rate by tier,
spend against the budget, calls per model, retries and errors."""

from __future__ import annotations

import time
from collections import Counter

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, done: int, budget_usd: float | None, enabled: bool = True):
        self.bar = tqdm(total=total, initial=done, unit="job", dynamic_ncols=True, disable=not enabled,
                        smoothing=0.1)
        self.budget_usd = budget_usd
        self.tiers: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.errors = 0
        self.retries = 0
        self.spent_usd = 0.0
        self.jobs = 0
        self._shown = 0.0

    def job(self, row: dict) -> None:
        self.jobs += 1
        if row["status"] == "error":
            self.errors += 1
        elif row.get("tier"):
            self.tiers[row["tier"]] += 1
        self.bar.update(1)
        self._show()

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._shown < 0.3:
            return
        self._shown = now
        n = max(1, self.jobs)
        hits = " ".join(f"{t} {c / n:.0%}" for t, c in sorted(self.tiers.items()))
        spend = f"${self.spent_usd:.4f}" + (f"/${self.budget_usd:g}" if self.budget_usd else "")
        calls = " ".join(f"{m}:{c}" for m, c in sorted(self.calls.items()))
        self.bar.set_postfix_str(f"hits[{hits or '-'}] {spend} calls[{calls or '-'}] "
                                 f"retries {self.retries} errors {self.errors}", refresh=False)

    def close(self) -> None:
        self._show(force=True)
        self.bar.refresh()
        self.bar.close()
