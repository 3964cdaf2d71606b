#!/usr/bin/env bash
# AWX-style jobs: awx_job.py runs mim.certificate_management.finalize through ansible-runner four times (NTLM in check
# mode and for real, Basic over HTTPS with the CA from the credential's file injector, a bearer token) against the
# Windows-authentication simulators of tools/testenv/integration_env.py, with the environment from awx/credential_type.yml's
# injectors, the extra variables from awx/finalize_survey.yml's survey and the collection installed from a tarball it
# builds from this tree; then it scans every file the jobs left for the passwords and tokens.
# ansible-runner comes from tools/requirements-core.txt, installed in the venv that runs ansible-test.
# No `set -x`: the trace would print the secrets itself.
set -eu -o pipefail

# ansible-test copies tests/integration/integration_config.yml (written by tools/testenv/integration_env.py) beside the
# targets
config=$(cd ../.. && pwd)/integration_config.yml
[ -f "$config" ] || { echo "no mim_cm_auth settings: run this target through tools/testenv/integration_env.py" >&2; exit 1; }
# The collection tree that ansible-test runs in (it copies only tests/integration/ into the target's directory), from
# which awx_job.py builds the tarball and reads awx/.
collection=${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/mim/certificate_management
[ -f "$collection/galaxy.yml" ] || { echo "no collection tree at $collection" >&2; exit 1; }
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
if ! "$python" -c 'import ansible_runner' 2>/dev/null; then
    echo "FAILED: ansible-runner is not installed for $python: pip install -r tools/requirements-core.txt (make setup does)" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" awx_job.py "$config" "$collection" "$work"
