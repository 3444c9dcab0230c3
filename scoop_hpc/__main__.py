"""``python -m scoop_hpc [options] program.py [args]``."""
import sys

from scoop_hpc.launcher import main

if __name__ == "__main__":
    sys.exit(main())
