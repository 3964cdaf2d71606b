#!/usr/bin/env bash
# The finalize_request role over a fleet of hosts behaves as a per-host role in every way a play can run it (issue 14):
# each host finalizes its own requests and only those, finalize_request_results of a host hold only its own results,
# and the right hosts fail. Each phase runs ansible-playbook over inventory.yml against this target's own simulator
# (files/simulator_seed.json, started through tests/simulator/run_simulator.py and stopped by its PID at exit), checks
# the PLAY RECAP, and verify.yml then checks the simulator's audit log: exactly the writes expected so far, each
# request written once, nothing in check mode. The playbooks assert each host's results as they go.
#
# The phases, with the cases that number their requests (inventory.yml):
#   styles            10-12  roles:, import_role, include_role; a host skips the role with when:, hosts fail before it
#   batches           20-21  serial: 2, then strategy: free
#   limit             30     --limit
#   check_diff        40     --check --diff
#   provision         50     the rescue of mim.certificate_management.provision_example, several ok and failing hosts
#   second_call       60-62  three calls of the role in one play, with other ids each
#   slice_1, slice_2  70     AWX job slicing: the same playbook on each half of the fleet, one run each
#   delegated_*       80-81  finalize_request_delegate_to another host, in the controller and by a shipped module
#   refused           90     hosts whose own request cannot be completed fail, the others do not
set -eu -o pipefail

started=$SECONDS
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
work=${OUTPUT_DIR:-$(mktemp -d)}
# ansible-test runs this from a copy of tests/integration/ only: the launcher is in the collection tree
collection=${ANSIBLE_COLLECTIONS_PATH:-}
launcher=${collection%%:*}/ansible_collections/mim/certificate_management/tests/simulator/run_simulator.py
if [ ! -f "$launcher" ] && [ -f ../../../simulator/run_simulator.py ]; then
    launcher=$(cd ../../../simulator && pwd)/run_simulator.py
fi
[ -f "$launcher" ] || { echo "FAILED: no tests/simulator/run_simulator.py (set ANSIBLE_COLLECTIONS_PATH)" >&2; exit 1; }
trap '"$python" "$launcher" --stop "$work/simulator" > /dev/null' EXIT
"$python" "$launcher" --background "$work/simulator" --exit-with-pid $$ --seed files/simulator_seed.json > /dev/null
config=$work/fleet_sim.json
"$python" -c 'import json, sys; json.dump({"fleet_sim": json.load(open(sys.argv[1]))}, open(sys.argv[2], "w"))' \
    "$work/simulator/simulator.json" "$config"
verbosity=("$@")

fail() { echo "FAILED: $*" >&2; exit 1; }
run() { env -u MIM_CM_URL ansible-playbook -i inventory.yml -e "@$config" "${verbosity[@]}" "$@"; }
# run, keeping the output in $work/$1.log; the exit code goes to $rc
run_logged() {
    local log=$work/$1.log
    shift
    set +e
    run "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
}
verify() { echo "== verify: $1 (at $((SECONDS - started)) s)"; run verify.yml -e "verify_phase=$1"; }
recap() { grep -A20 '^PLAY RECAP' "$work/$1.log" | grep -E '^[a-z][-a-z0-9]* +:' || true; }
# The hosts of a run's recap, and those with failed=1 or more, sorted on one line.
recap_hosts() { recap "$1" | awk '{ print $1 }' | sort | xargs; }
failed_hosts() { recap "$1" | awk '/ failed=[1-9]/ { print $1 }' | sort | xargs; }
expect_recap() {  # phase, exit code, hosts of the recap, failed hosts
    [ "$rc" -eq "$2" ] || fail "$1 exited with $rc, not $2"
    [ "$(recap_hosts "$1")" = "$3" ] || fail "$1: the recap has the hosts '$(recap_hosts "$1")', not '$3'"
    [ "$(failed_hosts "$1")" = "$4" ] || fail "$1: the failed hosts are '$(failed_hosts "$1")', not '$4'"
}
fleet="fleet-1 fleet-2 fleet-3 fleet-4 fleet-5 fleet-6"

echo "== styles: roles:, import_role, include_role; fleet-6 skips the role with when:, one host per play fails before it"
run_logged styles styles.yml
expect_recap styles 2 "$fleet localhost" "fleet-3 fleet-4 fleet-5"
verify styles

echo "== batches: serial: 2, then strategy: free"
run_logged batches batches.yml
expect_recap batches 0 "$fleet localhost" ""
verify batches

echo "== limit: only the limited hosts' requests are written"
run_logged limit fleet.yml -e fleet_case=30 --limit fleet-2,fleet-5
expect_recap limit 0 "fleet-2 fleet-5" ""
verify limit

echo "== check_diff: every host reports its change, nothing is written"
run_logged check_diff fleet.yml -e fleet_case=40 --check --diff
expect_recap check_diff 0 "$fleet" ""
for host in $fleet; do
    grep -Eq "^$host +: .* changed=1 " "$work/check_diff.log" || fail "check mode did not report $host changed"
done
# the diff of each host names its request and the status change
[ "$(grep -c '^+++ after: 55555555-0000-4000-8000-00000000040[1-6]$' "$work/check_diff.log")" -eq 6 ] \
    || fail "--diff did not show one diff per host"
verify check_diff

echo "== provision: mim.certificate_management.provision_example over ok, failing and refused hosts in one run"
run_logged provision provision.yml -e fleet_case=50 -e '{"cm_connection": {"url": "{{ fleet_sim.url }}", "auth": "none"}}'
expect_recap provision 2 "localhost prov-1 prov-2 prov-3 prov-4 prov-5 prov-6 prov-7" "prov-4 prov-5 prov-6 prov-7"
for host in prov-4 prov-5 prov-6; do
    grep -Eq "^$host +: .* rescued=1 " "$work/provision.log" || fail "$host was not rescued"
done
grep -Eq '^prov-7 +: .* rescued=0 ' "$work/provision.log" || fail "prov-7's refused completion went to the rescue"
for n in 4 5; do
    grep -q "Its MIM CM request 55555555-0000-4000-8000-00000000050$n was abandoned" "$work/provision.log" \
        || fail "prov-$n's message does not name its request"
done
grep -q 'Provisioning of prov-6 failed: .* It has no cm_request_id' "$work/provision.log" || fail "no message for prov-6"
verify provision

echo "== second_call: three calls of the role in one play, each with other ids"
run_logged second_call second_call.yml
expect_recap second_call 0 "$fleet" ""
verify second_call

# AWX deals the hosts of a sliced job to its slices in turn, and runs each slice as a job of its own.
echo "== slice_1, slice_2: the same playbook on the two slices of the fleet"
run_logged slice_1 fleet.yml -e fleet_case=70 --limit fleet-1,fleet-3,fleet-5
expect_recap slice_1 0 "fleet-1 fleet-3 fleet-5" ""
verify slice_1
run_logged slice_2 fleet.yml -e fleet_case=70 --limit fleet-2,fleet-4,fleet-6
expect_recap slice_2 0 "fleet-2 fleet-4 fleet-6" ""
verify slice_2

# The module runs inside the controller's worker only for a local connection with Ansible's own Python; the wrapper
# is the same Python under another name, so the task ships the module to cm-runner as to any other host, and the
# wrapper's log counts the module runs.
ansible_python=$(ansible localhost -o -m ansible.builtin.debug -a var=ansible_playbook_python 2> /dev/null \
    | sed -n 's/.*"ansible_playbook_python": "\([^"]*\)".*/\1/p')
[ -x "$ansible_python" ] || fail "could not find the Python of ansible-playbook"
printf '#!/bin/sh\necho "$*" >> "%s"\nexec "%s" "$@"\n' "$work/python-wrapper.log" "$ansible_python" > "$work/python-wrapper"
chmod +x "$work/python-wrapper"
rm -f "$work/python-wrapper.log"

echo "== delegated_controller: finalize_request_delegate_to=cm-runner, run inside the controller"
run_logged delegated_controller fleet.yml -e fleet_case=80 -e finalize_request_delegate_to=cm-runner -vvv
expect_recap delegated_controller 0 "$fleet" ""
for host in $fleet; do
    grep -q "^changed: \[$host -> cm-runner\]" "$work/delegated_controller.log" || fail "$host's call did not run on cm-runner"
done
if grep -q AnsiballZ_cm_request_status "$work/delegated_controller.log"; then fail "the module was shipped"; fi
verify delegated_controller

echo "== delegated_module: finalize_request_delegate_to=cm-runner with another interpreter, the module shipped;"
echo "   fleet-6's request is already Canceled"
run_logged delegated_module fleet.yml -e fleet_case=81 -e finalize_request_delegate_to=cm-runner \
    -e "finalize_request_python_interpreter=$work/python-wrapper" -e '{"fleet_failing": {"fleet-6": "is already Canceled"}}'
expect_recap delegated_module 2 "$fleet" "fleet-6"
for host in fleet-1 fleet-2 fleet-3 fleet-4 fleet-5; do
    grep -q "^changed: \[$host -> cm-runner\]" "$work/delegated_module.log" || fail "$host's call did not run on cm-runner"
done
[ "$(grep -c AnsiballZ_cm_request_status "$work/python-wrapper.log")" -eq 6 ] || fail "the module did not run once per host"
verify delegated_module

echo "== refused: fleet-3's request is already Canceled, the server refuses fleet-5's; the others are completed"
run_logged refused fleet.yml -e fleet_case=90 \
    -e '{"fleet_failing": {"fleet-3": "is already Canceled", "fleet-5": "cannot move from status Pending to status Completed"}}'
expect_recap refused 2 "$fleet" "fleet-3 fleet-5"
grep -q '^fatal: \[fleet-5 -> localhost\]: FAILED! .*An error has occurred. Request 55555555-0000-4000-8000-000000000905 cannot move' \
    "$work/refused.log" || fail "fleet-5 did not fail with the server's message"
verify refused

echo "== PLAY RECAP of each run"
for log in styles batches limit check_diff provision second_call slice_1 slice_2 delegated_controller delegated_module refused; do
    recap "$log" | sed "s/^/$log: /"
done
echo "== finalize_request_fleet passed in $((SECONDS - started)) s"
