"""The one launcher of the MIM CM REST API simulator (the package mim_cm_sim next to this script).

    python tests/simulator/run_simulator.py [switches]                    serve in the foreground (SIGTERM/Ctrl-C stops it)
    python tests/simulator/run_simulator.py --background DIR [switches]   start it on a free port of 127.0.0.1 with its
                                                                          files in DIR, wait until it listens, print its
                                                                          settings (pid, port, url, logs) as JSON
    python tests/simulator/run_simulator.py --stop DIR                    stop that one by its PID

--background also takes --exit-with-playbook: the simulator stops once the ansible-playbook run that started it ends.
Python code imports the same helper instead: mim_cm_sim.launch.start().  README.md next to this script has the switches.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under python -I or PYTHONSAFEPATH

from mim_cm_sim.launch import cli  # noqa: E402  pylint: disable=wrong-import-position

if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
