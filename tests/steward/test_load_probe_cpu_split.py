"""The load probe's CPU split gives each part the CPU its processes (and their children) spent during the run."""

import subprocess
import sys
import time

import pytest

from benchmarks.harden.cpu_split import CpuSplit

# The burn waits a second first, so all of it falls inside the measurement however slowly the machine starts processes.
BURN = "import time\ntime.sleep(1.0)\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_of_a_process_tree_is_counted_to_its_part_and_an_idle_one_gets_none():
    # a parent that starts a busy child: the child's CPU belongs to the parent's part
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, '-c', sys.argv[1]])",
                               BURN.format(seconds=0.6)])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    time.sleep(0.3)  # both started before the split starts, the burn not yet
    try:
        split = CpuSplit(roots={"busy": parent.pid, "idle": idle.pid}, database="load_probe_none", interval=0.1).start()
        parent.wait(30)
        measured = split.stop()
    finally:
        idle.kill()
        idle.wait()
    assert measured["busy"] >= 0.4
    assert measured["idle"] <= 0.05
    assert measured["machine"] >= measured["busy"] - 0.1 and measured["wall"] > 0
