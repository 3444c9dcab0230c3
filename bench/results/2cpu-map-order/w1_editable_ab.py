"""W1 (whole process) under two Pythons, alternated; run from bench/.

    python w1_editable_ab.py RUNS NAME=PYTHON NAME=PYTHON
"""
import statistics
import subprocess
import sys
import time


def main():
    runs = int(sys.argv[1])
    pythons = dict(arg.split("=", 1) for arg in sys.argv[2:])
    times = {name: [] for name in pythons}
    for _ in range(runs):
        for name, python in pythons.items():
            start = time.perf_counter()
            subprocess.run([python, "-m", "scoop_hpc", "-n", "2",
                            "w1_startup.py"], check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(name, "median %.4f min %.4f" % (statistics.median(values),
                                              min(values)),
              " ".join("%.3f" % value for value in values))


if __name__ == "__main__":
    main()
