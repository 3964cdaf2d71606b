#!/usr/bin/env bash
# make demo: start the simulator with sample requests, run the demo job three times, stop the simulator.
# Usage: tools/demo/run_demo.sh PYTHON (with ansible-core; ANSIBLE_COLLECTIONS_PATH points at the installed collection)
set -euo pipefail
python=$1
bin=$(dirname "$python")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
"$python" "$here/../simulator/mim_cm_simulator.py" --port 0 --port-file "$work/port" --seed "$here/../simulator/sample_seed.json" \
  --state "$work/state.json" --audit-log "$work/audit.jsonl" --quiet > "$work/simulator.out" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/simulator.out"; echo "the simulator did not start" >&2; exit 1; }
MIM_CM_URL="http://127.0.0.1:$(cat "$work/port")"
export MIM_CM_URL
echo "== MIM CM simulator (PID $sim_pid) at $MIM_CM_URL"

run() { "$bin/ansible-playbook" -i localhost, "$here/complete_requests.yml" "$@"; }
writes() { wc -l < "$work/audit.jsonl" | tr -d ' '; }

echo "== 1. Finalize three requests: each reports changed"
run
echo "== 2. Run it again: nothing left to change"
run
before=$(writes)
echo "== 3. Check mode, also abandoning the executing request: reports what would change, writes nothing"
run --check --diff -e '{"demo_extra_requests": [{"id": "4b8d2e61-0f3a-4c7b-9e15-6a2c8d4f0b93", "status": "abandoned"}]}'
echo "== Writes the simulator applied: $(writes) in all, $(( $(writes) - before )) during the check-mode run"
[ "$(writes)" -eq "$before" ]
