"""The structure of the code, read from the ``ast`` of every module of our packages.

* no import circle between our modules (lazy, in-function imports included: a circle is a
  structural defect even when it does not break at import time);
* the stage rules of docs/DESIGN.md: ``common/`` imports nothing of ours; data flows one
  way (preprocess -> runtime -> postprocess, models -> converter -> runtime), so no stage
  imports a stage after it, and ``runtime/`` does not import ``converter/`` (engines run
  without the converter's torch/onnxsim/nncf); only ``models/`` and ``converter/`` import torch
  at module level (everywhere else it is lazy);
* modules stay under :data:`MAX_LINES` lines, except the short :data:`LONG_MODULES` allow-list,
  each entry with its reason;
* every ``tests/<pkg>/test_X.py`` is named after the module or subpackage ``X`` of ``<pkg>`` it
  tests (issue 10), or is a topic across modules in :data:`TEST_TOPICS`, with its reason.

The checker itself is tested on a small synthetic tree, so these checks can fail.
"""
from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "models", "converter", "runtime", "preprocess", "postprocess", "pipeline",
            "bench")
MAX_LINES = 300
#: the one top-level import name the folders install under (pyproject.toml, package-dir)
TOP = "crnn_deploy"

#: package -> {package it must not import: why} (lazy imports included)
FORBIDDEN: dict[str, dict[str, str]] = {
    "common": {p: "common/ is shared by every stage and imports none of ours"
               for p in PACKAGES if p != "common"},
    "models": {p: "models/ is the root of the model side (models -> converter -> runtime)"
               for p in PACKAGES if p not in ("common", "models")},
    "preprocess": {p: "data flows preprocess -> runtime -> postprocess: preprocess is first"
                   for p in ("runtime", "postprocess", "converter", "pipeline", "bench")},
    "runtime": {"converter": "engines run without the converter (torch, onnxsim, nncf)",
                "postprocess": "data flows runtime -> postprocess, through the result files",
                "pipeline": "pipeline/ is built on the stages", "bench": "bench/ is built on the stages"},
    "postprocess": {p: "postprocess is the last stage; it reads result files"
                    for p in ("converter", "pipeline", "bench")},
    "converter": {"pipeline": "pipeline/ is built on the stages", "bench": "bench/ is built on the stages"},
    "pipeline": {"bench": "bench/ is built on pipeline/"},
}

#: packages whose modules may import torch at module level (docs/DESIGN.md, "Layout")
TORCH_AT_MODULE_LEVEL = ("models", "converter")

#: modules allowed above MAX_LINES, and why (keep it short; remove entries when split)
LONG_MODULES: dict[str, str] = {
}

#: test files of tests/<pkg>/ named after a topic across modules rather than one module, and why
TEST_TOPICS: dict[str, str] = {
    "tests/models/test_nano_ocr_37.py": "the derived nano-ocr-37 spec end to end (specs.DERIVED, "
                                        "arch, checkpoint, export) on the real weights",
    "tests/runtime/test_backend_contract.py": "the Backend contract (base.py) held by every "
                                              "registered backend module",
    "tests/runtime/test_backends.py": "every backend module on the real engines and IIIT5K inputs",
    "tests/runtime/test_cli_safety.py": "the output rules (issue 11) of crnn-infer, "
                                        "crnn-postprocess and crnn-eval together",
    "tests/runtime/test_page_models.py": "detector and classifier engines through the runtime "
                                         "(registry, base, engine_spec, ORT and OpenVINO backends)",
    "tests/runtime/test_errors.py": "the one-line user errors of crnn-infer (cli, registry, "
                                    "engine_spec, runner)",
    "tests/preprocess/test_real_data.py": "build-lmdb and lmdb-to-bin on the real evaluation sets",
    "tests/preprocess/test_safety.py": "the output rules (issue 11) of both crnn-preprocess "
                                       "subcommands",
    "tests/pipeline/test_recognize.py": "crnn-recognize (recognize_cli) with the Recognizer API "
                                        "(recognizer)",
    "tests/pipeline/test_ppocrv4.py": "PP-OCRv4 imported with the ppocrv4-rec preset against "
                                      "RapidOCR's TextRecognizer, and the same texts on every path",
    "tests/pipeline/test_unlabeled.py": "unlabeled data through every stage (docs/DESIGN.md, "
                                        "Predictions)",
    "tests/pipeline/test_pages_oracle.py": "whole pages (pipeline.pages with the detector, classifier "
                                           "and recognizer engines) against RapidOCR's full pipeline",
    "tests/pipeline/test_second_pass_paths.py": "english_g2's second pass with the same "
                                                "readings on every path (local, Ray, staged)",
}



@dataclass(frozen=True)
class Import:
    """``importer`` imports ``target`` (a module of ours, or a top-level third-party name)."""

    importer: str
    target: str
    line: int
    lazy: bool  # inside a function: runs only when called

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} -> {self.target}{' (lazy)' if self.lazy else ''}"


def find_modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under the ``packages`` folders of ``root``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def read_imports(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The imports of module ``name``: ours resolved to the deepest module that exists (``from
    pkg import sub`` -> ``pkg.sub``), others as their top-level name. ``if TYPE_CHECKING:``
    blocks are skipped; class bodies count as module level."""
    found: list[Import] = []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def ours(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def add(dotted: str, line: int, lazy: bool) -> None:
        dotted = dotted.removeprefix(f"{TOP}.")  # installed as crnn_deploy.<folder> (pyproject)
        top = dotted.split(".")[0]
        target = ours(dotted) if top in {m.split(".")[0] for m in modules} else top
        if target and target != name:
            found.append(Import(name, target, line, lazy))

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, child.lineno, lazy)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[:len(parts) - (child.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    add(sub if sub in modules else base, child.lineno, lazy)
            visit(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                    ast.Lambda)))

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False)
    return found


def import_graph(root: Path, packages=PACKAGES) -> tuple[dict[str, Path], list[Import]]:
    modules = find_modules(root, packages)
    return modules, [i for name, path in modules.items() for i in read_imports(name, path, modules)]


def find_cycles(modules, imports: list[Import]) -> list[frozenset[str]]:
    """The strongly connected components of our import graph that hold a circle (Tarjan)."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for i in imports:
        if i.target in modules:
            edges[i.importer].add(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[frozenset[str]] = []

    def connect(v: str) -> None:  # recursion depth <= number of modules (~100)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                cycles.append(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return cycles


def stage_violations(imports: list[Import]) -> list[str]:
    """Imports breaking :data:`FORBIDDEN` or :data:`TORCH_AT_MODULE_LEVEL`, one line each."""
    bad = []
    for i in imports:
        src, dst = i.importer.split(".")[0], i.target.split(".")[0]
        why = FORBIDDEN.get(src, {}).get(dst)
        if why:
            bad.append(f"{i}: {src}/ must not import {dst}/ ({why})")
        if dst == "torch" and not i.lazy and src not in TORCH_AT_MODULE_LEVEL:
            bad.append(f"{i}: torch at module level outside {', '.join(TORCH_AT_MODULE_LEVEL)} "
                       "(import it inside the function that needs it)")
    return bad


def long_modules(root: Path, modules: dict[str, Path]) -> dict[str, int]:
    """``{relative path: line count}`` of the modules over :data:`MAX_LINES` lines."""
    counts = {p.relative_to(root).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
              for p in modules.values()}
    return {p: n for p, n in sorted(counts.items()) if n > MAX_LINES}


def misnamed_tests(root: Path, packages=PACKAGES) -> list[str]:
    """``tests/<pkg>/test_X.py`` files (relative paths) where ``X`` is neither a module
    ``<pkg>/X.py`` nor a subpackage ``<pkg>/X/`` of ``root``."""
    bad = []
    for package in packages:
        for path in sorted((root / "tests" / package).glob("test_*.py")):
            name = path.stem.removeprefix("test_")
            if not ((root / package / f"{name}.py").is_file()
                    or (root / package / name / "__init__.py").is_file()):
                bad.append(path.relative_to(root).as_posix())
    return bad


# -- the checks on this tree -----------------------------------------------------------------
@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT)


def test_the_tree_is_found(graph):
    modules, imports = graph
    assert {"common.errors", "runtime.base", "models.specs", "postprocess.ctc"} <= modules.keys()
    edges = {(i.importer, i.target, i.lazy) for i in imports}
    assert ("runtime.base", "common.errors", False) in edges  # known edges: module level ...
    assert ("converter.common", "runtime.engine_spec", True) in edges  # ... and lazy


def test_no_import_cycle(graph):
    cycles = find_cycles(*graph)
    edges = [str(i) for i in graph[1] if any({i.importer, i.target} <= c for c in cycles)]
    assert not cycles, f"import circles: {[sorted(c) for c in cycles]}; edges: {edges}"


def test_stage_rules(graph):
    bad = stage_violations(graph[1])
    assert not bad, "stage rules of docs/DESIGN.md broken:\n" + "\n".join(bad)


def test_module_size(graph):
    over = long_modules(ROOT, graph[0])
    report = "\n".join(f"{p}: {n} lines" + (f" (allowed: {LONG_MODULES[p]})" if p in LONG_MODULES
                                            else "") for p, n in over.items())
    unexpected = [p for p in over if p not in LONG_MODULES]
    assert not unexpected, f"modules over {MAX_LINES} lines (split them):\n{report}"
    stale = sorted(set(LONG_MODULES) - set(over))
    if stale:
        warnings.warn(f"LONG_MODULES entries no longer needed: {stale}", stacklevel=1)


def test_test_files_are_named_after_their_module():
    bad = misnamed_tests(ROOT)
    unexpected = [p for p in bad if p not in TEST_TOPICS]
    assert not unexpected, ("test files not named after a module of their package (rename to "
                            "test_<module>.py, or add the topic to TEST_TOPICS with a reason):\n"
                            + "\n".join(unexpected))
    stale = sorted(set(TEST_TOPICS) - set(bad))
    if stale:
        warnings.warn(f"TEST_TOPICS entries no longer needed: {stale}", stacklevel=1)


# -- the checker on a synthetic tree ---------------------------------------------------------
def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker_finds_circles_lazy_ones_included(tmp_path):
    root = _tree(tmp_path, {
        "common/__init__.py": "",
        "runtime/__init__.py": "",
        "runtime/a.py": "from runtime import b\n",
        "runtime/b.py": "def f():\n    from . import c\n",
        "runtime/c.py": "import runtime.a\n",
        "runtime/d.py": "from runtime.a import something\n",
    })
    modules, imports = import_graph(root)
    assert find_cycles(modules, imports) == [frozenset({"runtime.a", "runtime.b", "runtime.c"})]
    assert Import("runtime.b", "runtime.c", 2, True) in imports


def test_checker_finds_stage_violations(tmp_path):
    root = _tree(tmp_path, {
        "common/__init__.py": "from runtime.base import Backend\n",
        "runtime/__init__.py": "",
        "runtime/base.py": ("from typing import TYPE_CHECKING\nimport numpy\nimport torch.nn\n"
                            "if TYPE_CHECKING:\n    from converter import x\n"
                            "def f():\n    import torch\n    from converter.build import y\n"),
        "converter/__init__.py": "",
        "converter/build.py": "import torch\n",
        "models/__init__.py": "class M:\n    from torch import nn\n",
    })
    bad = stage_violations(import_graph(root)[1])
    assert bad == [
        "common:1 -> runtime.base: common/ must not import runtime/ "
        "(common/ is shared by every stage and imports none of ours)",
        "runtime.base:3 -> torch: torch at module level outside models, converter "
        "(import it inside the function that needs it)",
        "runtime.base:8 -> converter.build (lazy): runtime/ must not import converter/ "
        "(engines run without the converter (torch, onnxsim, nncf))",
    ]


def test_checker_reports_long_modules(tmp_path):
    root = _tree(tmp_path, {"common/__init__.py": "", "common/big.py": "x = 1\n" * (MAX_LINES + 1),
                            "common/ok.py": "x = 1\n" * MAX_LINES})
    assert long_modules(root, find_modules(root)) == {"common/big.py": MAX_LINES + 1}


def test_checker_reports_misnamed_tests(tmp_path):
    root = _tree(tmp_path, {"postprocess/__init__.py": "", "postprocess/ctc.py": "",
                            "converter/int8/__init__.py": "", "tests/postprocess/test_ctc.py": "",
                            "tests/postprocess/test_pp_ctc.py": "", "tests/postprocess/conftest.py": "",
                            "tests/converter/test_int8.py": "", "tests/converter/test_outputs.py": ""})
    assert misnamed_tests(root) == ["tests/converter/test_outputs.py",
                                    "tests/postprocess/test_pp_ctc.py"]


def test_every_folder_is_installed_under_the_one_import_name():
    """pyproject.toml lists each package explicitly (package-dir mapping): a new subpackage that is
    not listed would work in the editable install and be missing from a wheel."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    conf = project["tool"]["setuptools"]
    expected = {TOP} | {f"{TOP}." + ".".join(p.parent.relative_to(ROOT).parts)
                        for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")}
    assert set(conf["packages"]) == expected
    assert conf["package-dir"] == {TOP: TOP, **{f"{TOP}.{p}": p for p in PACKAGES}}
    assert all(s.startswith(f"{TOP}.") for s in project["project"]["scripts"].values())


def test_checker_reads_the_installed_name(tmp_path):
    root = _tree(tmp_path, {"common/__init__.py": "", "runtime/__init__.py": "",
                            "runtime/a.py": f"from {TOP}.common import x\nimport {TOP}.runtime.b\n",
                            "runtime/b.py": ""})
    assert {(i.importer, i.target) for i in import_graph(root)[1]} == {
        ("runtime.a", "common"), ("runtime.a", "runtime.b")}
