# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cm_request_info inside the controller when its module would run there (plugin_utils/_in_controller.py says when)."""

from __future__ import annotations

from ansible_collections.mim.certificate_management.plugins.module_utils._cm_request_info import DEFINITION as MODULE
from ansible_collections.mim.certificate_management.plugins.plugin_utils._in_controller import InControllerAction


class ActionModule(InControllerAction):
    """Runs cm_request_info inside the controller when its module would run there, and the module otherwise."""

    DEFINITION = MODULE
