"""End-to-end ssh start-up, this tree's launcher against a base tree's
(PYTHONPATH), alternated: bench/ssh_startup.py's program, 2 hosts x 2 +
1 local. Usage: python e2e_ab.py ROUNDS BASE_TREE (from /tmp)."""
import os
import socket
import statistics
import subprocess
import sys
import time

PY = "/work/main/.venv/bin/python"
PROG = "/work/main/bench/ssh_startup.py"
HERE = socket.gethostname()
CMD = [PY, "-m", "scoop_hpc", "--hosts", HERE, "node1", "node1", "node2",
       "node2", "--python-executable", PY, PROG, "--program", "--deadline",
       "30", "--require", "node1", "node2", HERE]

res = {"base": [], "new": []}
for i in range(int(sys.argv[1])):
    for side in ("base", "new") if i % 2 == 0 else ("new", "base"):
        env = dict(os.environ)
        if side == "base":
            env["PYTHONPATH"] = sys.argv[2]
        t0 = time.perf_counter()
        subprocess.run(CMD, env=env, cwd="/tmp", capture_output=True,
                       check=True, timeout=60)
        res[side].append(time.perf_counter() - t0)
for side, runs in res.items():
    print(f"{side}: median {statistics.median(runs):.3f} s, "
          f"min {min(runs):.3f}, runs " + ", ".join(f"{r:.3f}" for r in runs))
print(f"new/base medians: "
      f"{statistics.median(res['new']) / statistics.median(res['base']):.2f}")
