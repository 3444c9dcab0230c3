#!/usr/bin/env bash
# Create (or refresh) the virtual environment holding the peers that
# bench/run.py compares scoop_hpc against: the original SCOOP 0.7.2 and
# mpi4py.futures on the MPICH wheel from PyPI.  Safe to rerun: an existing
# venv is reused and pip skips what is already installed.  Ends with a smoke
# run of each peer, so a venv that installs but does not run is reported.
#
# Usage: bash bench/make_peers_venv.sh DIR      (PYTHON=python3 by default)
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
DIR=$1
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=(scoop==0.7.2.0 mpi4py==4.1.2 mpich==5.0.2)

if [ ! -x "$DIR/bin/python" ]; then
    "$PYTHON" -m venv "$DIR"
fi
"$DIR/bin/python" -m pip install -q --disable-pip-version-check "${PEERS[@]}"

# Smoke runs: the W1 workload maps over 2 items and prints a BENCH line.
smoke() {
    local name=$1
    shift
    local out
    if ! out=$(timeout 120 "$@" "$HERE/w1_startup.py" </dev/null 2>&1); then
        echo "$name: smoke run failed:" >&2
        echo "$out" >&2
        exit 1
    fi
    if ! grep -q '^BENCH ' <<<"$out"; then
        echo "$name: smoke run printed no BENCH line:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "$name: ok"
}

export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" BENCH_WORKERS=2
BENCH_IMPL=scoop smoke "SCOOP 0.7.2" "$DIR/bin/python" -m scoop -n 2
BENCH_IMPL=mpi4py smoke "mpi4py.futures" \
    "$DIR/bin/mpiexec" -n 3 "$DIR/bin/python" -m mpi4py.futures
"$DIR/bin/python" -m pip list --format=freeze --disable-pip-version-check \
    | grep -Ei '^(scoop|mpi4py|mpich|pyzmq|greenlet)=='
