#!/usr/bin/env bash
# Secrets never show: run secrets.yml at -vvvv (JSON result format, tree callback, log file), then grep everything
# it wrote for every password, token and client secret it used. No `set -x`: the trace would print them itself.
set -eu
# ansible-test copies tests/integration/integration_config.yml (written by tools/testenv/integration_env.py) beside the
# targets
config=$(cd ../.. && pwd)/integration_config.yml
[ -f "$config" ] || { echo "no mim_cm_auth settings: run this target through tools/testenv/integration_env.py" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
secret() { "$python" -c 'import json,sys; c=json.load(open(sys.argv[1]))["mim_cm_auth"]; print(eval(sys.argv[2], {}, c))' "$config" "$1"; }

wrong_password="Wr0ng-$(date +%s%N)-pw"
wrong_token="Wr0ng-$(date +%s%N)-token"
wrong_secret="Wr0ng-$(date +%s%N)-secret"
# through a vars file: -vvvv echoes -e key=value arguments
printf 'wrong_password: "%s"\nwrong_token: "%s"\nwrong_secret: "%s"\nregistered_dump: "%s"\n' \
  "$wrong_password" "$wrong_token" "$wrong_secret" "$out/registered.json" > "$out/wrong.yml"
KRB5_CONFIG=$(secret 'krb5_config if kerberos else ""') KRB5CCNAME="FILE:$out/ccache" \
MIM_CM_USERNAME='MIMLAB\alice' MIM_CM_PASSWORD=$(secret 'passwords["alice"]') \
ANSIBLE_CALLBACK_RESULT_FORMAT=json ANSIBLE_CALLBACKS_ENABLED=ansible.builtin.tree ANSIBLE_CALLBACK_TREE_DIR="$out/tree" \
ANSIBLE_LOG_PATH="$out/ansible.log" \
  ansible-playbook -vvvv -i localhost, -c local -e "ansible_python_interpreter=$python" -e "@$config" \
    -e "@$out/wrong.yml" \
    secrets.yml > "$out/stdout.txt" 2>&1 || { tail -50 "$out/stdout.txt"; exit 1; }

"$python" - "$out" "$config" "$wrong_password" "$wrong_token" "$wrong_secret" <<'PY'
import json, os, sys
from pathlib import Path
out, config = sys.argv[1], json.load(open(sys.argv[2]))['mim_cm_auth']
secrets = dict(alice_password=config['passwords']['alice'], bob_password=config['passwords']['bob'],
               client_secret=config['client_secret'], static_token=config['static_token'],
               wrong_password=sys.argv[3], wrong_token=sys.argv[4], wrong_secret=sys.argv[5])
files = [os.path.join(root, name) for root, _dirs, names in os.walk(out) for name in names if name != 'wrong.yml']
scanned = sum(os.path.getsize(path) for path in files)
texts = {path: Path(path).read_text(errors='replace') for path in files}  # each file read once
leaks = [(name, path) for path in files for name, value in secrets.items() if value in texts[path]]
print('scanned %d files (%d bytes) for %d secrets: %s' % (len(files), scanned, len(secrets), ', '.join(sorted(secrets))))
assert {'stdout.txt', 'ansible.log', 'registered.json', 'localhost'} <= {os.path.basename(path) for path in files}, files
assert scanned > 20000, 'the -vvvv output is too small to prove anything'
for name, path in leaks:
    print('LEAK: %s found in %s' % (name, path))
sys.exit(1 if leaks else 0)
PY
echo "1 passed, 0 failed: no secret in any output"
