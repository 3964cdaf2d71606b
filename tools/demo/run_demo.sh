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
# The simulator's audit log, one "id from -> to" line per applied write.
applied() { "$python" -c 'import json, sys
for line in open(sys.argv[1]):
    entry = json.loads(line)
    if entry["event"] == "applied":
        print(entry["request_id"], entry["from"], "->", entry["to"])' "$work/audit.jsonl"; }

echo "== 1. Check mode with diff: complete two requests, cancel one, abandon one; reports what would change"
run --check --diff
[ "$(writes)" -eq 0 ] || { echo "check mode wrote to the server" >&2; exit 1; }
echo "== The simulator applied no write in check mode"
echo "== 2. The real run: each request reports changed (the abandoned one reads Failed)"
run
echo "== Writes the simulator applied (its audit log):"
applied
[ "$(applied | wc -l)" -eq 4 ] || { echo "expected exactly one applied write per request" >&2; exit 1; }
echo "== 3. Run it again: nothing left to change, no write"
run
[ "$(writes)" -eq 4 ] || { echo "the re-run wrote to the server" >&2; exit 1; }
echo "== The simulator applied 4 writes in all: one per request, none in check mode or in the re-run"
