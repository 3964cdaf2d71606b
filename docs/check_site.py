# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make docs: check the built documentation site.

Usage: python docs/check_site.py HTML_DIR

Parses every HTML page with the standard library and checks that:
  - every internal link (href or src without a scheme) resolves to a file inside HTML_DIR, and its #fragment, when it
    points into an HTML page, to an id on that page;
  - no page carries a docutils error (system-message or problematic markup);
  - the module pages, the role page and the four guides exist with their expected headings, and the index links to
    each of them.
Then it opens the index in headless Chromium, when one is installed, and saves a screenshot next to HTML_DIR
(HTML_DIR/../index.png); without a working browser it says so loudly and goes on, since the link check is the real
test.
Exits 1 listing every problem; links with a scheme (https:, mailto:) are counted, not fetched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

LINK_ATTRIBUTES = {'a': 'href', 'link': 'href', 'area': 'href', 'script': 'src', 'img': 'src', 'iframe': 'src',
                   'source': 'src', 'embed': 'src'}
HEADINGS = ('h1', 'h2', 'h3', 'h4', 'h5', 'h6')
DOCUTILS_ERRORS = ('system-message', 'problematic')

# Page -> headings it must have (each is matched as the start of a heading's text).
EXPECTED = {
    'index.html': ['Mim.Certificate_Management', 'Guides', 'Plugin Index', 'Modules', 'Role Index'],
    'cm_request_status_module.html': ['mim.certificate_management.cm_request_status module', 'Synopsis', 'Requirements',
                                      'Parameters', 'Attributes', 'Notes', 'See Also', 'Examples', 'Return Values'],
    'cm_request_info_module.html': ['mim.certificate_management.cm_request_info module', 'Synopsis', 'Requirements',
                                    'Parameters', 'Attributes', 'Notes', 'See Also', 'Examples', 'Return Values'],
    'cm_request_module.html': ['mim.certificate_management.cm_request module', 'Synopsis', 'Requirements', 'Parameters',
                               'Attributes', 'Notes', 'See Also', 'Examples', 'Return Values'],
    'cm_profile_template_info_module.html': ['mim.certificate_management.cm_profile_template_info module', 'Synopsis',
                                             'Requirements', 'Parameters', 'Attributes', 'See Also', 'Examples',
                                             'Return Values'],
    'cm_profile_info_module.html': ['mim.certificate_management.cm_profile_info module', 'Synopsis', 'Requirements',
                                    'Parameters', 'Attributes', 'See Also', 'Examples', 'Return Values'],
    'cm_request_certificates_module.html': ['mim.certificate_management.cm_request_certificates module', 'Synopsis',
                                            'Requirements', 'Parameters', 'Attributes', 'Notes', 'See Also', 'Examples',
                                            'Return Values'],
    'finalize_request_role.html': ['mim.certificate_management.finalize_request role', 'Entry point main', 'Synopsis',
                                   'Parameters', 'See Also', 'Examples'],
    'docsite/guide_authentication.html': ['Authentication', 'Choosing a method', 'What every Windows method needs',
                                          'IIS side', 'Active Directory side', 'negotiate', 'kerberos', 'ntlm',
                                          'basic', 'bearer (ADFS)', 'TLS'],
    'docsite/guide_awx.html': ['AWX and Ansible Automation Platform', 'Execution environment', 'Credential type',
                               'Project and job template finalize', 'Secrets in AWX'],
    'docsite/guide_scaling.html': ['Scaling out', 'What one request costs the CM server', 'Batch mode',
                                   'Forks and throttle', 'AWX job slicing', 'Execution nodes', 'Measured figures'],
    'docsite/guide_troubleshooting.html': ['Troubleshooting by error message', 'Before any network call',
                                           '401: authentication refused', 'Kerberos', 'HTTP status errors',
                                           'TLS errors', 'Connections and timeouts', 'Request status conflicts'],
    'docsite/guide_request_status.html': ['Request statuses and final actions', 'The status numbers', 'The final actions',
                                          'The request lifecycle'],
    'docsite/guide_enroll.html': ['Enroll host certificates with MIM CM', 'The flow',
                                  'What is documented, and what is inferred', 'What the CM administrator configures'],
    'docsite/guide_development.html': ['Development', 'Layout of the repository', 'module_utils and their dependencies',
                                       'Running the checks', 'One integration target', 'The simulator',
                                       'Changelog fragments', 'The benchmark', 'The offline bundle',
                                       'The execution environment check', 'The documentation'],
}


class Page(HTMLParser):
    """One parsed HTML page: its ids, its links (with line numbers), its headings and any docutils error markup."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []
        self.headings = []
        self.errors = []
        self._heading = None
        self._skip = 0  # depth inside a heading's permalink anchor, whose pilcrow is not part of the title

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ('id', 'name') if tag == 'a' else ('id',):
            if attributes.get(name):
                self.ids.add(attributes[name])
        link = attributes.get(LINK_ATTRIBUTES.get(tag, ''))
        if link is not None:
            self.links.append((self.getpos()[0], link))
        classes = (attributes.get('class') or '').split()
        if any(name in classes for name in DOCUTILS_ERRORS):
            self.errors.append(self.getpos()[0])
        if tag in HEADINGS:
            self._heading = []
        elif self._heading is not None and tag == 'a' and 'headerlink' in classes:
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in HEADINGS and self._heading is not None:
            self.headings.append(' '.join(''.join(self._heading).split()))
            self._heading = None
        elif tag == 'a' and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if self._heading is not None and not self._skip:
            self._heading.append(data)


def html_pages(root):
    """Relative paths (with /) of every .html file under root, sorted."""
    found = []
    for directory, _dirs, files in os.walk(root):
        found.extend(os.path.relpath(os.path.join(directory, name), root).replace(os.sep, '/')
                     for name in files if name.endswith('.html'))
    return sorted(found)


def parse(root, relative):
    """The parsed Page of one file."""
    page = Page()
    with open(os.path.join(root, relative), encoding='utf-8') as handle:
        page.feed(handle.read())
    page.close()
    return page


def resolve(root, relative, link):
    """(target relative to root, or None when it leaves root; fragment) of an internal link, or None."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not link.strip() or link.startswith('//'):
        return None
    path = unquote(parts.path)
    if not path:
        target = relative
    else:
        base = root if path.startswith('/') else os.path.join(root, os.path.dirname(relative))
        full = os.path.normpath(os.path.join(base, path.lstrip('/')))
        if path.endswith('/') or os.path.isdir(full):
            full = os.path.join(full, 'index.html')
        if os.path.commonpath([os.path.abspath(root), os.path.abspath(full)]) != os.path.abspath(root):
            return (None, '')
        target = os.path.relpath(full, root).replace(os.sep, '/')
    return (target, unquote(parts.fragment))


def check_links(root, pages):
    """Problems with internal links, and the counts (internal links, fragments, external links) checked."""
    problems = []
    internal = fragments = external = 0
    for relative, page in pages.items():
        for line, link in page.links:
            resolved = resolve(root, relative, link)
            if resolved is None:
                external += 1
                continue
            internal += 1
            target, fragment = resolved
            if link.startswith('/'):
                problems.append('%s:%d: link %r is relative to the web server root: it breaks when the site is opened '
                                'from disk or served below a path' % (relative, line, link))
            elif target is None:
                problems.append('%s:%d: link %r leaves the site' % (relative, line, link))
            elif not os.path.isfile(os.path.join(root, target)):
                problems.append('%s:%d: link %r: %s does not exist' % (relative, line, link, target))
            elif fragment and target in pages:
                fragments += 1
                if fragment not in pages[target].ids:
                    problems.append('%s:%d: link %r: %s has no id %r' % (relative, line, link, target, fragment))
    return problems, (internal, fragments, external)


def check_content(pages):
    """Problems with the expected pages and headings, the index's links to them, and docutils error markup."""
    problems = []
    for relative, page in sorted(pages.items()):
        problems.extend('%s:%d: docutils error markup (a reStructuredText problem)' % (relative, line)
                        for line in page.errors)
    for relative, headings in EXPECTED.items():
        page = pages.get(relative)
        if page is None:
            problems.append('%s is missing' % relative)
            continue
        for heading in headings:
            if not any(text.startswith(heading) for text in page.headings):
                problems.append('%s has no heading %r (it has: %s)' % (relative, heading, '; '.join(page.headings)))
    index = pages.get('index.html')
    if index is not None:
        linked = set(unquote(urlsplit(link).path) for _line, link in index.links)
        problems.extend('index.html does not link to %s' % relative for relative in EXPECTED
                        if relative != 'index.html' and relative not in linked)
    return problems


def screenshot(root):
    """Open the index in headless Chromium and save HTML_DIR/../index.png; say loudly when that cannot be done.

    Optional: a missing or failing browser is reported, never a failure of the check.
    """
    browsers = (shutil.which(name) for name in ('chromium', 'chromium-browser', 'google-chrome'))
    browser = next(filter(None, browsers), None)
    if browser is None:
        print('*** SCREENSHOT SKIPPED: no chromium on PATH (Debian: apt-get install chromium); the link check ran ***')
        return
    target = os.path.join(os.path.dirname(os.path.abspath(root)), 'index.png')
    if os.path.exists(target):
        os.unlink(target)
    command = [browser, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1280,1000',
               '--screenshot=%s' % target, 'file://%s' % os.path.join(os.path.abspath(root), 'index.html')]
    try:
        subprocess.run(command, capture_output=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        pass
    if os.path.isfile(target) and os.path.getsize(target) > 0:
        print('Screenshot of index.html: %s' % target)
    else:
        print('*** SCREENSHOT FAILED: %s wrote nothing to %s; the link check ran ***' % (browser, target))


def main(argv=None):
    """Check the site; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('html_dir', help='the built site (BUILD_DIR/docs/html)')
    args = parser.parse_args(argv)
    root = args.html_dir
    if not os.path.isfile(os.path.join(root, 'index.html')):
        print('%s has no index.html: build the site first (make docs)' % root, file=sys.stderr)
        return 1
    pages = dict((relative, parse(root, relative)) for relative in html_pages(root))
    count = len(pages)
    problems, (internal, fragments, external) = check_links(root, pages)
    problems += check_content(pages)
    screenshot(root)
    print('Checked %d HTML pages: %d internal links (%d with a fragment), %d external links not fetched'
          % (count, internal, fragments, external))
    if problems:
        print('%d problem(s):\n  %s' % (len(problems), '\n  '.join(problems)), file=sys.stderr)
        return 1
    print('Every internal link resolves; every expected page and heading is there.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
