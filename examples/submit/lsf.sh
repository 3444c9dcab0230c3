#!/bin/bash
#BSUB -J pi
#BSUB -n 8
#BSUB -R "span[ptile=4]"
#BSUB -W 2:00
#BSUB -R "rusage[mem=2048MB]"
#BSUB -q normal
#BSUB -P proj42
#BSUB -o pi.out
# Written by scoop-hpc gen-submit; submit it with: bsub < FILE
set -e
module load python/3.11
# shellcheck source=/dev/null
source /opt/venvs/science/bin/activate
export OMP_NUM_THREADS=1
exec /opt/venvs/science/bin/python -m scoop_hpc examples/pi_montecarlo.py 1000 100000
