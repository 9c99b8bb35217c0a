#!/usr/bin/env bash
# The capability rules under a seeded random run (tests/integration/caps.py): an owner and an
# attacker sharing the bearer token, each move checked. SEED=N (or --seed N) replays a run.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack caps
export SLUICE_PREFIX="it-caps-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$-shared SLUICE_THUMBS=false
stack_write_conf "$W"
stack_start_workers "$W" 2 || exit 1
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
python3 tests/integration/caps.py "http://127.0.0.1:$NP" "$SLUICE_TOKEN" "$SLUICE_PREFIX" \
    --moves "${CAPS_MOVES:-150}" ${SEED:+--seed "$SEED"} "$@"
