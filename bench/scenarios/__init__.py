"""The benchmark scenarios, in the order `python -m bench` runs them.

To add one (customer list over 1,000,000 rows, invoices, the billing run, the fraud check):
write `scenarios/<name>.py` with a `run(ctx: BenchContext) -> ScenarioResult` function and a
module-level `SCENARIO = Scenario(name=..., description=..., run=run)`, then list it below.
Each scenario gets its own fresh database and server (see bench/context.py).
"""

from __future__ import annotations

from bench.context import Scenario
from bench.scenarios import auth, billing, customers, fraud

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        auth.SCENARIO,
        customers.SCENARIO,
        billing.SCENARIO,
        fraud.SCENARIO,
    )
}
