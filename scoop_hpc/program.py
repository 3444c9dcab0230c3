"""What a job runs: a script's path or a module's name, with its arguments.

Kept apart from the worker so that the launcher parses its command line
without importing the runtime (ZeroMQ, greenlet): it starts remote hosts'
agents first, as they are slow to connect.
"""
from __future__ import annotations

import builtins
import os
import sys
import types
from typing import List, Optional


class Program:
    """What the job runs: a script path or a module name, and its args.

    Args:
        kind: ``"path"`` or ``"module"``.
        target: the script's path, or the module's name.
        args: the program's command-line arguments.
    """

    def __init__(self, kind: str, target: str,
                 args: Optional[List[str]] = None) -> None:
        self.kind = kind
        self.target = target
        self.args = list(args or ())

    def load(self, name: str) -> tuple:
        """Return ``(code, module)``: the program compiled, in a new module.

        Raises:
            OSError, SyntaxError, ImportError: the program cannot be read.
        """
        module = types.ModuleType(name)
        module.__builtins__ = builtins  # type: ignore[attr-defined]
        if self.kind == "path":
            path = os.path.abspath(self.target)
            with open(path, "rb") as handle:
                code = compile(handle.read(), path, "exec")
            module.__file__ = path
            sys.path[0] = os.path.dirname(path)
            sys.argv = [path, *self.args]
            return code, module
        import importlib.util
        # as ``python -m``: the working directory first (an agent's is
        # --path, not where it started)
        sys.path[0] = os.getcwd()
        spec = importlib.util.find_spec(self.target)
        if spec is None:
            raise ImportError(f"No module named {self.target!r}")
        if spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(self.target + ".__main__")
        code = spec.loader.get_code(spec.name)
        module.__file__ = spec.origin
        module.__spec__ = spec
        module.__package__ = spec.parent
        sys.argv = [spec.origin or self.target, *self.args]
        return code, module
