# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() as Ansible would, for the module tests."""

from __future__ import annotations

import json
from unittest import mock

import pytest

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19: AnsibleModule reads its arguments from basic._ANSIBLE_ARGS
    from ansible.module_utils import basic

    def patch_module_args(args):
        """Expose args to the AnsibleModule created within this context."""
        return mock.patch.object(basic, '_ANSIBLE_ARGS', json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode())


def run_module(main, capsys, **args):
    """Run main with args (url defaults to a test address; url=None leaves it out); return (exit code, parsed result)."""
    args.setdefault('url', 'http://cm.example.test')
    if args['url'] is None:
        del args['url']
    with patch_module_args(args), pytest.raises(SystemExit) as caught:
        main()
    return caught.value.code, json.loads(capsys.readouterr().out)
