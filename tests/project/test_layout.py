"""The layout's rules: no import cycles, and only ``service/config.py`` reads the environment."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sampler_space", "workers", "service")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Project modules ``path`` imports, at any depth of its code (deferred imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def package_of(module: str) -> str:
    return module.rpartition(".")[0] if not (ROOT / module.replace(".", "/")).is_dir() else module


def test_no_module_imports_itself_through_others() -> None:
    modules = project_modules()
    graph = {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}
    # A package's __init__ re-exports its modules: an edge into a package is an edge to what it re-exports.
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if target in stack and not _is_package_reexport(stack[stack.index(target):] + [target]):
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif state.get(target) is None:
                visit(target, [*stack, target])
        state[node] = 2

    for module in sorted(graph):
        if state.get(module) is None:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _is_package_reexport(cycle: list[str]) -> bool:
    """A package importing its own submodules, which import siblings through the package, is no cycle
    of modules: ``a.b -> a -> a.b`` where ``a`` is ``a.b``'s own package."""
    return any(cycle[i + 1] == package_of(cycle[i]) and cycle[i].startswith(cycle[i + 1] + ".")
               for i in range(len(cycle) - 1))


def test_only_the_service_config_reads_samplersearch_variables() -> None:
    pattern = re.compile(r"SAMPLERSEARCH_")
    offenders = []
    for package in ("sampler_space", "workers"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                          if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                          and node.body and isinstance(node.body[0], ast.Expr)
                          and isinstance(node.body[0].value, ast.Constant)}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                        and pattern.search(node.value)):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_workers_and_sampler_space_never_read_the_environment() -> None:
    for package in ("sampler_space", "workers"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            assert "os.environ" not in text and "getenv" not in text, path


def test_the_readme_job_body_is_the_specs_defaults() -> None:
    import json

    from service.spec import JobSpec

    text = (ROOT / "README.md").read_text()
    body = re.search(r'`(\{"kind": "search".*?\})`\.', text).group(1)
    documented = json.loads(body.replace('"name": ...', '"name": "digits"'))
    assert documented == JobSpec.model_validate({"task": {"name": "digits"}}).model_dump()
