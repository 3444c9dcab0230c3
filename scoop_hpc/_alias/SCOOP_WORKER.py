"""``SCOOP_WORKER`` in a process that a task starts with multiprocessing's
*spawn* or *forkserver* method (macOS's default, and Linux's from Python
3.14).

A worker other than the root runs the program as the module
``SCOOP_WORKER``, so what the program defines pickles by reference as
``SCOOP_WORKER.name``. Such a new process runs the program again, as
``__mp_main__``, but knows no ``SCOOP_WORKER``: this folder is on the
workers' ``sys.path`` (last), which the process gets, and importing this
module there gives it that ``__mp_main__``.
"""
import sys

if "__mp_main__" in sys.modules:       # else not imported by such a process
    sys.modules[__name__] = sys.modules["__mp_main__"]
