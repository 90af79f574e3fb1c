"""Files under 300 lines and functions under 40 in the product packages, by count, not by hope."""

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("api", "models", "workers", "client")
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 40


def product_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def function_lengths(tree: ast.AST) -> Iterator[tuple[str, int, int]]:
    """(qualified name, `def` line, length) of every function and method, nested ones included.

    The length runs from the `def` line (decorators excluded) to the last line, docstring included.
    """

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int, int]]:
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}."
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                assert child.end_lineno is not None
                yield name[:-1], child.lineno, child.end_lineno - child.lineno + 1
            yield from walk(child, name)

    return walk(tree, "")


def offenders(paths: list[Path], root: Path = ROOT) -> list[str]:
    """Every file and function over its bound, with its length."""
    found = []
    for path in paths:
        source = path.read_text()
        where = path.relative_to(root)
        lines = len(source.splitlines())
        if lines > MAX_FILE_LINES:
            found.append(f"{where}: {lines} lines (max {MAX_FILE_LINES})")
        for name, line, length in function_lengths(ast.parse(source)):
            if length > MAX_FUNCTION_LINES:
                found.append(f"{where}:{line} {name}: {length} lines (max {MAX_FUNCTION_LINES})")
    return found


def test_files_and_functions_are_short() -> None:
    found = offenders(product_files())
    assert not found, "over the bounds:\n" + "\n".join(found)


def test_the_checker_counts_from_def_to_the_last_line(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES - 2))
    at_bound = f'@decorator\ndef at_bound():\n    """Doc."""\n{body}\n'
    over = "class A:\n    @property\n    def over(self):\n" + "        pass\n" * MAX_FUNCTION_LINES
    short = tmp_path / "short.py"
    short.write_text(at_bound)
    long = tmp_path / "long.py"
    long.write_text(over + "\n" * (MAX_FILE_LINES - MAX_FUNCTION_LINES))
    assert offenders([short, long], root=tmp_path) == [
        f"long.py: {MAX_FILE_LINES + 3} lines (max {MAX_FILE_LINES})",
        f"long.py:3 A.over: {MAX_FUNCTION_LINES + 1} lines (max {MAX_FUNCTION_LINES})",
    ]
