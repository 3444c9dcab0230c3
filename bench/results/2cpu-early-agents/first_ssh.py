"""Seconds from the launcher's start to its first ssh: this tree against a
base tree (PYTHONPATH=/tmp/wt-base), alternated. `ssh` on PATH is
ssh-wrapper.sh (in /tmp/sshwrap), which logs when it starts."""
import os
import socket
import statistics
import subprocess
import sys
import time

py = "/work/main/.venv/bin/python"
res = {"base": [], "new": []}
tot = {"base": [], "new": []}
for _ in range(int(sys.argv[1])):
    for side in ("base", "new"):
        env = dict(os.environ, PATH="/tmp/sshwrap:" + os.environ["PATH"])
        if side == "base":
            env["PYTHONPATH"] = "/tmp/wt-base"
        open("/tmp/sshwrap/log", "w").close()
        t0 = time.time()
        subprocess.run([py, "-m", "scoop_hpc", "--hosts", socket.gethostname(),
                        "node1", "node1", "node2", "node2",
                        "--python-executable", py, "/tmp/p2.py"],
                       env=env, cwd="/tmp", capture_output=True, check=True)
        t1 = time.time()
        with open("/tmp/sshwrap/log") as log:
            starts = [float(line.split()[0]) for line in log]
        res[side].append(min(starts) - t0)
        tot[side].append(t1 - t0)
for side in res:
    first = res[side]
    print(side, "first ssh median %.3f (%.3f-%.3f)" % (
        statistics.median(first), min(first), max(first)),
        "total median %.3f" % statistics.median(tot[side]))
