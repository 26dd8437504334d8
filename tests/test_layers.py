"""The tests are layered like the package: those of model/, formats/ and tools/ need no napari.

A test module under ``tests/model``, ``tests/formats`` or ``tests/tools`` (and every helper
module of ``tests/`` it imports, and the conftest files that apply to it) imports neither
napari, Qt nor the package's napari and Qt layers, and asks for no napari or Qt fixture.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_purity import FORBIDDEN

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
PURE_TEST_FOLDERS = ("model", "formats", "tools", "batch")
#: imports a pure test may not make: napari, Qt and the layers built on them
FORBIDDEN_IMPORTS = (*FORBIDDEN, "pytestqt", "napari_segtool._napari", "napari_segtool._qt")
#: fixtures of napari's and pytest-qt's pytest plugins (each starts a Qt application)
FORBIDDEN_FIXTURES = frozenset(
    {"make_napari_viewer", "make_napari_viewer_proxy", "qapp", "qtbot", "qtlog", "qtmodeltester"}
)


def pure_test_files(tests: Path = TESTS) -> list[Path]:
    return sorted(path for folder in PURE_TEST_FOLDERS for path in (tests / folder).rglob("*.py"))


def module_name(path: Path, tests: Path) -> str:
    parts = path.relative_to(tests.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str, tests: Path) -> Path | None:
    """The file of a module of the ``tests`` package, if ``name`` is one."""
    parts = name.split(".")
    if parts[0] != tests.name:
        return None
    base = tests.parent.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(path: Path, tests: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code, by statement or by name."""
    package = module_name(path, tests).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from tests import helper`` loads the helper module
            found.update(
                f"{base}.{alias.name}"
                for alias in node.names
                if module_file(f"{base}.{alias.name}", tests) is not None
            )
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "importorskip", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def fixtures_requested(path: Path) -> dict[str, set[str]]:
    """Test or fixture name -> the fixtures it asks for (its parameters), in ``path``."""
    requested: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
            node.name.startswith("test")
            or any("fixture" in ast.unparse(d) for d in node.decorator_list)
        ):
            arguments = node.args
            names = {
                a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)
            }
            requested.setdefault(node.name, set()).update(names)
    return requested


def conftests_for(path: Path, tests: Path) -> list[Path]:
    folders = [path.parent, *path.parent.parents]
    return [
        folder / "conftest.py"
        for folder in folders
        if folder.is_relative_to(tests) and (folder / "conftest.py").is_file()
    ]


def files_loaded_by(path: Path, tests: Path) -> dict[Path, list[Path]]:
    """``path``, its conftests and the ``tests`` helpers they import, each with how it got in."""
    routes: dict[Path, list[Path]] = {}
    pending = [(start, [start]) for start in (path, *conftests_for(path, tests))]
    while pending:
        current, route = pending.pop()
        if current in routes:
            continue
        routes[current] = route
        for name in imports_of(current, tests):
            helper = module_file(name, tests)
            if helper is not None and helper not in routes:
                pending.append((helper, [*route, helper]))
    return routes


def is_forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_IMPORTS)


def layer_violations(path: Path, tests: Path = TESTS) -> list[str]:
    """Why ``path`` is not a pure test: each forbidden import or fixture, with its route."""
    routes = files_loaded_by(path, tests)
    conftest_fixtures = {
        name: params
        for conftest in routes
        if conftest.name == "conftest.py"
        for name, params in fixtures_requested(conftest).items()
    }
    # a conftest fixture that asks for a napari fixture is one too
    bad_fixtures = set(FORBIDDEN_FIXTURES)
    while grown := {n for n, p in conftest_fixtures.items() if p & bad_fixtures} - bad_fixtures:
        bad_fixtures |= grown
    problems = []
    for current, route in sorted(routes.items()):
        via = " -> ".join(str(step.relative_to(tests.parent)) for step in route)
        problems += [
            f"{via} imports {name}"
            for name in sorted(imports_of(current, tests))
            if is_forbidden(name)
        ]
        for function, params in sorted(fixtures_requested(current).items()):
            if current.name == "conftest.py" and function in bad_fixtures:
                continue  # reported where a test asks for it
            problems += [
                f"{via}: {function}() asks for the fixture {name}"
                for name in sorted(params & bad_fixtures)
            ]
    return problems


@pytest.mark.parametrize(
    "path", pure_test_files(), ids=lambda p: str(p.relative_to(TESTS)).replace("\\", "/")
)
def test_pure_tests_import_neither_napari_nor_qt(path):
    assert layer_violations(path) == []


def test_pure_test_modules_load_neither_napari_nor_qt():
    """Importing them for real (helpers and the package modules they use) loads no napari."""
    modules = [module_name(path, TESTS) for path in pure_test_files()]
    conftests = {module_name(c, TESTS) for p in pure_test_files() for c in conftests_for(p, TESTS)}
    script = (
        "import importlib, json, sys\n"
        f"for name in {sorted(conftests) + modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = json.loads(out.stdout)
    assert [m for m in loaded if is_forbidden(m)] == []
    assert "tests.formats.test_coco" in loaded


# -- the check itself catches what it should --------------------------------------------------
def _write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def fake_tests(tmp_path) -> Path:
    tests = tmp_path / "tests"
    for folder in ("", *PURE_TEST_FOLDERS):
        _write(tests, f"{folder}/__init__.py".lstrip("/"), "")
    return tests


@pytest.mark.parametrize(
    ("helper", "test", "problem"),
    [
        ("", "import napari\n", "imports napari"),
        ("", "def test_x():\n    from qtpy.QtWidgets import QWidget\n", "imports qtpy.QtWidgets"),
        ("", "from napari_segtool._napari import binding\n", "imports napari_segtool._napari"),
        ("", "import pytest\nqt = pytest.importorskip('PyQt6')\n", "imports PyQt6"),
        ("import superqt\n", "from tests.helper import thing\n", "tests/helper.py imports superqt"),
        ("import magicgui\n", "from ..helper import thing\n", "tests/helper.py imports magicgui"),
        ("import vispy\n", "from tests import helper\n", "tests/helper.py imports vispy"),
        ("", "def test_x(make_napari_viewer):\n    pass\n", "asks for the fixture make_napari"),
        ("", "def test_x(qtbot):\n    pass\n", "asks for the fixture qtbot"),
    ],
)
def test_the_scan_finds_napari_and_qt_in_tests_and_their_helpers(fake_tests, helper, test, problem):
    _write(fake_tests, "helper.py", helper + "thing = 1\n")
    path = _write(fake_tests, "formats/test_fake.py", test)
    violations = layer_violations(path, fake_tests)
    assert len(violations) == 1 and problem in violations[0], violations


def test_the_scan_follows_conftest_fixtures_that_start_a_viewer(fake_tests):
    _write(
        fake_tests,
        "conftest.py",
        "import pytest\n\n@pytest.fixture\ndef viewer(make_napari_viewer):\n    return 1\n",
    )
    path = _write(fake_tests, "model/test_fake.py", "def test_x(viewer):\n    pass\n")
    assert layer_violations(path, fake_tests) == [
        "tests/model/test_fake.py: test_x() asks for the fixture viewer"
    ]
    clean = _write(
        fake_tests, "tools/test_clean.py", "import numpy\n\ndef test_y(tmp_path):\n    pass\n"
    )
    assert layer_violations(clean, fake_tests) == []
