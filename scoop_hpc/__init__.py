"""scoop_hpc: SCOOP-compatible parallel futures from a laptop to a cluster.

The run-time constants below describe the current process. The worker sets
them when it starts; importing the package has no side effects.

    IS_RUNNING      True inside a job started by ``python -m scoop_hpc``
    IS_ORIGIN       True in the process that runs the user's main program
    WORKER_NAME     this worker's name (``"w0"`` is the root)
    BROKER_NAME     name of the broker this worker talks to
    BROKER_ADDRESS  address of that broker
    META_ADDRESS    address for broker metadata (the same socket here)
    SIZE            number of workers in the job
    DEBUG           True when the job runs with ``--debug``
    worker          this worker's identity (bytes), as SCOOP's ``worker``
"""

__version__ = "0.1.0"

IS_RUNNING = False
IS_ORIGIN = True
WORKER_NAME = "w0"
BROKER_NAME = "broker"
BROKER_ADDRESS = None
META_ADDRESS = None
SIZE = 1
DEBUG = False
worker = b"w0"
