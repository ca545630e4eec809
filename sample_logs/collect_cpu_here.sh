#!/usr/bin/env bash
# Random candidates of every training subgraph of sample_logs/cpu, measured on *this* machine: TRIALS (default 64)
# records of this machine's own per subgraph, beside what other machines measured in the same work dirs (records
# of another machine neither count nor keep this one from measuring the same programs). None of the world model's
# held-out subgraphs (DEFAULT_HOLDOUT) is measured. Resumable: run it again, on this machine or in a later
# session, and it continues; each record carries this machine's hardware id. Measure with nothing else heavy
# running. SUBGRAPHS overrides the list.
set -euo pipefail
cd "$(dirname "$0")/.."
SUBGRAPHS=${SUBGRAPHS:-$(.venv/bin/python -c "
from pathlib import Path
from workbench.worldmodel.evaluate import DEFAULT_HOLDOUT, holdout_names
names = sorted(p.name.replace('__', '/') for p in Path('sample_logs/cpu').iterdir() if p.is_dir())
held = holdout_names(DEFAULT_HOLDOUT, names)
print(' '.join(n for n in names if n not in held))")}
exec .venv/bin/workbench collect --target cpu --trials "${TRIALS:-64}" --batch 32 --seed 1 --split \
  --out sample_logs/cpu --subgraph $SUBGRAPHS
