#!/usr/bin/env bash
# make bundle-test: prove that the offline bundle installs and works with no network.
#
#   tools/bundle/test.sh BUNDLE PYTHON
#
# Unpacks BUNDLE into a temporary directory and runs its install.sh into a fresh venv made with PYTHON: in a network
# namespace with no network at all (unshare -n) when the kernel allows it, and in any case with every pip setting that
# could reach an index neutralised (PIP_CONFIG_FILE=/dev/null, PIP_INDEX_URL pointing at a closed port, no
# PIP_EXTRA_INDEX_URL or PIP_FIND_LINKS; install.sh itself passes --isolated --no-index). Then it checks the venv (every
# wheel installed, nothing else, pip check, the collection's requirements.txt satisfied, gssapi and krb5 importable),
# runs ansible-doc on the collection, and finalizes one request with the module, over NTLM (pyspnego from the bundle),
# against a MIM CM simulator started for the test (tests/simulator/run_simulator.py, stopped by its PID).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUNDLE PYTHON" >&2; exit 2; }
bundle=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
python=$2
here=$(cd "$(dirname "$0")" && pwd)
launcher=$here/../../tests/simulator/run_simulator.py
work=$(mktemp -d)
cleanup() {
    "$python" "$launcher" --stop "$work/simulator" > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { echo "FAILED: $*" >&2; echo "$passed passed, 1 failed"; exit 1; }
start=$(date +%s)

tar -xzf "$bundle" -C "$work"
dir=$(echo "$work"/mim-certificate_management-bundle-*)
[ -d "$dir" ] || fail "$bundle holds no bundle directory"
(cd "$dir" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match"
ok "unpacked $(basename "$bundle") ($(du -k "$bundle" | cut -f1) KiB), SHA256SUMS matches"

# No network for the install.
isolate=()
if unshare -n true 2>/dev/null; then
    isolate=(unshare -n)
    how="in a network namespace without network (unshare -n)"
else
    how="with pip's --no-index only: *** unshare -n is not permitted here, so the network was NOT cut off ***"
fi
venv=$work/venv
env -u PIP_EXTRA_INDEX_URL -u PIP_FIND_LINKS -u PIP_TRUSTED_HOST PIP_CONFIG_FILE=/dev/null PIP_INDEX_URL=http://127.0.0.1:9/no-index \
    PYTHON="$python" "${isolate[@]}" "$dir/install.sh" "$venv" > "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "install.sh failed"; }
ok "install.sh into a fresh venv $how"

# install.sh itself reaches nothing outside the bundle, even with the network and this machine's pip settings
# (an extra index, find-links) at hand: without one of its wheels it must fail.
cp -r "$dir" "$work/broken"
rm "$work"/broken/wheels/idna-*.whl
if PYTHON="$python" "$work/broken/install.sh" "$work/venv-broken" > "$work/broken.log" 2>&1; then
    fail "install.sh succeeded without the idna wheel: it took it from outside the bundle"
fi
grep -q 'No matching distribution found for idna' "$work/broken.log" || { cat "$work/broken.log"; fail "install.sh failed for another reason"; }
ok "without its idna wheel install.sh fails, network or not: pip takes nothing from outside the bundle"

pip=("$venv/bin/python" -m pip --isolated --disable-pip-version-check)
installed=$(PIP_CONFIG_FILE=/dev/null "${pip[@]}" freeze --all --exclude pip --exclude setuptools | tr '[:upper:]_' '[:lower:]-' | sort)
bundled=$(grep -v '^#' "$dir/requirements.txt" | sed 's/ --hash=.*//' | tr '[:upper:]_' '[:lower:]-' | sort)
[ "$installed" = "$bundled" ] || fail "the venv holds $(tr '\n' ' ' <<< "$installed"), the bundle $(tr '\n' ' ' <<< "$bundled")"
ok "the venv holds exactly the $(echo "$bundled" | wc -l) bundled packages"
PIP_CONFIG_FILE=/dev/null "${pip[@]}" check > /dev/null || fail "pip check"
collection=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections/mim/certificate_management
[ -f "$collection/MANIFEST.json" ] || fail "the collection is not in the venv's site-packages"
would=$(PIP_CONFIG_FILE=/dev/null "${pip[@]}" install --no-index --dry-run -r "$collection/requirements.txt" 2>&1) || fail "$would"
! grep -q 'Would install' <<< "$would" || fail "the collection's requirements.txt is not satisfied: $would"
"$venv/bin/python" -c 'import sys, ansible, requests, krb5, spnego._gss; sys.exit(not spnego._gss.HAS_GSSAPI)' || fail "an import failed, or pyspnego has no Kerberos (gssapi)"
ok "pip check; the collection's requirements.txt is satisfied; ansible, requests and krb5 import, pyspnego has Kerberos (gssapi)"

env -u ANSIBLE_COLLECTIONS_PATH "$venv/bin/ansible-doc" mim.certificate_management.cm_request_status > "$work/doc.txt" 2>&1 \
    || { cat "$work/doc.txt"; fail "ansible-doc"; }
grep -q 'request_id' "$work/doc.txt" || fail "ansible-doc shows no request_id"
ok "ansible-doc mim.certificate_management.cm_request_status (the venv's ansible finds the collection by itself)"

# One real module run: NTLM against a simulator that the bundle's own Python runs (its NTLM needs pyspnego too).
password="Bundle-$(date +%s%N)"
rid=66666666-0000-4000-8000-000000000001
printf '{"users": {"alice": {"password": "%s", "rights": ["read", "write"]}}}\n' "$password" > "$work/users.json"
printf '{"requests": [{"Uuid": "%s", "Status": 3, "Comment": "bundle test"}]}\n' "$rid" > "$work/seed.json"
"$venv/bin/python" "$launcher" --background "$work/simulator" --exit-with-pid $$ --seed "$work/seed.json" --users "$work/users.json" \
    --auth ntlm > /dev/null || fail "the simulator did not start"
env -u ANSIBLE_COLLECTIONS_PATH ANSIBLE_NOCOLOR=1 MIM_CM_URL="http://127.0.0.1:$(cat "$work/simulator/port")" MIM_CM_AUTH=ntlm \
    MIM_CM_USERNAME='MIMLAB\alice' MIM_CM_PASSWORD="$password" \
    "$venv/bin/ansible" localhost -m mim.certificate_management.cm_request_status -a "request_id=$rid status=completed" \
    > "$work/run.txt" 2>&1 || { cat "$work/run.txt"; fail "the module run failed"; }
grep -q 'CHANGED' "$work/run.txt" || { cat "$work/run.txt"; fail "the module reported no change"; }
! grep -qF "$password" "$work/run.txt" || fail "the password shows in the output"
grep -q "\"request_id\": \"$rid\", \"from\": \"Approved\", \"to\": \"Completed\".*\"user\": \"alice\"" "$work/simulator/audit.jsonl" \
    || { cat "$work/simulator/audit.jsonl"; fail "the simulator did not record the write"; }
ok "cm_request_status completed request $rid over NTLM as alice (the simulator's audit log)"
echo "bundle test took $(( $(date +%s) - start )) s"
echo "$passed passed, 0 failed"
