"""bench/run.py runs workloads with the scoop_hpc that ``PYTHONPATH``
names first (an A/B run puts another tree there), and says which."""
import os
import sys

import pytest

from .conftest import PYTHON, ROOT

sys.path.insert(0, str(ROOT / "bench"))
import run  # noqa: E402  (bench/ is no package)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def other_tree(tmp_path, monkeypatch):
    """A tree whose ``scoop_hpc`` is a stand-in, first on PYTHONPATH."""
    package = tmp_path / "scoop_hpc"
    package.mkdir()
    (package / "__init__.py").write_text('__version__ = "0.0.other"\n')
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


def test_workloads_import_the_tree_first_on_pythonpath(other_tree):
    code = "import scoop_hpc; print(scoop_hpc.__file__)"
    rc, out, err, _ = run.launch([PYTHON, "-c", code], dict(os.environ), 30)
    assert rc == 0, err
    assert out.strip() == str(other_tree / "scoop_hpc" / "__init__.py")


def test_the_report_names_the_tree_it_ran(other_tree):
    assert run.scoop_hpc_version(PYTHON).endswith(f" from {other_tree}")


def test_the_report_of_this_checkout_names_no_other_tree(monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    assert " from " not in run.scoop_hpc_version(PYTHON)


def test_paths_given_from_the_root_still_hold_in_bench(monkeypatch):
    monkeypatch.chdir(ROOT)
    args = run.parse_args(["--peers-venv", ".venv-peers",
                           "--python", ".venv/bin/python"])
    assert args.peers_venv == str(ROOT / ".venv-peers")
    assert args.python == str(ROOT / ".venv" / "bin" / "python")
    assert run.parse_args(["--python", "python3"]).python == "python3"
