#!/usr/bin/env bash
# make demo: start the simulator with sample requests, run the demo job three times, stop the simulator.
# Usage: tools/demo/run_demo.sh PYTHON (with ansible-core; ANSIBLE_COLLECTIONS_PATH points at the installed collection)
set -euo pipefail
python=$1
bin=$(dirname "$python")
here=$(cd "$(dirname "$0")" && pwd)
launcher=$here/../../tests/simulator/run_simulator.py
work=$(mktemp -d)
trap '"$python" "$launcher" --stop "$work/simulator" > /dev/null; rm -rf "$work"' EXIT
# on a free port, stopped by its PID at exit (and by itself should this script die without its trap: --exit-with-pid)
"$python" "$launcher" --background "$work/simulator" --exit-with-pid $$ --seed "$here/sample_seed.json" \
  --state "$work/state.json" > /dev/null
read -r sim_pid MIM_CM_URL audit_log < <("$python" -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["pid"], s["url"], s["audit_log"])' \
  "$work/simulator/simulator.json")
export MIM_CM_URL
echo "== MIM CM simulator (PID $sim_pid) at $MIM_CM_URL"

run() { "$bin/ansible-playbook" -i localhost, "$here/complete_requests.yml" "$@"; }
writes() { wc -l < "$audit_log" | tr -d ' '; }
# The simulator's audit log, one "id from -> to" line per applied write.
applied() { "$python" -c 'import json, sys
for line in open(sys.argv[1]):
    entry = json.loads(line)
    if entry["event"] == "applied":
        print(entry["request_id"], entry["from"], "->", entry["to"])' "$audit_log"; }

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
