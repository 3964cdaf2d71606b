#!/usr/bin/env bash
# make docs: lint the collection's docs, then build the HTML site of the installed collection with antsibull-docs and
# Sphinx into BUILD_DIR/docs/html (module and role pages, and the guides of docs/docsite/).
# Usage: docs/build.sh BUILD_DIR VENV_DOCS COLLECTIONS_PATH
#   BUILD_DIR         where docs/ is (re)created: docs/sphinx (the generated Sphinx project) and docs/html (the site)
#   VENV_DOCS         virtual environment with docs/requirements.txt installed
#   COLLECTIONS_PATH  directory holding ansible_collections/mim/certificate_management (the installed collection)
# Works offline: intersphinx reads a local inventory written here, never the network.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 BUILD_DIR VENV_DOCS COLLECTIONS_PATH" >&2
    exit 2
fi
build=$(realpath -m "$1")
venv=$(realpath "$2")
collections=$(realpath "$3")
collection=mim.certificate_management
root=$collections/ansible_collections/mim/certificate_management
out=$build/docs
sphinx=$out/sphinx
html=$out/html

test ! -e "$out/docsite" || { echo "$out holds docs/docsite: BUILD_DIR must be a build directory" >&2; exit 1; }
test -d "$root" || { echo "$root does not exist: install the collection first (make install)" >&2; exit 1; }
test -x "$venv/bin/antsibull-docs" || { echo "$venv has no antsibull-docs: install docs/requirements.txt" >&2; exit 1; }

# Only the installed collection and the docs venv's ansible-core: no ~/.ansible collections, no ansible.cfg of the
# caller (an empty one of our own).
export PATH=$venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_CONFIG=$out/ansible.cfg
# antsibull-docs asks git which files a collection has: inside a checkout (build/ is git-ignored) it would find none
export GIT_CEILING_DIRECTORIES=$collections
export ANSIBLE_NOCOLOR=1
start=$(date +%s)
rm -rf "$out"
mkdir -p "$sphinx"
cd "$out"
: > "$ANSIBLE_CONFIG"

echo "== antsibull-docs lint-collection-docs"
antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs --validate-collection-refs all \
    --disallow-unknown-collection-refs "$root"

echo "== antsibull-docs sphinx-init"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --dest-dir "$sphinx" \
    --project "$collection" --copyright "$collection contributors" --title "$collection" "$collection" >/dev/null

# The generated conf.py maps intersphinx to docs.python.org, docs.ansible.com and jinja's site, which a build must
# not fetch. The only outside labels the generated pages use are three pages of the Ansible docs: a local inventory
# resolves them to their docs.ansible.com addresses. The theme's logo link and top bar point at the web server's root
# and at Ansible's sites; they get the collection's repository instead, so that the site works from any directory.
"$venv/bin/python" - "$sphinx/ansible_devel.inv" <<'PYTHON'
import sys
import zlib

LABELS = (  # label, page, title
    ('common_return_values', 'reference_appendices/common_return_values.html', 'Return Values'),
    ('ansible_configuration_settings', 'reference_appendices/config.html', 'Ansible Configuration Settings'),
    ('action_plugins', 'plugins/action.html', 'Action plugins'),  # a module with an action plugin links there
)
with open(sys.argv[1], 'wb') as handle:
    handle.write(b'# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n'
                 b'# The remainder of this file is compressed using zlib.\n')
    handle.write(zlib.compress(''.join('%s std:label -1 %s %s\n' % entry for entry in LABELS).encode()))
PYTHON
repository=$("$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["collection_info"]["repository"])' \
    < "$root/MANIFEST.json")
cat >> "$sphinx/conf.py" <<CONF

# Added by docs/build.sh: no network at build time; links that work from any directory.
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '$sphinx/ansible_devel.inv'),
}
html_theme_options = {
    'documentation_home_url': '$repository',
    'topbar_links': {'Repository': '$repository', 'Ansible documentation': 'https://docs.ansible.com/'},
}
CONF

echo "== antsibull-docs collection"
mkdir -p "$sphinx/rst"
chmod og-w "$sphinx/rst"  # antsibull-docs wants the directory writable only by its owner
antsibull-docs --config-file "$sphinx/antsibull-docs.cfg" collection --use-current --squash-hierarchy --fail-on-error \
    --cleanup everything --dest-dir "$sphinx/rst" "$collection"

echo "== sphinx-build (warnings are errors)"
sphinx-build -b html -W --keep-going -n -q -c "$sphinx" -d "$sphinx/doctrees" "$sphinx/rst" "$html"

pages=$(find "$html" -name '*.html' | wc -l)
echo "Built $pages HTML pages into $html in $(( $(date +%s) - start )) s"
