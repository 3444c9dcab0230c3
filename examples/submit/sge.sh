#!/bin/bash
#$ -S /bin/bash
#$ -N pi
#$ -cwd
#$ -pe mpi 8
#$ -l h_rt=02:00:00
#$ -l h_vmem=2048M
#$ -o pi.out
#$ -j y
# Written by scoop-hpc gen-submit; submit it with: qsub FILE
set -e
module load python/3.11
# shellcheck source=/dev/null
source /opt/venvs/science/bin/activate
export OMP_NUM_THREADS=1
exec /opt/venvs/science/bin/python -m scoop_hpc examples/pi_montecarlo.py 1000 100000
