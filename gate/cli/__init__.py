"""The `gate` console script, one module per command group:

- `serve` — gunicorn with production settings (serve.py)
- `db`, `token`, `rings`, `criteria` — the operator's commands on the local store (admin.py)
- `features`, `show`, `check`, `wait`, `apply`, `vote`, `status` — features and gates (features.py)
- `promote`, `rollout`, `rollback`, `kill`, `revive` — exposure (releases.py)
- `incident`, `change` — what on-call and pipelines report (incidents.py)
- `plan` — release plans (plans.py); `dora` — the four metrics (dora.py)
- `evidence` — a pipeline's CI reports for criteria (evidence.py); `components` — milestones (components.py)

Against a server through `client.Remote` (contract 7.4); locally through `local.local_app`. Exit codes
(exits.py): 0 done, 1 refused, 2 anything else, the same both ways; never a traceback (group.py).
"""

from __future__ import annotations

from gate.cli import (  # each registers its commands
    admin,
    components,
    dora,
    evidence,
    features,
    incidents,
    plans,
    releases,
    serve,
)
from gate.cli.group import main

__all__ = ["admin", "components", "dora", "evidence", "features", "incidents", "main", "plans", "releases", "serve"]
