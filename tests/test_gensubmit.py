"""``scoop-hpc gen-submit`` and ``scoop-hpc config``: golden scripts per
scheduler (examples/submit/), bash -n and shellcheck on every script, the
configuration layers, template overrides, validation and submission.

No test reads this machine's /etc/scoop_hpc or ~/.config: the ``isolated``
fixture points SCOOP_HPC_SITE_CONFIG, XDG_CONFIG_HOME and HOME into the
test's own directory.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import textwrap

import jinja2
import pytest

from scoop_hpc import cli, submit
from scoop_hpc.errors import SubmitError

from .conftest import PYTHON, ROOT

pytestmark = pytest.mark.timeout(60)

EXAMPLES = ROOT / "examples" / "submit"
#: The interpreter a script runs with no venv, conda or python given:
#: gen-submit's own here, as the tests run in a virtual environment.
HERE = shlex.quote(sys.executable)
SCHEDULERS = ("slurm", "pbs", "torque", "sge", "lsf")
# How examples/submit/SCHEDULER.sh were made (see its README.md).
EXAMPLE_ARGS = [
    "--nodes", "2", "--tasks-per-node", "4", "--walltime", "02:00:00",
    "--memory", "8G", "--job-name", "pi", "--output", "pi.out",
    "--venv", "/opt/venvs/science", "--env", "OMP_NUM_THREADS=1",
    "examples/pi_montecarlo.py", "1000", "100000"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """An empty site file, no user file, no SCOOP_HPC_* settings; the
    site file's path is returned."""
    for name in list(os.environ):
        if name.startswith("SCOOP_HPC_") and name != "SCOOP_HPC_RIGS":
            monkeypatch.delenv(name)
    site = tmp_path / "site.toml"
    site.write_text("")
    monkeypatch.setenv("SCOOP_HPC_SITE_CONFIG", str(site))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return site


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr) of ``scoop-hpc ARGV``, in process."""
    try:
        code = cli.main([str(arg) for arg in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def generate(capsys, *argv) -> str:
    code, out, err = run_cli(capsys, "gen-submit", *argv)
    assert code == 0, err
    return out


def directives(text: str) -> list:
    return [line for line in text.splitlines()
            if line.startswith(("#SBATCH", "#PBS", "#$", "#BSUB"))]


@pytest.fixture
def prog(tmp_path, monkeypatch):
    """A program in the current directory (the test's own)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.py").write_text("print('hi')\n")
    return "prog.py"


# -- golden scripts ----------------------------------------------------------

@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_examples_are_what_gen_submit_writes(capsys, monkeypatch,
                                             scheduler):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SCOOP_HPC_SITE_CONFIG", str(EXAMPLES / "site.toml"))
    text = generate(capsys, "--scheduler", scheduler, *EXAMPLE_ARGS)
    assert text == (EXAMPLES / f"{scheduler}.sh").read_text()


def test_slurm_directives_come_before_any_command(capsys, prog):
    text = generate(capsys, "--scheduler", "slurm", "--nodes", "2",
                    "--ntasks", "6", "--cpus-per-task", "2",
                    "--partition", "multi", "--account", "p1",
                    "--walltime", "0:05:00", "--memory", "1500M",
                    "--directive=--exclusive",
                    "--directive", "#SBATCH --gres=gpu:1", prog, "-x", "a b")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert directives(text) == [
        "#SBATCH --job-name=prog", "#SBATCH --nodes=2",
        "#SBATCH --ntasks=6", "#SBATCH --cpus-per-task=2",
        "#SBATCH --time=00:05:00", "#SBATCH --partition=multi",
        "#SBATCH --account=p1", "#SBATCH --mem=1500M",
        "#SBATCH --exclusive", "#SBATCH --gres=gpu:1"]
    first_command = next(i for i, line in enumerate(lines)
                         if line and not line.startswith("#"))
    assert first_command > lines.index("#SBATCH --gres=gpu:1")
    assert lines[-1] == f"exec {HERE} -m scoop_hpc prog.py -x 'a b'"


def test_pbs_pro_select_and_user_directives_first(capsys, prog):
    text = generate(capsys, "--scheduler", "pbs", "--nodes", "3",
                    "--ntasks", "6", "--cpus-per-task", "4", "--memory",
                    "2G", "--directive", "-l select=1:ngpus=1", prog)
    assert directives(text)[:4] == [
        "#PBS -l select=1:ngpus=1", "#PBS -N prog",
        "#PBS -l select=3:ncpus=8:mpiprocs=2:mem=2048mb",
        "#PBS -l place=scatter"]
    assert 'cd "${PBS_O_WORKDIR:-.}"' in text


def test_torque_nodes_ppn(capsys, prog):
    text = generate(capsys, "--scheduler", "torque", "--nodes", "2",
                    "--tasks-per-node", "8", "--walltime", "10:00:00", prog)
    assert directives(text) == ["#PBS -N prog", "#PBS -l nodes=2:ppn=8",
                                "#PBS -l walltime=10:00:00"]


def test_sge_slots_in_the_named_pe(capsys, prog):
    text = generate(capsys, "--scheduler", "sge", "--pe", "orte",
                    "--nodes", "2", "--tasks-per-node", "3", prog)
    assert "#$ -pe orte 6" in directives(text)
    assert "#$ -cwd" in directives(text)


def test_lsf_slots_span_and_walltime_in_minutes(capsys, prog):
    text = generate(capsys, "--scheduler", "lsf", "-n", "5",   # --ntasks
                    "--nodes", "2", "--walltime", "01:00:30", prog)
    assert directives(text) == ["#BSUB -J prog", "#BSUB -n 5",
                                '#BSUB -R "span[ptile=3]"', "#BSUB -W 1:01"]
    assert "bsub < FILE" in text


def test_conda_environment_and_python(capsys, prog):
    text = generate(capsys, "--scheduler", "slurm", "--conda", "sci env",
                    "--module", "gcc", "--module", "python/3.11", prog)
    assert "module load gcc python/3.11\n" in text
    assert ("eval \"$(conda shell.bash hook)\"\nconda activate 'sci env'\n"
            in text)
    assert text.endswith("exec python3 -m scoop_hpc prog.py\n")


# -- bash -n and shellcheck --------------------------------------------------

VARIANTS = [
    [],
    ["--venv", "/opt/v", "--env", "A=1 2", "--module", "m/1"],
    ["--conda", "base", "--ntasks", "4", "--nodes", "2", "--memory", "1G",
     "--walltime", "1:00:00", "--output", "o.txt", "--cpus-per-task", "2"],
]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_script_passes_bash_n_and_shellcheck(capsys, prog, tmp_path,
                                                   scheduler):
    if not shutil.which("shellcheck"):
        # CI (SCOOP_HPC_RIGS=required) installs it: missing there is a
        # failure
        why = "shellcheck is not installed: apt-get install shellcheck"
        if os.environ.get("SCOOP_HPC_RIGS") == "required":
            pytest.fail(why)
        pytest.skip(why)
    scripts = [EXAMPLES / f"{scheduler}.sh"]
    for number, extra in enumerate(VARIANTS):
        path = tmp_path / f"{scheduler}{number}.sh"
        code, _, err = run_cli(capsys, "gen-submit", "--scheduler",
                               scheduler, "--pe", "mpi", *extra, "-o", path,
                               prog, "arg")
        assert code == 0, err
        assert os.access(path, os.X_OK)
        scripts.append(path)
    for script in scripts:
        for check in (["bash", "-n"], ["shellcheck", "-s", "bash"]):
            done = subprocess.run([*check, str(script)], capture_output=True,
                                  text=True, timeout=30)
            assert done.returncode == 0, (check, script.read_text(),
                                          done.stdout + done.stderr)


# -- configuration layers ----------------------------------------------------

def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_layers_and_show_origin(capsys, isolated, tmp_path, monkeypatch):
    write(isolated, """
        scheduler = "sge"
        [slurm]
        queue = "site-q"
        account = "site-acct"
        module = ["python/3.11"]
        [slurm.queues.debug]
        max_nodes = 2
    """)
    user = write(tmp_path / "xdg" / "scoop_hpc" / "config.toml", """
        scheduler = "slurm"
        [slurm]
        account = "user-acct"
        walltime = "00:20:00"
    """)
    monkeypatch.setenv("SCOOP_HPC_WALLTIME", "00:10:00")
    code, out, _ = run_cli(capsys, "config", "--show-origin")
    assert code == 0
    shown = {line.split(" = ")[0]: line for line in out.splitlines()
             if " = " in line}
    assert shown["scheduler"].endswith(f"# user file {user}")
    assert shown["queue"].startswith('queue = "site-q"')
    assert shown["queue"].endswith(f"# site file {isolated}")
    assert shown["account"].startswith('account = "user-acct"')
    assert shown["walltime"].endswith("# SCOOP_HPC_WALLTIME")
    assert shown["nodes"].endswith("# built-in")
    assert "[slurm.queues.debug]" in out
    code, plain, _ = run_cli(capsys, "config")
    assert '[slurm]\nnodes = 1\n' in plain and "#" not in plain


def test_command_line_beats_every_layer(capsys, isolated, prog,
                                        monkeypatch):
    write(isolated, """
        [slurm]
        queue = "site-q"
        account = "site-acct"
        venv = "/site/venv"
    """)
    monkeypatch.setenv("SCOOP_HPC_QUEUE", "env-q")
    text = generate(capsys, "--scheduler", "slurm", "--account", "cli",
                    "--conda", "mine", prog)
    assert "#SBATCH --partition=env-q" in text
    assert "#SBATCH --account=cli" in text
    # --conda (command line) wins over the site's venv
    assert "conda activate mine" in text and "/site/venv" not in text


def test_site_python_unless_a_higher_venv(capsys, isolated, prog):
    write(isolated, """
        [slurm]
        python = "/opt/python/bin/python3"
    """)
    text = generate(capsys, "--scheduler", "slurm", prog)
    assert "exec /opt/python/bin/python3 -m scoop_hpc prog.py" in text
    text = generate(capsys, "--scheduler", "slurm", "--venv", "/v", prog)
    assert "exec /v/bin/python -m scoop_hpc prog.py" in text


def test_site_template_overrides_by_name(capsys, isolated, tmp_path, prog):
    templates = tmp_path / "templates"
    write(templates / "slurm.sh.j2", """\
        #!/bin/bash
        #SBATCH --job-name={{ job_name }} --qos=site
        {% include "_body.sh.j2" %}
    """)
    write(isolated, f'template_dir = "{templates}"\n')
    text = generate(capsys, "--scheduler", "slurm", prog)
    assert directives(text) == ["#SBATCH --job-name=prog --qos=site"]
    assert text.endswith(f"exec {HERE} -m scoop_hpc prog.py\n")
    # other schedulers keep the built-in template
    assert "#PBS -N prog" in generate(capsys, "--scheduler", "pbs", prog)


# -- validation: exit 2, field and value named, nothing written -------------

BAD = [
    (["--scheduler", "slurm", "--walltime", "1:75:00"],
     "--walltime: '1:75:00' is not a walltime HH:MM:SS"),
    (["--scheduler", "lsf", "--walltime", "soon"],
     "--walltime: 'soon' is not a walltime"),
    (["--scheduler", "moab"], "argument --scheduler: invalid choice: 'moab'"),
    (["--scheduler", "slurm", "--nodes", "0"],
     "--nodes = 0: expected a whole number, 1 or more"),
    (["--scheduler", "slurm", "--memory", "lots"],
     "--memory: 'lots' is not an amount of memory"),
    (["--scheduler", "torque", "--nodes", "2", "--ntasks", "3"],
     "--ntasks 3 does not divide evenly over 2 nodes"),
    (["--scheduler", "slurm", "--env", "A-B=1"],
     "--env: 'A-B=1' is not NAME=VALUE"),
    (["--scheduler", "slurm", "--queue", "a\nb"],
     "--queue: 'a\\nb' is not one word"),
    (["--scheduler", "sge"],
     "sge.sh.j2, line 8: the template needs 'pe', which has no value: "
     "give --pe or set pe in the [sge] table"),
    ([], "no scheduler: give --scheduler"),
]


@pytest.mark.parametrize("argv, message", BAD)
def test_bad_requests_exit_2_and_write_nothing(capsys, tmp_path, prog,
                                               argv, message):
    out_file = tmp_path / "job.sh"
    code, out, err = run_cli(capsys, "gen-submit", *argv, "-o", out_file,
                             prog)
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err and out == ""
    assert not out_file.exists()


@pytest.mark.parametrize("scheduler", ["slurm", "pbs", "sge", "lsf"])
@pytest.mark.parametrize("directive", [
    "-l foo=1\ntouch /tmp/INJECTED", "-l foo=1\rtouch x", "-l a\x00b",
    "-l a\x1b[2Jb"])
def test_directive_with_a_control_character_is_refused(
        capsys, tmp_path, prog, scheduler, directive):
    # a newline would end the directives: the rest becomes a command and
    # the scheduler ignores every later directive line
    out_file = tmp_path / "job.sh"
    code, out, err = run_cli(capsys, "gen-submit", "--scheduler", scheduler,
                             "--pe", "mpi", f"--directive={directive}",
                             "-o", out_file, prog)
    assert code == 2, err
    assert f"--directive: {directive!r} holds a newline or another " \
           f"control character" in err, err
    assert "Traceback" not in err and out == ""
    assert not out_file.exists()


def test_site_directive_with_a_newline_names_the_file(capsys, isolated,
                                                      prog):
    write(isolated, """
        [pbs]
        directive = ["-l foo=1\\n#PBS -l bar=2", "-l ok=1"]
    """)
    code, _, err = run_cli(capsys, "gen-submit", "--scheduler", "pbs", prog)
    assert code == 2, err
    assert (f"directive (site file {isolated}): '-l foo=1\\n#PBS -l bar=2' "
            f"holds a newline") in err, err
    # one directive per item is fine, and a tab is a blank
    write(isolated, '[pbs]\ndirective = ["-l foo=1", "-l\\tbar=2"]\n')
    text = generate(capsys, "--scheduler", "pbs", prog)
    assert directives(text)[:2] == ["#PBS -l foo=1", "#PBS -l\tbar=2"]


@pytest.mark.parametrize("option", ["--queue", "--account", "--output",
                                    "--pe"])
def test_one_word_values_refuse_control_characters(capsys, prog, option):
    code, _, err = run_cli(capsys, "gen-submit", "--scheduler", "sge",
                           "--pe", "mpi", f"{option}=a\x1bb", prog)
    assert code == 2, err
    assert f"{option}: 'a\\x1bb' is not one word" in err, err


def test_unwritable_output_file(capsys, prog):
    code, _, err = run_cli(capsys, "gen-submit", "--scheduler", "slurm",
                           "-o", "/no/such/dir/job.sh", prog)
    assert code == 2
    assert ("-o: cannot write /no/such/dir/job.sh (No such file or "
            "directory)") in err, err


def test_request_over_a_queue_limit(capsys, isolated, prog):
    write(isolated, """
        [slurm.queues.debug]
        max_walltime = "00:30:00"
        max_nodes = 2
        max_tasks_per_node = 4
    """)
    base = ["gen-submit", "--scheduler", "slurm", "--queue", "debug"]
    for extra, message in [
            (["--walltime", "01:00:00"],
             "--walltime 01:00:00 is over the queue's limit: max_walltime "
             f"of queue 'debug' (site file {isolated}) = '00:30:00'"),
            (["--nodes", "3"], "--nodes 3 is over the queue's limit: "
                               "max_nodes of queue 'debug'"),
            (["--tasks-per-node", "5"],
             "--tasks-per-node 5 is over the queue's limit")]:
        code, _, err = run_cli(capsys, *base, *extra, prog)
        assert (code, message in err) == (2, True), err
    assert generate(capsys, *base[1:], "--nodes", "2", prog)


def test_bad_configuration_names_file_key_and_value(capsys, isolated, prog,
                                                    monkeypatch):
    for text, message in [
            ('[slurm]\nnodes = "two"\n',
             f"site file {isolated}: [slurm] nodes = 'two': expected a "
             f"whole number"),
            ("[slurm]\nqeue = 'x'\n", "[slurm]: unknown key 'qeue'"),
            ("scheduler = 'moab'\n", "scheduler 'moab' (site file"),
            ("[slurm\n", "not valid TOML")]:
        isolated.write_text(text)
        code, _, err = run_cli(capsys, "gen-submit", prog)
        assert (code, message in err) == (2, True), err
    isolated.write_text("")
    monkeypatch.setenv("SCOOP_HPC_NODES", "many")
    code, _, err = run_cli(capsys, "gen-submit", "--scheduler", "pbs", prog)
    assert "SCOOP_HPC_NODES = 'many': expected a whole number" in err
    monkeypatch.setenv("SCOOP_HPC_SITE_CONFIG", str(isolated) + ".missing")
    code, _, err = run_cli(capsys, "config")
    assert code == 2 and "no such file" in err, err


def test_template_variable_with_no_value(capsys, isolated, tmp_path, prog):
    templates = tmp_path / "templates"
    write(templates / "pbs.sh.j2", "#!/bin/bash\n#PBS -A {{ account }}\n"
                                   "{{ comand }}\n")
    write(isolated, f'template_dir = "{templates}"\n')
    code, _, err = run_cli(capsys, "gen-submit", "--scheduler", "pbs", prog)
    assert code == 2
    assert (f"{templates}/pbs.sh.j2, line 2: the template needs 'account', "
            f"which has no value: give --account") in err, err
    code, _, err = run_cli(capsys, "gen-submit", "--scheduler", "pbs",
                           "--account", "a", prog)
    assert "'comand' is not a variable that templates receive" in err, err


@pytest.mark.parametrize("body, message", [
    ('#SBATCH --nodes={{ nodes + "x" }}\n',
     "line 3: the template failed with TypeError: unsupported operand"),
    ("{{ 1 // 0 }}\n", "line 3: the template failed with ZeroDivisionError"),
    ("{% include 'part.j2' %}\n", "part.j2, line 1: the template failed "
                                   "with TypeError"),
])
def test_template_that_fails_names_file_and_line(capsys, isolated, tmp_path,
                                                 prog, body, message):
    templates = tmp_path / "templates"
    write(templates / "slurm.sh.j2", "#!/bin/bash\n# site\n" + body)
    write(templates / "part.j2", '{{ "x" - 1 }}\n')
    write(isolated, f'template_dir = "{templates}"\n')
    out_file = tmp_path / "job.sh"
    code, out, err = run_cli(capsys, "gen-submit", "--scheduler", "slurm",
                             "-o", out_file, prog)
    assert code == 2, err
    assert f"error: {templates}/" in err and message in err, err
    assert "fix the template" in err, err
    assert "Traceback" not in err and out == ""
    assert not out_file.exists()


@pytest.mark.parametrize("name", ["slurm.sh.j2", "_body.sh.j2"])
def test_template_that_is_not_utf8_names_file_and_line(capsys, isolated,
                                                       tmp_path, prog, name):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / name).write_bytes(b"#!/bin/bash\n# caf\xe9\n")
    write(isolated, f'template_dir = "{templates}"\n')
    out_file = tmp_path / "job.sh"
    code, out, err = run_cli(capsys, "gen-submit", "--scheduler", "slurm",
                             "-o", out_file, prog)
    assert code == 2, err
    assert (f"error: {templates}/{name}, line 2: not UTF-8 text (byte "
            f"0xe9); save the template as UTF-8") in err, err
    assert "Traceback" not in err and out == ""
    assert not out_file.exists()


def test_missing_include_names_the_template_that_includes_it(
        capsys, isolated, tmp_path, prog):
    templates = tmp_path / "templates"
    write(templates / "slurm.sh.j2",
          '#!/bin/bash\n{% include "nosuch.j2" %}\n')
    write(isolated, f'template_dir = "{templates}"\n')
    code, out, err = run_cli(capsys, "gen-submit", "--scheduler", "slurm",
                             prog)
    assert code == 2, err
    assert (f"error: {templates}/slurm.sh.j2, line 2: no template "
            f"'nosuch.j2' in {templates}, ") in err, err
    assert "fix the name, or add the file to template_dir" in err, err
    assert "Traceback" not in err and out == ""


def test_missing_template_dir_names_where_it_was_set(capsys, isolated,
                                                     prog, monkeypatch):
    write(isolated, 'template_dir = "/nonexistent/tpl"\n')
    code, out, err = run_cli(capsys, "gen-submit", "--scheduler", "slurm",
                             prog)
    assert code == 2, err
    assert (f"template_dir (site file {isolated}): '/nonexistent/tpl' is "
            f"not a directory") in err, err
    assert "Traceback" not in err and out == ""
    monkeypatch.setenv("SCOOP_HPC_TEMPLATE_DIR", "/nonexistent/env")
    code, _, err = run_cli(capsys, "gen-submit", "--scheduler", "slurm",
                           prog)
    assert (code, "template_dir (SCOOP_HPC_TEMPLATE_DIR): "
                  "'/nonexistent/env' is not a directory" in err) == (2, True)


def test_template_that_cannot_be_read_names_the_file(capsys, isolated,
                                                     tmp_path, prog,
                                                     monkeypatch):
    templates = tmp_path / "templates"
    write(templates / "slurm.sh.j2", "#!/bin/bash\n")
    write(isolated, f'template_dir = "{templates}"\n')

    def refuse(path, *args, **kwargs):  # chmod 000 does not stop root
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(jinja2.loaders, "open", refuse, raising=False)
    code, out, err = run_cli(capsys, "gen-submit", "--scheduler", "slurm",
                             prog)
    assert code == 2, err
    assert (f"error: {templates}/slurm.sh.j2: cannot read it (Permission "
            f"denied); make it readable") in err, err
    assert "Traceback" not in err and out == ""


# -- submission ------------------------------------------------------------

class Reply:
    def __init__(self, returncode=0, stdout="", stderr=""):
        self.returncode, self.stdout, self.stderr = (returncode, stdout,
                                                     stderr)


@pytest.mark.parametrize("scheduler, reply, job", [
    ("slurm", "Submitted batch job 1234\n", "1234"),
    ("pbs", "5678.pbs-server\n", "5678.pbs-server"),
    ("torque", "91[].torque.example.org\n", "91[].torque.example.org"),
    ("sge", 'Your job 42 ("prog") has been submitted\n', "42"),
    ("lsf", "Job <77> is submitted to queue <normal>.\n", "77"),
])
def test_submit_parses_the_job_id(scheduler, reply, job):
    calls = []

    def fake(command, **kwargs):
        calls.append((command, kwargs["input"]))
        return Reply(stdout=reply)

    assert submit.submit(scheduler, "#!/bin/bash\n", "job.sh",
                         run=fake) == job
    command, stdin = calls[0]
    if scheduler == "lsf":  # bsub reads #BSUB only from its stdin
        assert (command, stdin) == (["bsub"], "#!/bin/bash\n")
    else:
        assert command[-1] == "job.sh" and stdin is None


def test_submit_failure_shows_command_code_and_stderr(capsys, prog,
                                                      tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    write(bin_dir / "sbatch", "#!/bin/sh\necho 'sbatch: error: Invalid "
                              "partition name specified' >&2\nexit 1\n")
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    code, out, err = run_cli(capsys, "gen-submit", "--scheduler", "slurm",
                             "--submit", prog)
    assert code == 1 and out == ""
    assert "sbatch failed with exit code 1" in err, err
    assert "Invalid partition name specified" in err, err


def test_submit_without_the_submit_command_says_where_to_run(
        capsys, prog, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out, err = run_cli(capsys, "gen-submit", "--scheduler", "lsf",
                             "--submit", prog)
    assert code == 1 and out == ""
    assert ("bsub is not on PATH, so the script cannot be submitted from "
            "here: run gen-submit --submit where the lsf commands are") \
        in err, err


def test_unparsable_reply_names_pattern_and_text():
    with pytest.raises(SubmitError, match=r"does not match .*'queued'"):
        submit.submit("sge", "x", run=lambda *a, **k: Reply(stdout="queued"))


def test_console_script_and_help(tmp_path):
    done = subprocess.run([PYTHON, "-m", "scoop_hpc.cli", "--help"],
                          capture_output=True, text=True, timeout=30)
    assert "gen-submit" in done.stdout and "config" in done.stdout
