#!/bin/bash
#PBS -N pi
#PBS -l nodes=2:ppn=4
#PBS -l walltime=02:00:00
#PBS -l mem=16384mb
#PBS -q batch
#PBS -o pi.out
#PBS -j oe
# Written by scoop-hpc gen-submit; submit it with: qsub FILE
cd "${PBS_O_WORKDIR:-.}"
set -e
module load python/3.11
# shellcheck source=/dev/null
source /opt/venvs/science/bin/activate
export OMP_NUM_THREADS=1
exec /opt/venvs/science/bin/python -m scoop_hpc examples/pi_montecarlo.py 1000 100000
