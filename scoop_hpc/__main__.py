"""``python -m scoop_hpc [options] program.py [args]``."""
from scoop_hpc._exit import leave
from scoop_hpc.launcher import main

if __name__ == "__main__":
    leave(main())
