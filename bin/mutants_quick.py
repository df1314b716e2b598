"""A quick look at one module's mutants: run the fixture-free tests of some test
files against every mutant, each in a fork of one process (no pytest, no trained pipeline).

    mutmut run "spacy_lstm_tagger.pipeline.featurize*"   # writes mutants/ (stop it once running)
    cd mutants && python ../bin/mutants_quick.py spacy_lstm_tagger.pipeline.featurize ../tests/test_featurize.py

Prints the mutants that no test here notices as it finds them, then a
summary (a mutant that takes over MUTANT_SECONDS, 20 unless set, counts as
killed; MUTANT_ONLY="x_f__mutmut_3,..." reruns only those; MUTANT_PROGRESS=1
prints each mutant as it is done); a pipeline test may still kill them, so
confirm with `mutmut run NAME` and look with `mutmut show NAME`.
"""
import importlib
import importlib.util
import inspect
import os
import re
import signal
import sys
import shutil
import tempfile
import warnings
from pathlib import Path


def fixture_free_tests(files):
    """(name, function, arguments) of each test that needs no fixture but tmp_path."""
    tests = []
    for file in files:
        spec = importlib.util.spec_from_file_location(Path(file).stem, file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, function in vars(module).items():
            if not name.startswith("test_") or not callable(function):
                continue
            marks = getattr(function, "pytestmark", [])
            if any(mark.name == "slow" for mark in marks):
                continue
            cases, given = [{}], []
            for mark in (m for m in marks if m.name == "parametrize"):
                names = [n.strip() for n in mark.args[0].split(",")]
                values = [v.values if type(v).__name__ == "ParameterSet" else v for v in mark.args[1]]  # pytest.param
                values = [v if len(names) > 1 else (v,) for v in values]
                cases = [dict(case, **dict(zip(names, v))) for case in cases for v in values]
                given += names
            if set(inspect.signature(function).parameters) - set(given) - {"tmp_path"}:
                continue
            wants_tmp = "tmp_path" in inspect.signature(function).parameters
            tests += [(f"{module.__name__}::{name}{case or ''}", function, case, wants_tmp) for case in cases]
    return tests


def first_failure(tests):
    for name, function, case, wants_tmp in tests:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                function(**case, **({"tmp_path": Path(tempfile.mkdtemp())} if wants_tmp else {}))
        except KeyboardInterrupt:
            raise
        except BaseException:  # pytest.raises and pytest.fail raise a BaseException
            return name
    return None


def main(module_name, *files):
    report = os.fdopen(os.dup(1), "w")  # a mutant may close sys.stdout
    # Every test's tmp_path in one folder, emptied after each mutant.
    tempfile.tempdir = tempfile.mkdtemp(prefix="mutants_quick-")
    sys.path[:0] = [os.getcwd(), str(Path(files[0]).parent)]  # mutants/ first, then the tests' helpers
    os.environ["MUTANT_UNDER_TEST"] = ""
    module = importlib.import_module(module_name)
    tests = fixture_free_tests(files)
    assert first_failure(tests) is None, "a test fails without any mutant"
    source = Path(module.__file__).read_text()
    mutants = re.findall(r"^\s*def (x\S+?__mutmut_\d+)\(", source, re.M)
    if os.environ.get("MUTANT_ONLY"):  # "name,name": only these (a rerun of the survivors)
        mutants = [m for m in mutants if m in os.environ["MUTANT_ONLY"].split(",")]

    def too_slow(*_):
        raise TimeoutError

    signal.signal(signal.SIGALRM, too_slow)
    seconds = int(os.environ.get("MUTANT_SECONDS", "20"))  # a slower mutant counts as killed
    survivors, crashed, timed_out = [], 0, 0
    for mutant in mutants:
        os.environ["MUTANT_UNDER_TEST"] = f"{module_name}.{mutant}"
        # Each mutant in a child process: one that crashes the interpreter
        # (spaCy segfaults on some broken Docs) or leaves state behind is
        # gone with its child.
        pid = os.fork()
        if pid == 0:
            signal.alarm(seconds)
            try:
                code = 0 if first_failure(tests) is None else 1
            except TimeoutError:
                code = 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        for folder in Path(tempfile.tempdir).iterdir():
            shutil.rmtree(folder, ignore_errors=True)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            survivors.append(mutant)
            # at once, so that a long run stopped halfway still tells
            print(f"survived: {module_name}.{mutant}", file=report, flush=True)
        elif not os.WIFEXITED(status):
            crashed += 1
        elif os.WEXITSTATUS(status) == 2:
            timed_out += 1
        if os.environ.get("MUTANT_PROGRESS"):  # one line per mutant checked
            print(f"{mutants.index(mutant) + 1}/{len(mutants)} {mutant}", file=report, flush=True)
    os.environ["MUTANT_UNDER_TEST"] = ""
    shutil.rmtree(tempfile.tempdir, ignore_errors=True)
    killed = f"{len(mutants) - len(survivors)} killed ({crashed} crashed, {timed_out} timed out)"
    print(f"{len(tests)} tests, {len(mutants)} mutants, {killed}, {len(survivors)} survived", file=report)


if __name__ == "__main__":
    main(*sys.argv[1:])
