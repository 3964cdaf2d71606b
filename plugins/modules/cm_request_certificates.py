#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: cm_request_certificates
short_description: Submit the CSRs of an approved MIM CM request and return the certificates issued
version_added: 0.1.0
description:
  - Reads a Microsoft Identity Manager Certificate Management (MIM CM) request and its certificate request generation
    options (C(GET /requests/{id}/certificaterequestgenerationoptions)) - one entry per certificate to request, with the
    key algorithm, key size and hash algorithm the CSR must have. Without O(csrs) it only returns them, so that the keys
    and CSRs can be generated on the host with C(community.crypto).
  - With O(csrs), checks each CSR (its signature, and that its key is what its option asks for) and every option
    (options a host cannot meet, such as a smart card key storage provider, are refused) before anything is sent, then
    submits the CSRs once (C(POST /requests/{id}/certificatedata)) and returns each issued certificate with its chain.
  - The issued certificate of an answer is found by its public key - the one whose key is the CSR's - in the PKCS#7
    the server answers, a CMC full response (as AD CS sends it) or a certs-only bag; its chain is ordered issuer first.
  - A request that is Completed, or whose profile already holds certificates from an earlier submission, is left
    alone (no change). A Pending request is an error saying it waits for approval; other statuses are errors too.
  - The REST API gives no way to download an issued certificate again. So the submission is never sent twice - after a
    submission that got no answer, the request and its profile are read again, and the error tells whether the
    submission may have been applied (the request moved on) or nothing was issued (the task can run again).
author:
  - MIM CM automation maintainers (@mim-certificate-management)
extends_documentation_fragment:
  - mim.certificate_management.connection
  - mim.certificate_management.connection.action_group
  - mim.certificate_management.connection.in_controller
attributes:
  check_mode:
    description: Reads the request and its options and checks the CSRs; submits nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
options:
  request_id:
    description:
      - The request's uuid (any case, braces allowed). It must be Approved or Executing to submit.
    type: str
    required: true
    version_added: 0.1.0
  csrs:
    description:
      - One certificate signing request (PKCS#10) per generation option, in the options' order.
      - Each is PEM (C(-----BEGIN CERTIFICATE REQUEST-----)) as C(community.crypto.openssl_csr_pipe) returns it, or its
        DER in base64, with or without line breaks. It is sent as base64 DER with CR LF every 64 characters, as in
        Microsoft's example.
      - Each CSR's key must be what its option asks for - RSA of the option's key size, or EC on the option's curve
        (C(ECDSA_P256) is secp256r1, C(ECDSA_P384) secp384r1, C(ECDSA_P521) secp521r1).
      - Leave it out to read the request and its options only; nothing is submitted then.
    type: list
    elements: str
    version_added: 0.1.0
  pfx_password:
    description:
      - The password that protects the PFX of a key the server generates (a profile template that archives or
        generates keys on the server answers such keys as PFX).
      - Sent as the C(pfxpassword) of the submission; an empty string when not set.
      - Never shown in output or error messages.
    type: str
    version_added: 0.1.0
  pfx_path:
    description:
      - Where to write a PFX the server answers, on the host that runs the module, readable by its owner only (mode
        C(0600)). A second PFX of the same answer goes to C(name-2.ext), a third to C(name-3.ext), and so on.
      - Its directory must exist; this is checked before anything is sent.
      - Without it a PFX is written nowhere, with a warning; it cannot be downloaded again.
      - The PFX is never part of the result.
    type: path
    version_added: 0.1.0
  comment:
    description:
      - The comment of the submission, recorded in the request's history.
    type: str
    default: ''
    version_added: 0.1.0
requirements:
  - cryptography (Python library, on the host that runs the module), when O(csrs) is given
notes:
  - A generation option is refused when it asks for a key algorithm other than RSA and the ECDSA curves P-256, P-384 and
    P-521, a C(KeyProtectionLevel) above 0 (a key protected by a Windows key storage provider that asks the user), or
    key storage providers that are all smart card ones. Without O(csrs), such options are returned with
    C(supported=false) and the reason.
  - A generation option asking for SHA1 is honoured with a warning; the CSR is submitted as the host signed it, and the
    CA signs the certificate as its template says.
  - The issued certificates are in the result only. Write them where they belong in the same play (see the examples),
    then mark the request Completed with M(mim.certificate_management.cm_request_status).
  - After a submission whose answer was lost, while the request has moved on, the error says so and names the request;
    the certificates it issued cannot be had again over REST, and running the task again submits nothing.
seealso:
  - module: mim.certificate_management.cm_request
  - module: mim.certificate_management.cm_request_status
  - module: mim.certificate_management.cm_profile_info
  - name: community.crypto.openssl_privatekey
    description: Makes the private key on the host.
    link: https://docs.ansible.com/ansible/latest/collections/community/crypto/openssl_privatekey_module.html
  - name: community.crypto.openssl_csr_pipe
    description: Makes the CSR on the host.
    link: https://docs.ansible.com/ansible/latest/collections/community/crypto/openssl_csr_pipe_module.html
'''

EXAMPLES = r'''
- name: Read what the request asks for
  mim.certificate_management.cm_request_certificates:
    url: https://cm.contoso.com
    request_id: "{{ cm_request_id }}"
  delegate_to: localhost
  register: cm_options

- name: Generate the key on the host, as the first option says
  community.crypto.openssl_privatekey:
    path: /etc/pki/tls/private/web.key
    type: "{{ 'RSA' if cm_options.options[0].key_algorithm == 'RSA' else 'ECC' }}"
    size: "{{ cm_options.options[0].key_size if cm_options.options[0].key_algorithm == 'RSA' else omit }}"
    curve: "{{ cm_options.options[0].curve | default(omit, true) }}"
    mode: '0600'

- name: Make its CSR on the host
  community.crypto.openssl_csr_pipe:
    privatekey_path: /etc/pki/tls/private/web.key
    common_name: "{{ inventory_hostname }}"
  register: cm_csr

- name: Submit it and get the certificate
  mim.certificate_management.cm_request_certificates:
    url: https://cm.contoso.com
    request_id: "{{ cm_request_id }}"
    csrs:
      - "{{ cm_csr.csr }}"
    comment: Enrolled by Ansible
  delegate_to: localhost
  register: cm_issued

- name: Install the certificate and its chain on the host
  ansible.builtin.copy:
    content: "{{ cm_issued.certificates[0].fullchain }}"
    dest: /etc/pki/tls/certs/web.pem
    mode: '0644'
  when: cm_issued.certificates | length > 0

- name: Finalize the request
  mim.certificate_management.cm_request_status:
    url: https://cm.contoso.com
    request_id: "{{ cm_request_id }}"
    status: completed
  delegate_to: localhost
  when: cm_issued.certificates | length > 0
'''

RETURN = r'''
request_id:
  description: The request's id, canonical.
  returned: always
  type: str
  sample: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
request:
  description: The Request object as the server sent it, read before anything was submitted.
  returned: success
  type: dict
  sample:
    Uuid: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
    Status: 3
status:
  description: The request's status name as read before submitting (or, after a lost answer, as read again).
  returned: success, and after a lost answer
  type: str
  sample: Approved
profile_id:
  description: The request's C(NewProfileUuid), or V(null) while it is all zero.
  returned: success
  type: str
submitted:
  description: Whether the CSRs were submitted by this task.
  returned: success
  type: bool
options:
  description:
    - The certificate request generation options, one per CSR to submit, in order - the server's objects with
      normalized keys added. Empty when they were not read (a Completed request, or one with certificates on its
      profile).
  returned: success
  type: list
  elements: dict
  contains:
    key_algorithm:
      description: V(RSA), V(ECDSA_P256), V(ECDSA_P384), V(ECDSA_P521), or the server's name when it is none of them.
      type: str
    key_size:
      description: The key size in bits (the curve's size for ECDSA), or V(null).
      type: int
    curve:
      description: The curve for ECDSA as C(community.crypto) names it (V(secp256r1), ...), V(null) for RSA.
      type: str
    hash_algorithm:
      description: The hash algorithm the option names, upper case (V(SHA256), V(SHA1)), or V(null).
      type: str
    exportable:
      description: Whether the option asks for an exportable key.
      type: bool
    key_protection_level:
      description: The option's C(KeyProtectionLevel), 0 for none.
      type: int
    key_usages:
      description: The key usages of C(KeyUsages) by name - V(decryption), V(signing), V(key_agreement).
      type: list
      elements: str
    subject:
      description: The subject the option proposes, often empty.
      type: str
    friendly_name:
      description: The friendly name the option proposes.
      type: str
    key_storage_providers:
      description: The key storage providers the option names.
      type: list
      elements: str
    supported:
      description: Whether a host generating its own key and CSR can meet the option.
      type: bool
    unsupported_reason:
      description: Why not, and what to do, or V(null).
      type: str
  sample:
    - Subject: ''
      KeyAlgorithmName: RSA
      KeySize: 2048
      HashAlgorithmName: SHA256
      KeyStorageProviderNames: [Microsoft Software Key Storage Provider]
      Exportable: 0
      KeyProtectionLevel: 0
      KeyUsages: 3
      key_algorithm: RSA
      key_size: 2048
      curve: null
      hash_algorithm: SHA256
      exportable: false
      key_protection_level: 0
      key_usages: [decryption, signing]
      subject: ''
      friendly_name: ''
      key_storage_providers: [Microsoft Software Key Storage Provider]
      supported: true
      unsupported_reason: null
certificates:
  description:
    - One entry per Certificate object of the answer, in its order. Empty when nothing was submitted.
    - An entry with an C(error) failed; the task fails after listing every entry, and the entries that succeeded keep
      their certificates.
  returned: success, and when an answer entry failed
  type: list
  elements: dict
  contains:
    index:
      description: The entry's position in the answer.
      type: int
    csr_index:
      description: The position in O(csrs) of the CSR this entry answers, V(null) for a PFX or an external certificate.
      type: int
    certificate:
      description: The issued certificate, PEM.
      type: str
    chain:
      description: The certificates that issued it, PEM, issuer first (its issuer, then that one's issuer, ...); the
        other certificates of the answer are left out.
      type: str
    fullchain:
      description: RV(certificates[].certificate) followed by the chain, PEM.
      type: str
    serial:
      description: The serial number in upper-case hex, the bytes of its DER integer as Windows shows them.
      type: str
    thumbprint:
      description: The SHA1 thumbprint in upper-case hex, as Windows shows it.
      type: str
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
    subject:
      description: The subject, RFC 4514.
      type: str
    issuer:
      description: The issuer, RFC 4514.
      type: str
    template:
      description: The certificate template (C(TemplateCommonName)).
      type: str
    certificate_id:
      description: The server's C(CertificateId).
      type: int
    is_pfx:
      description: Whether the entry is a PFX (a key the server generated); its facts are filled in when
        O(pfx_password) opens it.
      type: bool
    is_external:
      description: Whether the server marks the certificate as external.
      type: bool
    is_server_generated:
      description: Whether the server generated the key.
      type: bool
    pfx_written_to:
      description: Where the PFX was written, or V(null) (no PFX, or no O(pfx_path)).
      type: str
    error:
      description: The entry's error, from the server or from reading the answer, or V(null).
      type: str
    pkcs7:
      description: The entry's C(Pkcs7) as the server sent it (base64), only when the module could not read it, so that
        the certificates it holds can be read by other means.
      type: str
      returned: when the C(Pkcs7) of an entry could not be read
  sample:
    - index: 0
      csr_index: 0
      certificate: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"
      chain: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"
      fullchain: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"
      serial: 1B0000B1F4E11A8BBA988F2CB300010000B1F4
      thumbprint: A5FE3C53F9F9E63B22A558861A8D1ACA37E9891F
      not_before: '2015-07-07T23:27:33Z'
      not_after: '2016-07-06T23:27:33Z'
      subject: CN=web01.contoso.com
      issuer: CN=Contoso Issuing CA
      template: ContosoWebServer
      certificate_id: 0
      is_pfx: false
      is_external: false
      is_server_generated: false
      pfx_written_to: null
      error: null
certificates_on_profile:
  description:
    - The metadata of the certificates already on the request's profile (C(GET /profiles/{id}/certificates)) - serial
      number, thumbprint, template - as the server sent it. When not empty, nothing was submitted.
  returned: success, and after a lost answer
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mim.certificate_management.plugins.module_utils._cm_request_certificates import DEFINITION
from ansible_collections.mim.certificate_management.plugins.module_utils._module import run_module


def main():
    module = AnsibleModule(argument_spec=DEFINITION.argument_spec(), supports_check_mode=True, **DEFINITION.constraints)
    run_module(module, lambda secrets, context: DEFINITION.work(module, secrets, context))


if __name__ == '__main__':
    main()
