"""The package's layers: what `spacy.load` needs sits at the bottom and imports
nothing above it; each wing imports only its own modules and the wings below;
no module imports itself back through others."""
import ast
import json
from pathlib import Path

import spacy_lstm_tagger

PACKAGE = Path(spacy_lstm_tagger.__file__).resolve().parent
# Each wing may import from the wings at its own level or below.
LEVELS = {
    "types": 0, "configs": 0, "corpus": 0,
    "pipeline": 1,
    "data": 2,
    "evaluation": 3,
    "training": 4, "tagging": 4,
    "cli": 5, "__main__": 5, "__init__": 1,
}
ABOVE_THE_COMPONENT = ("training", "tagging", "evaluation", "data", "cli")

LOAD_AND_LIST_MODULES = """
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
assert [t.tag_ for t in nlp("The dog ate the apple")] == ["DET", "NN", "V", "DET", "NN"]
print(json.dumps(sorted(sys.modules)))
"""


def package_modules():
    """{dotted module name: its file} for every module of the package."""
    modules = {}
    roots = [(PACKAGE, "spacy_lstm_tagger")]
    roots += [(Path(spacy_lstm_tagger.configs.__file__).parent, "spacy_lstm_tagger.configs")]
    roots += [(Path(spacy_lstm_tagger.corpus.__file__).parent, "spacy_lstm_tagger.corpus")]
    for root, name in roots:
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([name, *parts])] = path
    return modules


def imports_of(name: str, path: Path, is_package: bool):
    """The package's own modules that `name` imports, anywhere in its file."""
    found = set()
    here = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if not node.level and not target.startswith("spacy_lstm_tagger"):
                continue
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("spacy_lstm_tagger"))
    return found


def wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_graph():
    import spacy_lstm_tagger.configs  # noqa: F401
    import spacy_lstm_tagger.corpus  # noqa: F401

    modules = package_modules()
    return {
        name: {m for m in imports_of(name, path, path.name == "__init__.py") if m in modules and m != name}
        for name, path in modules.items()
    }


def test_each_wing_imports_only_its_own_level_and_below():
    wrong = [
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        for target in targets
        if LEVELS[wing(target)] > LEVELS[wing(name)]
    ]
    assert not wrong


def test_no_module_imports_itself_back():
    graph = import_graph()
    cycles = []

    def visit(node, path):
        for target in graph[node]:
            if target == path[0]:
                cycles.append(" -> ".join(path + [target]))
            elif target not in path and len(path) < 12:
                visit(target, path + [target])

    for name in graph:
        visit(name, [name])
    assert not cycles


def test_loading_a_pipeline_imports_only_what_tagging_needs(toy_pipeline, run_python):
    result = run_python("-c", LOAD_AND_LIST_MODULES, toy_pipeline)
    modules = json.loads(result.stdout)
    ours = [m for m in modules if m.startswith("spacy_lstm_tagger.")]
    assert ours and all(m.startswith("spacy_lstm_tagger.pipeline") for m in ours), ours
    assert not [m for m in modules if m.split(".")[0] in ("matplotlib", "ray", "onnx", "onnxruntime")]
    assert not [m for m in ours if wing(m) in ABOVE_THE_COMPONENT]
