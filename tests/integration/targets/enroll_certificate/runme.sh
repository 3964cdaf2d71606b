#!/usr/bin/env bash
# The enroll_certificate role end to end against its own simulator (tests/simulator/run_simulator.py, which signs CSRs
# with a CA of its own): hosts are local connections with a directory each. Proved on the simulator's audit log and on
# the files written, with openssl: three hosts enrolled (key made on the host, chain verifies, key matches), a re-run
# that changes nothing and submits nothing, a renewal inside the window, a request approved while the role waits, one
# denied (the host fails, the request stays Denied), and a template asking for a key the host cannot make (the request
# is abandoned: it reads Failed). Check mode writes nothing. The API calls run inside the controller.
set -eu -o pipefail

python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
work=${OUTPUT_DIR:-$(mktemp -d)}
collection=${ANSIBLE_COLLECTIONS_PATH:-}
launcher=${collection%%:*}/ansible_collections/mim/certificate_management/tests/simulator/run_simulator.py
[ -f "$launcher" ] || { echo "FAILED: no tests/simulator/run_simulator.py (set ANSIBLE_COLLECTIONS_PATH)" >&2; exit 1; }
# Every host's calls authenticate as one service account, as a controller's calls do: the requests of all the hosts
# have the same originator and target, and only their comment tells them apart.
password=P-$("$python" -c 'import secrets; print(secrets.token_urlsafe(12))')
mkdir -p "$work"
"$python" -c 'import json, sys; json.dump({"users": {"svc-enroll": {"password": sys.argv[2], "uuid": "5e75e75e-0000-4000-8000-00000000e001"}}}, open(sys.argv[1], "w"))' "$work/users.json" "$password"
trap '"$python" "$launcher" --stop "$work/simulator" > /dev/null' EXIT
"$python" "$launcher" --background "$work/simulator" --exit-with-pid $$ --seed files/simulator_seed.json \
    --auth ntlm --users "$work/users.json" > /dev/null
setting() { "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/simulator/simulator.json" "$1"; }
audit=$(setting audit_log)
root_ca=$(setting ca_root)
hosts=$work/hosts
mkdir -p "$hosts"

fail() { echo "FAILED: $*" >&2; exit 1; }
# count the audit lines with event $1 and method $2 (and, for a POST, route $3: requests or certificatedata)
count() {
    "$python" -c '
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
print(sum(1 for l in lines if l.get("event") == sys.argv[2] and l.get("method") == sys.argv[3]
          and (len(sys.argv) < 5 or l.get("route") == sys.argv[4])))' "$audit" "$@"
}
# the audit line of the POST that created the request of a template, newest first: its request id
request_of() {
    "$python" -c '
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
ids = [l["request_id"] for l in lines if l.get("event") == "applied" and l.get("method") == "POST" and l.get("template_uuid") == sys.argv[2]]
print(ids[-1] if ids else "")' "$audit" "$1"
}
run() {
    local log=$work/$1.log
    shift
    set +e
    ansible-playbook -i "$work/inventory.yml" enroll.yml -e "@$work/vars.json" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
}
recap() { grep -E "^$1 +:" "$work/$2.log" || true; }
# the files of a host: the chain verifies against the simulator's root, and the certificate's key is the host's key
check_files() {
    local dir=$hosts/$1
    openssl verify -CAfile "$root_ca" -untrusted "$dir/$1.chain.crt" "$dir/$1.crt" > /dev/null || fail "$1: the chain does not verify"
    [ "$(openssl x509 -in "$dir/$1.crt" -noout -pubkey)" = "$(openssl pkey -in "$dir/$1.key" -pubout)" ] || fail "$1: the key does not match"
    [ "$(cat "$dir/$1.crt" "$dir/$1.chain.crt")" = "$(cat "$dir/$1.fullchain.crt")" ] || fail "$1: the full chain is not certificate + chain"
    [ "$(stat -c %a "$dir/$1.key")" = 600 ] || fail "$1: the key is not mode 0600"
    [ -f "$dir/reloaded" ] || fail "$1: the handler was not notified"
}

"$python" -c 'import json, sys; json.dump({"enroll_sim": {"url": sys.argv[2], "password": sys.argv[3]}, "enroll_dir": sys.argv[4]},
                                          open(sys.argv[1], "w"))' "$work/vars.json" "$(setting url)" "$password" "$hosts"
cat > "$work/inventory.yml" <<INVENTORY
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: $python
  hosts:
    web1: {enroll_template: Web Server}
    web2: {enroll_template: Web Server}
    web3: {enroll_template: Web Server}
    approved: {enroll_template: Web Server (approval)}
    denied: {enroll_template: Web Server (approval)}
    smartcard: {enroll_template: Smart Card Key}
    checked: {enroll_template: Web Server}
INVENTORY

echo "== check mode: nothing is written, on the server or the hosts"
run check --check -e enroll_hosts=checked
[ "$rc" -eq 0 ] || fail "check mode exited with $rc"
grep -q "would create a Enroll request for Web Server" "$work/check.log" || fail "check mode did not say what it would do"
[ ! -e "$hosts/checked/checked.key" ] || fail "check mode made a key"
[ ! -s "$audit" ] || [ "$(count applied POST requests)" -eq 0 ] || fail "check mode created a request"

echo "== three hosts enrolled"
run enroll -e enroll_hosts=web1,web2,web3 --forks 1
[ "$rc" -eq 0 ] || fail "the enrollment exited with $rc"
for host in web1 web2 web3; do check_files "$host"; done
[ "$(count applied POST requests)" -eq 3 ] || fail "$(count applied POST requests) requests created, not 3"
[ "$(count applied POST certificatedata)" -eq 3 ] || fail "$(count applied POST certificatedata) submissions, not 3"
[ "$(count applied PUT)" -eq 3 ] || fail "$(count applied PUT) requests completed, not 3"
serial=$(openssl x509 -in "$hosts/web1/web1.crt" -noout -serial)

echo "== the re-run changes nothing and sends nothing"
run rerun -e enroll_hosts=web1,web2,web3
[ "$rc" -eq 0 ] || fail "the re-run exited with $rc"
for host in web1 web2 web3; do recap "$host" rerun | grep -q " changed=0 " || fail "the re-run changed $host"; done
[ "$(count applied POST requests)" -eq 3 ] && [ "$(count applied PUT)" -eq 3 ] || fail "the re-run wrote to the server"

echo "== inside the renewal window, web1 renews its profile"
run renew -e enroll_hosts=web1 -e enroll_certificate_renew_days=400 -vvv
[ "$rc" -eq 0 ] || fail "the renewal exited with $rc"
# the API calls ran inside the controller (their action plugins); the host's own tasks shipped their modules
grep -q AnsiballZ_openssl_privatekey "$work/renew.log" || fail "the -vvv log shows no module shipped at all"
if grep -q AnsiballZ_cm_ "$work/renew.log"; then fail "an API module was shipped instead of running inside the controller"; fi
check_files web1
[ "$(openssl x509 -in "$hosts/web1/web1.crt" -noout -serial)" != "$serial" ] || fail "web1 kept its certificate"
[ "$(count applied POST requests)" -eq 4 ] && [ "$(count applied PUT)" -eq 4 ] || fail "the renewal did not make one request"

echo "== a request approved while the role waits, and one denied"
run approval -e enroll_hosts=approved,denied -e enroll_timeout=60 --forks 1 &
runner=$!
for _ in $(seq 60); do
    [ "$(count applied POST requests)" -ge 6 ] && break
    sleep 1
done
# the request created for the host named in its comment (the POST's audit line)
pending_of() {
    "$python" -c '
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
print(" ".join(l["request_id"] for l in lines if l.get("event") == "applied" and l.get("method") == "POST"
               and l.get("template_uuid") == "88888888-0000-4000-8000-000000000002" and l.get("comment") == sys.argv[2]))' "$audit" "$1"
}
approved_id=$(pending_of approved)
denied_id=$(pending_of denied)
[ -n "$approved_id" ] && [ -n "$denied_id" ] || fail "no Pending request for both hosts: '$approved_id' '$denied_id'"
"$python" "$launcher" --approve "$work/simulator" "$approved_id" > /dev/null
"$python" "$launcher" --deny "$work/simulator" "$denied_id" > /dev/null
wait "$runner" || true
recap approved approval | grep -q " failed=0 " || fail "the approved host failed"
recap denied approval | grep -q " failed=1 " || fail "the denied host did not fail"
grep -q "it was denied, and a denied request cannot be abandoned" "$work/approval.log" || fail "the denial was not explained"
check_files approved
"$python" -c 'import json, sys; ids = sys.argv[2:]; lines = [json.loads(l) for l in open(sys.argv[1])]
assert not [l for l in lines if l.get("method") == "PUT" and l.get("request_id") == ids[1]], "the denied request was written to"' "$audit" "$approved_id" "$denied_id"

echo "== a key the host cannot make: the request is abandoned, the host fails naming the step"
run smartcard -e enroll_hosts=smartcard
[ "$rc" -eq 2 ] || fail "the smart card template exited with $rc, not 2"
grep -Eq 'failed at \\?"Check that the host can meet them' "$work/smartcard.log" || fail "the failure did not name the step"
grep -q "was abandoned (it reads Failed)" "$work/smartcard.log" || fail "the request was not abandoned"
[ ! -e "$hosts/smartcard/smartcard.key" ] || fail "a key was made for a template the host cannot meet"
echo "enroll_certificate: every case passed"
