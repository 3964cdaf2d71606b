#!/usr/bin/env bash
# Runs the collection's playbooks (mim.certificate_management.finalize, provision_example, cancel_stale) and the edge
# cases of the finalize_request role with ansible-playbook against this target's own simulator, which it starts with
# files/simulator_seed.json through tests/simulator/run_simulator.py (stopped by its PID at exit). After each phase
# verify.yml checks the simulator's audit log (exactly the expected writes, nothing in check mode or on a re-run) and
# every request's status. MIM_CM_TEST_CONFIG may name a file with mim_cm_sim.playbooks of a simulator started elsewhere.
set -eu -o pipefail

python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
work=${OUTPUT_DIR:-$(mktemp -d)}
config=${MIM_CM_TEST_CONFIG:-}
if [ -z "$config" ] || [ ! -f "$config" ]; then
    # ansible-test runs this from a copy of tests/integration/ only: the launcher is in the collection tree
    collection=${ANSIBLE_COLLECTIONS_PATH:-}
    launcher=${collection%%:*}/ansible_collections/mim/certificate_management/tests/simulator/run_simulator.py
    if [ ! -f "$launcher" ] && [ -f ../../../simulator/run_simulator.py ]; then
        launcher=$(cd ../../../simulator && pwd)/run_simulator.py
    fi
    [ -f "$launcher" ] || { echo "FAILED: no tests/simulator/run_simulator.py (set ANSIBLE_COLLECTIONS_PATH)" >&2; exit 1; }
    trap '"$python" "$launcher" --stop "$work/simulator" > /dev/null' EXIT
    "$python" "$launcher" --background "$work/simulator" --exit-with-pid $$ --seed files/simulator_seed.json > /dev/null
    config=$work/simulator-vars.json
    "$python" -c 'import json, sys; json.dump({"mim_cm_sim": {"playbooks": json.load(open(sys.argv[1]))}}, open(sys.argv[2], "w"))' \
        "$work/simulator/simulator.json" "$config"
fi

setting() { "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["mim_cm_sim"]["playbooks"][sys.argv[2]])' "$config" "$1"; }
url=$(setting url)
id=44444444-0000-4000-8000-000000000
verbosity=("$@")

fail() { echo "FAILED: $*" >&2; exit 1; }
# ansible-playbook with the simulator settings; the collection's playbooks take the url from MIM_CM_URL, unless
# no_env_url is set.
run() {
    if [ -n "${no_env_url:-}" ]; then
        env -u MIM_CM_URL ansible-playbook -e "@$config" "${verbosity[@]}" "$@"
    else
        MIM_CM_URL=$url ansible-playbook -e "@$config" "${verbosity[@]}" "$@"
    fi
}
# run, keeping the output in $work/$1.log; the exit code goes to $rc
run_logged() {
    local log=$work/$1.log
    shift
    set +e
    run "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
}
verify() { echo "== verify: $1"; run verify.yml -e "verify_phase=$1"; }
recap() { grep -A5 '^PLAY RECAP' "$1" | grep -E '^[a-z][-a-z]* +:' || true; }

cat > "$work/inventory.yml" <<EOF
all:
  vars:
    # No Python here: whatever talks to MIM CM must run on the controller with ansible_playbook_python.
    ansible_python_interpreter: /nonexistent/python
  children:
    provision_targets:
      hosts:
        prov-ok: {cm_request_id: "${id}201"}
        prov-fail: {cm_request_id: "${id}202", provision_example_fail: true}
        prov-refused: {cm_request_id: "${id}203", provision_example_fail: true}
    role_targets:
      hosts:
        role-a:
          host_request_id: "${id}301"
          host_extra_ids: ["${id}303", "{44444444-0000-4000-8000-000000000303}", " 44444444-0000-4000-8000-000000000303 "]
        role-b:
          host_request_id: "${id}302"
EOF
inventory=$work/inventory.yml

echo "== finalize: a list, with one id twice in another form"
run_logged finalize_list mim.certificate_management.finalize \
    -e "{\"cm_request_ids\": [\"${id}101\", \"{44444444-0000-4000-8000-000000000102}\", \"${id}101\"]}"
[ "$rc" -eq 0 ] || fail "finalize with a list exited with $rc"
grep -q "${id}102: Executing -> Completed (changed)" "$work/finalize_list.log" || fail "finalize did not report the change"
verify finalize_list

echo "== finalize: a survey textarea string, status Canceled (any case)"
run_logged finalize_survey mim.certificate_management.finalize \
    -e "{\"cm_request_ids\": \"${id}111\\n${id}112, ${id}113  ${id}111\\n\", \"cm_request_status\": \"Canceled\"}"
[ "$rc" -eq 0 ] || fail "finalize with a survey string exited with $rc"
verify finalize_survey

echo "== finalize: the re-run changes nothing"
run_logged finalize_rerun mim.certificate_management.finalize -e "{\"cm_request_ids\": [\"${id}101\", \"${id}102\"]}"
[ "$rc" -eq 0 ] || fail "the re-run exited with $rc"
grep -Eq '^localhost +: .* changed=0 ' "$work/finalize_rerun.log" || fail "the re-run reported a change"
verify finalize_rerun

echo "== finalize: check mode reports the change and writes nothing (ids as key=value, comma-separated)"
run_logged finalize_check mim.certificate_management.finalize --check -e "cm_request_ids=${id}121,${id}121"
[ "$rc" -eq 0 ] || fail "finalize --check exited with $rc"
grep -q "${id}121: Approved -> Completed (would change)" "$work/finalize_check.log" || fail "check mode did not report the change"
grep -Eq '^localhost +: .* changed=1 ' "$work/finalize_check.log" || fail "check mode did not report changed=1"
verify finalize_check

echo "== finalize: no ids, nothing to do"
run_logged finalize_empty mim.certificate_management.finalize
[ "$rc" -eq 0 ] || fail "finalize without ids exited with $rc"
grep -q 'nothing was done' "$work/finalize_empty.log" || fail "finalize without ids did not say so"
run_logged finalize_empty_string mim.certificate_management.finalize -e '{"cm_request_ids": ""}'
[ "$rc" -eq 0 ] || fail "finalize with an empty survey string exited with $rc"
verify finalize_empty

echo "== provision_example in check mode: the failing host still fails, nothing is written"
run_logged provision_check -i "$inventory" mim.certificate_management.provision_example --check
[ "$rc" -eq 2 ] || fail "provision_example --check exited with $rc, not 2"
grep -q "Its MIM CM request ${id}202 would be abandoned (it reads Failed)" "$work/provision_check.log" || fail "no check-mode message"
verify provision_check

echo "== provision_example: prov-ok is provisioned (Completed), prov-fail fails (abandoned: Failed, host failed),"
echo "   prov-refused fails and the server refuses to abandon its Pending request"
run_logged provision -i "$inventory" mim.certificate_management.provision_example
[ "$rc" -eq 2 ] || fail "provision_example exited with $rc, not 2 (a failed host)"
grep -Eq '^prov-ok +: .* failed=0 ' "$work/provision.log" || fail "prov-ok failed"
grep -Eq '^prov-fail +: .* failed=1 ' "$work/provision.log" || fail "prov-fail did not fail"
grep -Eq '^prov-fail +: .* rescued=1 ' "$work/provision.log" || fail "prov-fail was not rescued"
grep -q "Provisioning of prov-fail failed: the example provisioning of prov-fail failed on purpose" "$work/provision.log" \
    || fail "no clear failure message"
grep -q "Its MIM CM request ${id}202 was abandoned (it reads Failed)" "$work/provision.log" || fail "the message does not name the request"
grep -Eq '^prov-refused +: .* failed=1 ' "$work/provision.log" || fail "prov-refused did not fail"
grep -q "Provisioning of prov-refused failed: .* Abandoning its MIM CM request ${id}203 failed too: .*Pending" "$work/provision.log" \
    || fail "the failure to abandon was not reported with the server's reason"
verify provision

echo "== the finalize_request role: edge cases"
run_logged role_cases -i "$inventory" role_cases.yml
[ "$rc" -eq 0 ] || fail "role_cases.yml exited with $rc"
verify role_cases

echo "== cancel_stale in check mode: lists the stale requests, writes nothing"
run_logged cancel_stale_check mim.certificate_management.cancel_stale --check
[ "$rc" -eq 0 ] || fail "cancel_stale --check exited with $rc"
grep -q "Would cancel 2 request(s) submitted more than 30 days ago: ${id}401, ${id}402\"" "$work/cancel_stale_check.log" \
    || fail "check mode did not list exactly the two stale requests"
grep -q "${id}402: Approved -> Canceled (would change)" "$work/cancel_stale_check.log" || fail "no would-change report"
grep -Eq '^localhost +: .* changed=1 ' "$work/cancel_stale_check.log" || fail "check mode did not report changed=1"
run_logged cancel_stale_current mim.certificate_management.cancel_stale --check -e cancel_stale_target_user=current
[ "$rc" -eq 0 ] || fail "cancel_stale --check for the current user exited with $rc"
# The simulator runs anonymous: no request targets the caller.
grep -q "Would cancel 0 request(s) submitted more than 30 days ago: none" "$work/cancel_stale_current.log" \
    || fail "target_user=current did not narrow the search"
verify cancel_stale_check

echo "== cancel_stale: cancels the old Pending and Approved requests only (connection from cm_connection)"
no_env_url=1 run_logged cancel_stale mim.certificate_management.cancel_stale \
    -e '{"cm_connection": {"url": "{{ mim_cm_sim.playbooks.url }}", "auth": "none"}}'
[ "$rc" -eq 0 ] || fail "cancel_stale exited with $rc"
grep -q "${id}401: Pending -> Canceled (changed)" "$work/cancel_stale.log" || fail "cancel_stale did not report the Pending request canceled"
grep -q "${id}402: Approved -> Canceled (changed)" "$work/cancel_stale.log" || fail "cancel_stale did not report the Approved request canceled"
if grep -q "could not be finalized" "$work/cancel_stale.log"; then fail "cancel_stale reported a failure"; fi
verify cancel_stale

echo "== cancel_stale: the re-run finds nothing"
run_logged cancel_stale_rerun mim.certificate_management.cancel_stale -e cancel_stale_days=30.5
[ "$rc" -eq 0 ] || fail "the cancel_stale re-run exited with $rc"
grep -q "Canceling 0 request(s)" "$work/cancel_stale_rerun.log" || fail "the re-run found requests to cancel"
verify cancel_stale_rerun

echo "== request: check mode, then a request for a user with a survey textarea of Name=Value lines, then the re-run"
posts() { "$python" -c 'import json, sys; print(sum(1 for line in open(sys.argv[1]) if json.loads(line).get("method") == "POST"))' "$(setting audit_log)"; }
request_vars=(-e 'cm_profile_template="Web Server"' -e cm_target_user=7a7a7a7a-0000-4000-8000-000000000001
              -e '{"cm_data_collection": "Host Name = web01.contoso.com\nNote=first run\n"}')
run_logged request_check mim.certificate_management.request --check "${request_vars[@]}"
[ "$rc" -eq 0 ] || fail "request --check exited with $rc"
grep -q "would create a request (Enroll) for profile template 44444444-5555-4000-8000-000000000001" "$work/request_check.log" || fail "request --check did not say what it would create"
[ "$(posts)" -eq 0 ] || fail "request --check sent a POST"
run_logged request mim.certificate_management.request "${request_vars[@]}"
[ "$rc" -eq 0 ] || fail "request exited with $rc"
grep -Eq '[0-9a-f-]{36}: Approved \(created\)' "$work/request.log" || fail "request did not report the request it created"
run_logged request_rerun mim.certificate_management.request "${request_vars[@]}"
[ "$rc" -eq 0 ] || fail "the request re-run exited with $rc"
grep -q "(an open request of the same kind; no change)" "$work/request_rerun.log" || fail "the request re-run did not find the open request"
[ "$(posts)" -eq 1 ] || fail "request and its re-run sent $(posts) POSTs, not 1"
verify request

echo "== PLAY RECAP of each run"
for log in finalize_list finalize_survey finalize_rerun finalize_check finalize_empty provision_check provision role_cases \
           cancel_stale_check cancel_stale cancel_stale_rerun request_check request request_rerun; do
    recap "$work/$log.log" | sed "s/^/$log: /"
done
