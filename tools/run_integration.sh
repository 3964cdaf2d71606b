#!/usr/bin/env bash
# Run the ansible-test integration targets against a MIM CM simulator started for the run.
# Usage: tools/run_integration.sh PYTHON COLLECTION_TREE [ansible-test options...]
# PYTHON has ansible-test; COLLECTION_TREE is the copy under ansible_collections/mim/certificate_management.
set -euo pipefail
python=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") tree=$(cd "$2" && pwd)
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
work="$tree/tests/output/simulator"
rm -rf "$work" && mkdir -p "$work"

# Each target brings its own requests in files/simulator_seed.json; one simulator serves them all.
"$python" - "$work/seed.json" "$tree"/tests/integration/targets/*/files/simulator_seed.json <<'PY'
import json, sys
merged = [request for path in sys.argv[2:] for request in json.load(open(path))['requests']]
json.dump({'requests': merged}, open(sys.argv[1], 'w'), indent=1)
PY

"$python" "$here/tools/simulator/mim_cm_simulator.py" --port 0 --port-file "$work/port" --seed "$work/seed.json" \
  --audit-log "$work/audit.jsonl" --access-log "$work/access.jsonl" > "$work/simulator.out" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ -s "$work/port" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$work/simulator.out"; echo "simulator did not start" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/port" ] || { echo "simulator did not report its port within 10 s" >&2; exit 1; }
touch "$work/audit.jsonl" "$work/access.jsonl"

cat > "$tree/tests/integration/integration_config.yml" <<YAML
mim_cm_url: http://127.0.0.1:$(cat "$work/port")
mim_cm_audit_log: $work/audit.jsonl
mim_cm_access_log: $work/access.jsonl
YAML

py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
cd "$tree"
"$(dirname "$python")/ansible-test" integration --local --python-interpreter "$python" --color no "$@"
