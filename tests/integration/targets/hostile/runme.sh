#!/usr/bin/env bash
# The modules against a hostile server (issue 12): starts tests/hostile/hostile_server.py on 127.0.0.1, runs
# hostile.yml at -vvvv (JSON result format, tree callback, log file) with a Python that measures each module run,
# then scans everything the run wrote for every secret it used (raw, URL-encoded, base64, JSON-escaped, and any 8
# characters of one). Needs no simulator from tools/testenv/integration_env.py. No `set -x`: it would print the secrets.
# By hand: ANSIBLE_COLLECTIONS_PATH=DIR ./runme.sh, where DIR/ansible_collections/mim/certificate_management is this
# collection; HOSTILE_KEEP_OUTPUT=1 keeps the output directory (it holds the test secrets).
set -eu -o pipefail

python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
here=$(pwd)
# ansible-test runs this from a copy of tests/integration/ only; the server lives in the collection tree
collection=${ANSIBLE_COLLECTIONS_PATH:-}
collection=${collection%%:*}/ansible_collections/mim/certificate_management
hostile=$collection/tests/hostile
if [ ! -f "$hostile/hostile_server.py" ] && [ -f "$here/../../../hostile/hostile_server.py" ]; then
    hostile=$(cd "$here/../../../hostile" && pwd)
fi
[ -f "$hostile/hostile_server.py" ] || { echo "FAILED: no tests/hostile/hostile_server.py (set ANSIBLE_COLLECTIONS_PATH)" >&2; exit 1; }

out=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "${HOSTILE_KEEP_OUTPUT:-}" ]; then
        echo "output kept in $out"
    else
        rm -rf "$out"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -m 0700 "$out/private" "$out/logs" "$out/ansible" "$out/bin"
touch "$out/logs/access.jsonl" "$out/logs/audit.jsonl" "$out/logs/modules.jsonl"

# The secrets: random throughout (so that any 8 characters of one are evidence of a leak), one Basic password with
# characters outside latin-1. private/ is the only place that holds them on purpose, and the scan skips it.
"$python" - "$out/private" <<'PY'
import json, os, secrets, string, sys
def new(length=32, alphabet=string.ascii_letters + string.digits):
    return ''.join(secrets.choice(alphabet) for _ in range(length))
mixed = string.ascii_letters + string.digits + '\u00e4\u00f6\u00fc\u00df\u00e9\u2713\u5bc6\u7801\u9375'
s = {'basic_user': 'hostile-user', 'basic_password': new(8, mixed) + '\u2713' + new(8, mixed) + '\u5bc6\u7801' + new(8, mixed),
     'ascii_user': 'ascii-user', 'ascii_password': new(), 'static_token': new(), 'cr_token': new(), 'lf_token': new(),
     'client_id': 'hostile-client', 'client_secret': new(), 'fetched_token': new(),
     'crlf_client_id': 'crlf-client', 'crlf_client_secret': new(), 'crlf_fetched_token': new(), 'url_password': new()}
server = {'users': {s['basic_user']: s['basic_password'], s['ascii_user']: s['ascii_password']},
          'tokens': [s['static_token']],
          'clients': {s['client_id']: {'secret': s['client_secret'], 'access_token': s['fetched_token']},
                      s['crlf_client_id']: {'secret': s['crlf_client_secret'], 'access_token': s['crlf_fetched_token'] + '\r\nX-Injected: 1'}}}
playbook = dict(s, cr_token=s['cr_token'] + '\r', lf_token=s['lf_token'] + '\n')  # what the tasks pass as token
for name, data in (('server.json', server), ('secrets.json', s), ('vars.json', {'hostile_secrets': playbook})):
    with open(os.path.join(sys.argv[1], name), 'w', encoding='utf-8') as handle:
        json.dump(data, handle)
PY

"$python" "$hostile/hostile_server.py" --port 0 --port-file "$out/logs/server.port" --secrets "$out/private/server.json" \
    --access-log "$out/logs/access.jsonl" --audit-log "$out/logs/audit.jsonl" > "$out/logs/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 200); do
    [ -s "$out/logs/server.port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$out/logs/server.out" >&2; echo "FAILED: the hostile server did not start" >&2; exit 1; }
    sleep 0.1
done
[ -s "$out/logs/server.port" ] || { echo "FAILED: the hostile server did not get ready within 20 s" >&2; exit 1; }
port=$(cat "$out/logs/server.port")

# ansible_python_interpreter: this Python, through measure_python.py (peak RSS, wall time, address-space cap)
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$python" "$hostile/measure_python.py" > "$out/bin/python"
chmod +x "$out/bin/python"
cat > "$out/ansible/hostile.json" <<EOF
{"hostile": {"url": "http://127.0.0.1:$port", "port": $port, "access_log": "$out/logs/access.jsonl",
             "audit_log": "$out/logs/audit.jsonl", "module_log": "$out/logs/modules.jsonl",
             "summary": "$out/ansible/summary.json", "registered_dump": "$out/ansible/registered.json"}}
EOF

echo "== hostile server on port $port; running hostile.yml (about 25 s)"
set +e
HOSTILE_MODULE_LOG=$out/logs/modules.jsonl \
ANSIBLE_CALLBACK_RESULT_FORMAT=json ANSIBLE_CALLBACKS_ENABLED=ansible.builtin.tree ANSIBLE_CALLBACK_TREE_DIR="$out/ansible/tree" \
ANSIBLE_LOG_PATH="$out/ansible/ansible.log" \
    ansible-playbook -vvvv -i localhost, -c local -e "ansible_python_interpreter=$out/bin/python" \
    -e "@$out/ansible/hostile.json" -e "@$out/private/vars.json" hostile.yml > "$out/ansible/stdout.txt" 2>&1
playbook_rc=$?
set -e

# Report the cases, then scan every file of the run (but private/) for every secret: raw, URL-encoded, base64 (for
# Basic also of user:password) and JSON-escaped, and for any 8 characters of one in those forms (a secret cut off by
# a truncated message). Whatever is printed here is masked first.
"$python" - "$out" "$playbook_rc" <<'PY'
import base64, json, math, os, sys
from urllib.parse import quote
out, playbook_rc = sys.argv[1], int(sys.argv[2])
s = json.load(open(os.path.join(out, 'private', 'secrets.json'), encoding='utf-8'))
names = ('basic_password', 'ascii_password', 'static_token', 'cr_token', 'lf_token', 'client_secret', 'fetched_token',
         'crlf_client_secret', 'crlf_fetched_token', 'url_password')
users = {'basic_password': s['basic_user'], 'ascii_password': s['ascii_user']}
b64 = lambda text: base64.b64encode(text.encode()).decode()
def text_forms(value):
    return {'': value, ' url-encoded': quote(value, safe=''), ' json-escaped': json.dumps(value)[1:-1]}
whole, parts = {}, {}  # text to look for: (secret name, label)
for name in names:
    value, user = s[name], users.get(name)
    encoded = {'raw': value, 'base64': b64(value)}
    if user:
        encoded['base64 of user:password'] = b64(user + ':' + value)
    for how, base in encoded.items():
        for form, text in text_forms(base).items():
            whole.setdefault(text, (name, '%s (%s%s)' % (name, how, form)))
    for start in range(len(value) - 7):
        for form, text in text_forms(value[start:start + 8]).items():
            parts.setdefault(text, (name, '%s (8 characters of it%s)' % (name, form)))
    for how, skip in (('base64', 0), ('base64 of user:password', 4 * math.ceil((len(user or '') + 1) / 3))):
        if how in encoded:
            parts.update((encoded[how][start:start + 12], (name, '%s (12 characters of its %s)' % (name, how)))
                         for start in range(skip, len(encoded[how]) - 11))
needles = sorted(dict(parts, **whole).items(), key=lambda pair: len(pair[0]), reverse=True)
def mask(text):
    for value, (_name, label) in needles:
        text = text.replace(value, '<%s>' % label)
    return text

summary_path = os.path.join(out, 'ansible', 'summary.json')
summary = json.load(open(summary_path, encoding='utf-8')) if os.path.exists(summary_path) else None
if summary is None:
    print('FAILED: hostile.yml stopped before its summary (rc %d); the end of its output:' % playbook_rc)
    print(mask(''.join(open(os.path.join(out, 'ansible', 'stdout.txt'), encoding='utf-8', errors='replace').readlines()[-40:])))
else:
    for line in summary['passed']:
        print('PASS ' + mask(line))
    for line in summary['failed']:
        print('FAIL ' + mask(line))
    print('%d cases passed, %d failed' % (len(summary['passed']), len(summary['failed'])))

files = [os.path.join(root, name) for root, _dirs, files in os.walk(out) for name in files
         if not root.startswith(os.path.join(out, 'private'))]
texts = {path: open(path, encoding='utf-8', errors='replace').read() for path in files}
leaks = {}  # label: (files, first excerpt); a secret whose whole form leaked is not reported again for its parts
for table in (whole, parts):
    leaked = set(entry[0] for entry in leaks.values())
    for value, (name, label) in table.items():
        for path, text in texts.items():
            at = text.find(value) if name not in leaked else -1
            if at >= 0:
                excerpt = '%s: ...%s...' % (os.path.relpath(path, out), mask(text[max(0, at - 150):at + len(value)]).replace('\n', ' '))
                leaks.setdefault(label, (name, set(), excerpt))[1].add(path)
scanned = sum(len(text) for text in texts.values())
for label, (_name, paths, excerpt) in sorted(leaks.items()):
    print('LEAK %s in %d file(s), first: %s' % (label, len(paths), excerpt))
print('scanned %d files (%d characters) for %d secrets, %d whole forms and %d parts: %d leaked'
      % (len(files), scanned, len(names), len(whole), len(parts), len(leaks)))
missing = {'stdout.txt', 'ansible.log', 'registered.json', 'localhost'} - {os.path.basename(path) for path in files}
if missing or scanned < 100000:
    print('FAILED: the scan cannot prove anything: %s' % ('missing %s' % ', '.join(sorted(missing)) if missing else 'too little output'))
sys.exit(1 if leaks or missing or scanned < 100000 or summary is None or summary['failed'] or playbook_rc else 0)
PY
