# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cm_request_certificates' options and work: read the request and its generation options, check the CSRs against them,
submit them once, and read the certificates of the answer (each issued one found by its CSR's key)."""

from __future__ import annotations

import os
import tempfile

from typing import Any, Callable, Optional

from ansible_collections.mim.certificate_management.plugins.module_utils._certificates import (
    Csr, Option, certificate_facts, chain_of, check_csr, decode_blob, issued_for, leaf_of, pfx_certificates, pkcs7_certificates,
    read_csr, read_option, weak_hash_warning, wire_csr)
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import (
    ConfigurationError, ConnectionFailure, MimCmError, UnexpectedResponse, unexpected_error)
from ansible_collections.mim.certificate_management.plugins.module_utils._module import ModuleDefinition, client_from_module, connection_argument_spec
from ansible_collections.mim.certificate_management.plugins.module_utils._request import (
    canonical_request_id, field, guid_or_none, request_status)
from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import Secrets

SUBMITTABLE = ('Approved', 'Executing')
NO_GUID = '00000000-0000-0000-0000-000000000000'
FACT_KEYS = ('certificate', 'chain', 'fullchain', 'serial', 'thumbprint', 'not_before', 'not_after', 'subject', 'issuer')
NO_DOWNLOAD = 'issued certificates cannot be downloaded again over the MIM CM REST API (it gives their metadata only)'


class SubmissionOutcomeUnknown(MimCmError):
    """The CSRs were sent and no usable answer came back, while the request shows that they may have been applied."""


def argument_spec() -> dict[str, dict[str, Any]]:
    """The connection options and the module's own."""
    spec = connection_argument_spec()
    spec.update(
        request_id=dict(type='str', required=True),
        csrs=dict(type='list', elements='str'),
        pfx_password=dict(type='str', no_log=True),
        pfx_path=dict(type='path'),
        comment=dict(type='str', default=''),
    )
    return spec


def _flag(value: Any) -> bool:
    """A boolean of the answer as a server may send it (true, 1, "True")."""
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes')
    return bool(value)


def _plural(count: int, noun: str) -> str:
    return '%d %s%s' % (count, noun, '' if count == 1 else 's')


def _check_pfx_path(path: Optional[str]) -> None:
    """A pfx_path whose file cannot be written is an error before anything is sent: the PFX could not be had again."""
    if not path:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ConfigurationError('pfx_path %s is a directory; give the path of the file to write' % path)
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigurationError('pfx_path %s cannot be written: its directory %s does not exist or is not writable where the '
                                 'module runs' % (path, folder))


def _profile_certificates(client: Any, request: dict[str, Any]) -> tuple[Optional[str], list[dict[str, Any]]]:
    """The request's new profile (NewProfileUuid, None when all zero) and the metadata of the certificates it holds."""
    profile = guid_or_none(field(request, 'NewProfileUuid'))
    if profile is None or profile == NO_GUID:
        return None, []
    return profile, client.get_list('profiles/%s/certificates' % profile, 'read the certificates of profile %s' % profile)


def _status_refusal(request_id: str, status: str) -> ConfigurationError:
    if status == 'Pending':
        why = ('it waits for approval, which happens in the CM portal (the REST API has no approve route); run this task again '
               'once the request is Approved')
    elif status == 'None':
        why = 'the server has not processed it yet; run this task again once it is Approved'
    else:
        why = 'that status is final, so no certificate can be issued for it; create a new request (cm_request)'
    return ConfigurationError('request %s is %s: certificates are submitted for an Approved or Executing request only; %s'
                              % (request_id, status, why))


def request_certificates(module: Any, secrets: Secrets, context: dict[str, Any]) -> dict[str, Any]:
    """Read the request and its options; with csrs, check them and submit them once (nothing in check mode)."""
    params = module.params
    request_id = canonical_request_id(params['request_id'])
    context['request_id'] = request_id
    csrs: Optional[list[Csr]] = None
    if params['csrs'] is not None:
        if not params['csrs']:
            raise ConfigurationError('csrs is empty; give one CSR per generation option, or leave csrs out to read the options')
        csrs = [read_csr(text, index) for index, text in enumerate(params['csrs'])]
        _check_pfx_path(params['pfx_path'])
    client = client_from_module(module, secrets)
    request = client.get_request(request_id)
    status = request_status(request, client.request_url(request_id))
    if status not in SUBMITTABLE + ('Completed',):
        raise _status_refusal(request_id, status)
    profile, on_profile = _profile_certificates(client, request)
    result: dict[str, Any] = dict(changed=False, submitted=False, request_id=request_id, request=request, status=status,
                                  profile_id=profile, options=[], certificates=[], certificates_on_profile=on_profile)
    if status == 'Completed':
        return dict(result, msg='request %s is Completed: its certificates were issued and it was finalized earlier; nothing '
                                'was submitted (%s)' % (request_id, NO_DOWNLOAD))
    if on_profile:
        held = _plural(len(on_profile), 'certificate')
        return dict(result, msg='request %s already has %s on its profile %s from an earlier submission; nothing was submitted '
                                'again (%s; certificates_on_profile lists them)' % (request_id, held, profile, NO_DOWNLOAD))
    served = client.generation_options(request_id)
    options = [read_option(entry) for entry in served]
    result['options'] = [dict(entry, **option.view()) for entry, option in zip(served, options, strict=True)]
    context['options'] = result['options']
    if csrs is None:
        unsupported = sum(1 for option in options if option.unsupported)
        return dict(result, msg='request %s is %s and asks for %s%s; csrs not given, nothing was submitted'
                                % (request_id, status, _plural(len(options), 'certificate request'),
                                   ' (%d of them this module cannot meet, see options[].unsupported_reason)' % unsupported if unsupported else ''))
    _check_csrs(request_id, csrs, options, module.warn)
    count = _plural(len(csrs), 'certificate request')
    if module.check_mode:
        return dict(result, changed=True, msg='would submit %s' % count)
    body = {'pfxpassword': params['pfx_password'] or '', 'certificaterequests': [wire_csr(csr.der) for csr in csrs],
            'comments': params['comment'] or ''}
    try:
        answer = client.submit_certificate_data(request_id, body)
    except MimCmError as exc:
        if not _outcome_unknown(exc):
            raise
        raise _after_lost_answer(client, request_id, status, count, exc, context)
    if not answer:
        raise _after_lost_answer(client, request_id, status, count, UnexpectedResponse(
            'the server answered the submission with no certificates at all'), context)
    result.update(changed=True, submitted=True)
    entries, problems = _read_answer(answer, csrs, params, module.warn, secrets)
    result['certificates'] = entries
    issued = sum(1 for entry in entries if entry['certificate'] or entry['pfx_written_to'])
    if problems:
        return dict(result, failed=True, msg='submitted %s for request %s; %s: %s. The certificates that were issued are in '
                                             'certificates: keep them now, %s' % (count, request_id, _plural(len(problems), 'problem'),
                                                                                  '; '.join(problems), NO_DOWNLOAD))
    return dict(result, msg='submitted %s for request %s: %s came back' % (count, request_id, _plural(issued, 'certificate')))


def _check_csrs(request_id: str, csrs: list[Csr], options: list[Option], warn: Callable[[str], Any]) -> None:
    """Every check that can be made before anything is sent: options a host can meet, one CSR per option, each CSR's key."""
    unsupported = ['generation option %d: %s' % (index, '; '.join(option.unsupported))
                   for index, option in enumerate(options) if option.unsupported]
    if unsupported:
        raise ConfigurationError('request %s asks for what a host generating its own key cannot give, so nothing was submitted: %s'
                                 % (request_id, ' | '.join(unsupported)))
    if not options:
        raise ConfigurationError('request %s has no certificate request generation options (the server answered none), so there '
                                 'is nothing to submit csrs for; nothing was submitted' % request_id)
    if len(csrs) != len(options):
        raise ConfigurationError('request %s asks for %s and csrs has %d; give one CSR per generation option, in their order '
                                 '(cm_request_certificates without csrs returns the options); nothing was submitted'
                                 % (request_id, _plural(len(options), 'certificate request'), len(csrs)))
    for index, (csr, option) in enumerate(zip(csrs, options, strict=True)):
        for text in check_csr(csr, option, index):
            warn(text)
        weak = weak_hash_warning(option, index)
        if weak:
            warn(weak)


def _outcome_unknown(exc: MimCmError) -> bool:
    """Whether a failed submission may have been applied: no answer, a transient or unreadable one, or a server error."""
    return (isinstance(exc, (ConnectionFailure, UnexpectedResponse)) or exc.retryable
            or (exc.http_status is not None and exc.http_status >= 500))


def _after_lost_answer(client: Any, request_id: str, before: str, count: str, exc: MimCmError, context: dict[str, Any]) -> MimCmError:
    """After a submission without a usable answer, read the request and its profile again (reads only) and tell whether it
    may have been applied."""
    try:
        request = client.get_request(request_id)
        status = request_status(request, client.request_url(request_id))
        profile, on_profile = _profile_certificates(client, request)
    except MimCmError as again:
        return SubmissionOutcomeUnknown(
            'the submission of %s for request %s got no usable answer (%s), and the request could not be read again (%s). Look '
            'at request %s in the CM portal before running this task again: if it is Executing or its profile holds certificates, '
            'they were issued, and %s' % (count, request_id, exc.msg, again.msg, request_id, NO_DOWNLOAD),
            http_status=exc.http_status, url=exc.url)
    context.update(status=status, profile_id=profile, certificates_on_profile=on_profile)
    if on_profile or status != before:
        held = '; its profile %s holds %s' % (profile, _plural(len(on_profile), 'certificate')) if on_profile else ''
        return SubmissionOutcomeUnknown(
            'the submission of %s for request %s got no usable answer (%s), but the request has moved on since (it was %s, it is '
            '%s%s): the submission may have been applied and certificates issued. %s, so running this task again cannot bring '
            'them back (it would find them and submit nothing). Have the CM administrator look at request %s in the CM portal; '
            'to get a certificate on this host, revoke what it issued (certificates_on_profile lists the serial numbers), '
            'abandon request %s (cm_request_status) and create a new request'
            % (count, request_id, exc.msg, before, status, held, NO_DOWNLOAD[0].upper() + NO_DOWNLOAD[1:], request_id, request_id),
            http_status=exc.http_status, url=exc.url)
    exc.msg = ('%s. Request %s is still %s and its profile holds no certificates, so nothing was issued; the task can run again'
               % (exc.msg.rstrip('.'), request_id, status))
    exc.args = (exc.msg,)
    return exc


def _entry(number: int, item: dict[str, Any]) -> dict[str, Any]:
    """The result entry of one Certificate object of the answer, before its certificate is read."""
    error = field(item, 'Error')
    error = ' '.join(str(error).split())[:1000] if error is not None and str(error).strip() else None
    pfx, pkcs = field(item, 'Pfx'), field(item, 'Pkcs7')
    is_pfx = _flag(field(item, 'isPfx')) or (bool(pfx) and not pkcs)
    template = field(item, 'TemplateCommonName')
    entry: dict[str, Any] = dict(index=number, csr_index=None, template=template if isinstance(template, str) else None,
                                 certificate_id=field(item, 'CertificateId'), is_pfx=is_pfx,
                                 is_external=_flag(field(item, 'IsExternal')), is_server_generated=_flag(field(item, 'isServerGenerated')),
                                 pfx_written_to=None, error=error)
    entry.update((key, None) for key in FACT_KEYS)
    return entry


def _read_answer(answer: list[dict[str, Any]], csrs: list[Csr], params: dict[str, Any], warn: Callable[[str], Any],
                 secrets: Secrets) -> tuple[list[dict[str, Any]], list[str]]:
    """The result entries of the answer, and the problems found (an entry's Error, a CSR that got no certificate).

    An entry that is not a PFX answers the CSR at its position among such entries; its certificate is the one in its
    PKCS#7 whose public key is that CSR's (any CSR not answered yet when the position does not match), never a
    certificate picked by its place in the bag.
    """
    entries, problems = [], []
    answered: set[int] = set()
    position, pfx_count = 0, 0
    for number, item in enumerate(answer):
        entry = _entry(number, item)
        entries.append(entry)
        tentative = None
        if not entry['is_pfx'] and not entry['is_external']:
            tentative = position if position < len(csrs) else None
            position += 1
        if entry['error']:
            entry['error'] = secrets.scrub(entry['error'])
            entry['csr_index'] = tentative
            if tentative is not None:
                answered.add(tentative)
            which = ' for csrs[%d]' % tentative if tentative is not None else ''
            problems.append('answer entry %d%s (template %s) failed: %s' % (number, which, entry['template'], entry['error']))
            continue
        try:
            if entry['is_pfx']:
                pfx_count += 1
                _read_pfx(entry, field(item, 'Pfx'), pfx_count, params, warn)
            else:
                _read_pkcs7(entry, field(item, 'Pkcs7'), tentative, csrs, answered)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # one entry's failure must not lose the others
            entry['error'] = exc.msg if isinstance(exc, MimCmError) else unexpected_error(exc, 'reading the entry')
            if not entry['is_pfx'] and isinstance(field(item, 'Pkcs7'), str):
                entry['pkcs7'] = field(item, 'Pkcs7')  # public: the certificates as sent, to be read by other means
            if entry['csr_index'] is None and tentative is not None and tentative not in answered:
                entry['csr_index'] = tentative  # its answer, unreadable: not reported a second time as missing
                answered.add(tentative)
            problems.append('answer entry %d (template %s): %s' % (number, entry['template'], entry['error']))
    for index in range(len(csrs)):
        if index not in answered:
            problems.append('no certificate came back for csrs[%d]' % index)
    return entries, problems


def _read_pkcs7(entry: dict[str, Any], blob: Any, tentative: Optional[int], csrs: list[Csr], answered: set[int]) -> None:
    what = 'the Pkcs7 of answer entry %d' % entry['index']
    if not blob:
        raise UnexpectedResponse('it holds neither a PKCS#7 nor a PFX, and no Error')
    certificates = pkcs7_certificates(decode_blob(blob, what), what)
    order = ([tentative] if tentative is not None else []) + [index for index in range(len(csrs)) if index != tentative]
    for index in order:
        if index in answered:
            continue
        issued = issued_for(certificates, csrs[index].public_key_der)
        if issued is not None:
            answered.add(index)
            entry['csr_index'] = index
            entry.update(certificate_facts(issued, chain_of(issued, certificates)))
            return
    if entry['is_external']:  # a certificate the server adds, for no CSR of this run
        leaf = leaf_of(certificates)
        entry.update(certificate_facts(leaf, chain_of(leaf, certificates)))
        return
    held = ', '.join(item.subject.rfc4514_string() or '(empty subject)' for item in certificates)
    raise UnexpectedResponse('%s holds no certificate for the key of %s (it holds: %s)'
                             % (what, 'csrs[%d]' % tentative if tentative is not None else 'any CSR sent', held))


def _pfx_destination(path: str, count: int) -> str:
    """pfx_path for the first PFX of an answer; name-2.ext, name-3.ext, ... for the next ones."""
    if count == 1:
        return path
    root, ext = os.path.splitext(path)
    return '%s-%d%s' % (root, count, ext)


def write_private_file(path: str, data: bytes) -> None:
    """Write data to path, readable by its owner only from the first byte on (a temporary file renamed over path)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix='.%s.' % os.path.basename(path), suffix='.tmp')
    try:
        with os.fdopen(handle, 'wb') as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _read_pfx(entry: dict[str, Any], blob: Any, count: int, params: dict[str, Any], warn: Callable[[str], Any]) -> None:
    """Write a PFX (a server-generated key) to pfx_path and read its certificate's facts when pfx_password opens it."""
    data = decode_blob(blob, 'the Pfx of answer entry %d' % entry['index'])
    if params['pfx_path']:
        path = _pfx_destination(params['pfx_path'], count)
        try:
            write_private_file(path, data)
        except OSError as exc:
            raise ConfigurationError('it is a PFX and writing it to %s failed (%s); %s' % (path, exc.strerror or exc, NO_DOWNLOAD))
        entry['pfx_written_to'] = path
    else:
        warn('answer entry %d (template %s) is a PFX with a key the server generated, and pfx_path is not set: it was written '
             'nowhere, and %s; set pfx_path to keep such keys' % (entry['index'], entry['template'], NO_DOWNLOAD))
    try:
        certificate, others = pfx_certificates(data, params['pfx_password'])
    except (ValueError, TypeError) as exc:
        warn('answer entry %d is a PFX that pfx_password does not open (%s); its certificate facts are not returned'
             % (entry['index'], type(exc).__name__))
        return
    if certificate is not None:
        entry.update(certificate_facts(certificate, chain_of(certificate, others)))


DEFINITION = ModuleDefinition('mim.certificate_management.cm_request_certificates', argument_spec, request_certificates)
