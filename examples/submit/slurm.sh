#!/bin/bash
#SBATCH --job-name=pi
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --time=02:00:00
#SBATCH --partition=compute
#SBATCH --account=proj42
#SBATCH --mem=8192M
#SBATCH --output=pi.out
# Written by scoop-hpc gen-submit; submit it with: sbatch FILE
set -e
module load python/3.11
# shellcheck source=/dev/null
source /opt/venvs/science/bin/activate
export OMP_NUM_THREADS=1
ulimit -c 0
exec /opt/venvs/science/bin/python -m scoop_hpc examples/pi_montecarlo.py 1000 100000
