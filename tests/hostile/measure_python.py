"""A Python for ansible_python_interpreter that measures each module run: peak RSS and wall time, one JSON line each.

Usage: python measure_python.py ARGS...  runs `python ARGS...` (the same interpreter) as a child, waits for it, and
appends {"case", "maxrss_mb", "seconds", "rc"} to the file named by HOSTILE_MODULE_LOG; case is HOSTILE_CASE (set
with a task's `environment:`). The child's address space is capped at HOSTILE_AS_LIMIT_MB (default 2048) so that a
module that reads an endless answer into memory dies with MemoryError instead of taking the machine with it.
Ansible cannot take an interpreter with arguments, so runme.sh points ansible_python_interpreter at a two-line shell
script that execs this one.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def main():
    """Run the child, report it, exit with its status."""
    limit = int(os.environ.get('HOSTILE_AS_LIMIT_MB', '2048')) << 20

    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    start = time.monotonic()
    returncode = subprocess.call([sys.executable] + sys.argv[1:], preexec_fn=cap_memory)  # pylint: disable=subprocess-popen-preexec-fn
    seconds = time.monotonic() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    log = os.environ.get('HOSTILE_MODULE_LOG')
    if log:
        with open(log, 'a', encoding='utf-8') as handle:
            handle.write(json.dumps({'case': os.environ.get('HOSTILE_CASE'), 'maxrss_mb': round(peak_kib / 1024.0, 1),
                                     'seconds': round(seconds, 2), 'rc': returncode}) + '\n')
    return returncode


if __name__ == '__main__':
    sys.exit(main())
