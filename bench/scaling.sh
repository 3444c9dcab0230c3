#!/bin/sh
# The scaling run, for a machine with many cores: every file it writes goes
# to OUT, the most telling first, so that a run cut short still says much.
#
#   sh bench/scaling.sh OUT [PYTHON] [PEERS_VENV]
#
# PYTHON runs scoop_hpc (default .venv/bin/python); PEERS_VENV holds SCOOP
# 0.7.2 (default .venv-peers; see make_peers_venv.sh). N (default: the
# number of CPUs) sets the workers of the bench/run.py rows.
set -u
OUT=${1:?usage: sh bench/scaling.sh OUT [PYTHON] [PEERS_VENV]}
PY=${2:-.venv/bin/python}
PEERS=${3:-.venv-peers}
N=${N:-$(nproc)}
case $PY in /*) ;; */*) PY=$PWD/$PY ;; esac   # the map_cpu step runs in bench/
mkdir -p "$OUT"

step() {  # step NAME COMMAND...: stdout to OUT/NAME.md, stderr to NAME.log
    name=$1
    shift
    echo "== $name: $* ($(date -u +%H:%M:%S) UTC)" >&2
    "$@" >"$OUT/$name.md" 2>"$OUT/$name.log"
    echo "   exit $? after $(date -u +%H:%M:%S) UTC" >&2
}

{
    date -u
    echo "nproc: $(nproc)"
    grep -m1 "model name" /proc/cpuinfo
    grep MemTotal /proc/meminfo
    uname -srm
    "$PY" --version
} >"$OUT/machine.txt" 2>&1

step "run_n$N" "$PY" bench/run.py -n "$N" --impls scoop_hpc,ppe --repeat 3
step sim "$PY" bench/scale.py sim --workers 10,100,500,1000,2000 \
    --procs 8 --json "$OUT/sim.json"
step sim_credit64 "$PY" bench/scale.py sim --workers 10,100,1000,2000 \
    --procs 8 --credit 64 --json "$OUT/sim_credit64.json"
step real "$PY" bench/scale.py real --workers "$N",64,256 --tasks 200000 \
    --json "$OUT/real.json"
step map_cpu_spin env -C bench BENCH_WORKERS=256 "$PY" -m scoop_hpc -n 256 \
    map_cpu.py --spin 1 --items $((250 * N)) --maps 6
step sim_crowded "$PY" bench/scale.py sim --workers 100,1000,2000 --procs 8 \
    --crowded "$N" --json "$OUT/sim_crowded.json"
step step_cost "$PY" bench/step_cost.py --cpus "$N"
step w3_n2 "$PY" bench/run.py -n 2 --only W1,W3 --peers-venv "$PEERS" \
    --impls scoop_hpc,ppe,scoop --repeat 3
step "scoop_n$N" "$PY" bench/run.py -n "$N" --peers-venv "$PEERS" \
    --impls scoop_hpc,scoop --only W1,W2,W3,W4,W5,W8 --repeat 1
