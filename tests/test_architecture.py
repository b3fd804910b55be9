"""Imports point one way: each module imports only what the architecture table allows."""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "ecomviz_nb"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
ANY = "*"

# Who may import whom (our modules only; third-party imports are not checked). A key or a
# value ending in ".*" or "_*" stands for every module it matches. The top-level package is
# "__init__"; a subpackage's __init__ is the subpackage's own name ("runs", "sandbox").
ALLOWED: dict[str, tuple[str, ...]] = {
    # the core: errors, wire models, settings, jobs and their ledger
    "_version": (),
    "errors": (),
    "reprs": (),  # how objects show themselves: renderers are named, never imported here
    "wire_rules": ("errors",),
    "wire_requests": ("wire_rules", "errors"),
    "wire_results": ("reprs",),
    "models": ("wire_rules", "wire_requests", "wire_results", "errors", "reprs"),
    "config": ("errors", "wire_rules"),
    "ledger": ("models", "errors"),
    "batch_ledger": ("ledger", "models", "errors"),
    "attribution": ("models", "errors"),
    "polling": ("models", "errors"),
    "webhook_listeners": ("models",),
    "job_base": ("polling", "webhook_listeners", "ledger", "models", "errors", "reprs"),
    "generation_job": ("job_base", "polling", "attribution", "models", "errors"),
    "tryon_job": ("job_base", "polling", "models", "errors"),
    "jobs": (
        "generation_job",
        "tryon_job",
        "job_base",
        "polling",
        "webhook_listeners",
        "ledger",
        "batch_ledger",
        "models",
        "errors",
    ),
    "scheduler": ("jobs", "ledger", "attribution", "models", "errors"),
    "api_call": ("config", "errors"),  # one call without I/O: resend or not, what the answer means
    "client_base": ("api_call", "models", "config", "errors", "ledger", "scheduler", "_version"),
    "client": ("client_base", "api_call", "models", "config", "errors", "jobs", "ledger"),
    "inbox_server": ("config",),  # the inbox's HTTP side: it hands deliveries on, knows no inbox
    "inbox": ("inbox_server", "models", "errors", "config", "jobs"),  # a jobs listener
    "samples": ("config", "errors"),
    # the display side: never the client, jobs or the ledger
    "images": ("config",),
    "htmlkit": ("config",),  # which URLs are a local server, to mask in shown text
    "tiles": ("htmlkit", "images", "models"),
    "display": ("htmlkit", "tiles", "images", "models"),
    "cards": ("htmlkit", "tiles", "images", "models"),
    "comparison": ("htmlkit", "tiles", "images", "models"),
    "report": ("report_*", "htmlkit", "images", "models", "errors"),
    "report_*": ("report_*", "htmlkit", "images", "models", "errors", "config"),
    "export": ("htmlkit", "tiles", "display"),
    # many runs
    "runs": ("runs.*",),
    "runs.*": (
        "runs",
        "runs.*",
        "jobs",
        "client",
        "models",
        "errors",
        "reprs",
        "attribution",
        "ledger",
        "batch_ledger",
        "scheduler",
        "images",
        "htmlkit",
        "tiles",
        "display",
    ),
    # the local server: nothing of ours outside sandbox/ but models and errors
    "sandbox": ("sandbox.*",),
    "sandbox.*": ("sandbox", "sandbox.*", "models", "errors", "_version"),
    # the notebook panels: a leaf that only the package imports
    "widgets": ("widgets.*",),
    "widgets.*": (
        "widgets.*",
        "client",
        "jobs",
        "models",
        "errors",
        "config",
        "images",
        "display",
        "cards",
        "comparison",
        "htmlkit",
        "tiles",
        "runs",
        "runs.*",
        "batch_ledger",
        "local",
        "samples",
    ),
    # entry points
    "local": ("client", "config", "errors", "sandbox", "sandbox.*"),
    "demo": ("config", "errors", "local", "report", "export", "samples", "sandbox.probe"),
    "cli": (ANY,),
    "__init__": (ANY,),
}
DISPLAY_SIDE = (
    "htmlkit",
    "tiles",
    "display",
    "cards",
    "comparison",
    "report",
    "report_*",
    "export",
)
NOT_FOR_DISPLAY = (
    "client",
    "client_base",
    "api_call",
    "jobs",
    "job_base",
    "generation_job",
    "tryon_job",
    "polling",
    "webhook_listeners",
    "ledger",
    "batch_ledger",
    "scheduler",
)
SANDBOX_MAY_USE = ("sandbox", "sandbox.*", "models", "errors", "_version")


@dataclass(frozen=True)
class Import:
    """One import of one of our modules by another."""

    module: str
    """The importer, e.g. ``runs.matrix``."""
    path: str
    """The importer's file, e.g. ``ecomviz_nb/runs/matrix.py``."""
    line: int
    target: str
    """The imported module, e.g. ``htmlkit``."""
    names: tuple[str, ...]
    """The names taken from it (empty for ``import x``)."""
    how: str
    """``import``, ``lazy import`` (inside a function) or ``import_module``."""

    def where(self) -> str:
        names = f" ({', '.join(self.names)})" if self.names else ""
        return f"{self.path}:{self.line}: {self.module} {self.how}s {self.target}{names}"


def module_names(root: Path) -> dict[str, Path]:
    """Every module under ``root`` by its short name (``runs.matrix``; ``__init__`` the top)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts) or "__init__"] = path
    return found


def _full(short: str, package: str) -> str:
    return package if short == "__init__" else f"{package}.{short}"


def _short(full: str, package: str) -> str | None:
    if full == package:
        return "__init__"
    return full[len(package) + 1 :] if full.startswith(package + ".") else None


class _Scanner(ast.NodeVisitor):
    """Finds the imports of one module: top level, inside functions, and import_module()."""

    def __init__(self, module: str, path: Path, root: Path, package: str, known: set[str]) -> None:
        self.module, self.package, self.known = module, package, known
        self.path = path.relative_to(root.parent).as_posix()
        full = _full(module, package)
        self.here = full if path.name == "__init__.py" else full.rpartition(".")[0]
        self.dunder = {"__name__": full, "__package__": self.here}
        self.depth = 0
        self.strings: dict[str, str] = {}  # simple `name = "..."` assignments
        self.found: list[Import] = []

    def _add(self, full: str, line: int, names: tuple[str, ...], how: str | None = None) -> None:
        short = _short(full, self.package)
        if short is not None:
            kind = how or ("lazy import" if self.depth else "import")
            self.found.append(Import(self.module, self.path, line, short, names, kind))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno, ())

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.here.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            source = f"{base}.{node.module}" if node.module else base
        else:
            source = node.module or ""
        by_module: dict[str, list[str]] = {}
        for alias in node.names:
            sub = f"{source}.{alias.name}"
            if _short(sub, self.package) in self.known:  # `from . import display`
                self._add(sub, node.lineno, ())
            else:
                by_module.setdefault(source, []).append(alias.name)
        for source_module, names in by_module.items():
            self._add(source_module, node.lineno, tuple(names))

    def visit_Assign(self, node: ast.Assign) -> None:
        text = self._text(node.value)
        if text is not None and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self.strings[node.targets[0].id] = text
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "import_module" and node.args:
            target = self._text(node.args[0])
            anchor = self._text(node.args[1]) if len(node.args) > 1 else None
            if target is not None and target.startswith(".") and anchor:
                up = len(target) - len(target.lstrip("."))
                parts = anchor.split(".")
                target = ".".join(parts[: len(parts) - up + 1]) + "." + target.lstrip(".")
            if target is not None:
                self._add(target.rstrip("."), node.lineno, (), "import_module")
        self.generic_visit(node)

    def _text(self, node: ast.expr) -> str | None:
        """A string the expression surely holds: a literal, ``__name__``/``__package__``, an
        f-string of those, or a name assigned one of them; else None."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.dunder.get(node.id) or self.strings.get(node.id)
        if isinstance(node, ast.JoinedStr):
            pieces = []
            for value in node.values:
                inner = value.value if isinstance(value, ast.FormattedValue) else value
                text = self._text(inner)
                if text is None:
                    return None
                pieces.append(text)
            return "".join(pieces)
        return None


def scan(root: Path = ROOT, package: str = PACKAGE) -> list[Import]:
    """Every import of one of our modules by another, in file and line order."""
    modules = module_names(root)
    found = []
    for module, path in modules.items():
        scanner = _Scanner(module, path, root, package, set(modules))
        scanner.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found += [i for i in scanner.found if i.target != module]
    return found


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _row(module: str) -> tuple[str, ...] | None:
    if module in ALLOWED:
        return ALLOWED[module]
    return next((v for k, v in ALLOWED.items() if fnmatch.fnmatchcase(module, k)), None)


def _report(what: str, problems: list[str]) -> str:
    return f"{len(problems)} {what}:\n  " + "\n  ".join(problems)


def _private(imp: Import) -> Iterator[str]:
    """Underscore names taken from another module, and private modules of another package."""
    for name in imp.names:
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            yield name
    hidden = [p for p in imp.target.split(".") if p.startswith("_") and p != "__init__"]
    owner = imp.target.rpartition(".")[0]  # the package that holds the private module
    inside = imp.module == owner or imp.module.startswith(f"{owner}.") or owner == ""
    if hidden and not inside:
        yield f"module {imp.target}"


# ---------------------------------------------------------------- the rules


def test_every_module_has_a_row_in_the_table() -> None:
    missing = [name for name in module_names(ROOT) if _row(name) is None]
    assert not missing, _report("modules not in ALLOWED (say what each may import)", missing)


def test_imports_follow_the_table() -> None:
    problems = []
    for imp in scan():
        allowed = _row(imp.module) or ()
        if ANY not in allowed and not _matches(imp.target, allowed):
            may = ", ".join(allowed) or "nothing of ours"
            problems.append(f"{imp.where()}; {imp.module} may import only {may}")
    assert not problems, _report("imports against the architecture table", problems)


def test_display_side_never_imports_client_jobs_or_ledger() -> None:
    problems = [
        imp.where()
        for imp in scan()
        if _matches(imp.module, DISPLAY_SIDE) and _matches(imp.target, NOT_FOR_DISPLAY)
    ]
    assert not problems, _report("display-side imports of client, jobs or ledger", problems)


def test_sandbox_imports_nothing_of_ours_outside_it_but_models_and_errors() -> None:
    problems = [
        imp.where()
        for imp in scan()
        if _matches(imp.module, ("sandbox", "sandbox.*"))
        and not _matches(imp.target, SANDBOX_MAY_USE)
    ]
    assert not problems, _report("sandbox imports from outside sandbox/", problems)


def test_widgets_are_a_leaf_that_only_the_package_imports() -> None:
    problems = [
        imp.where()
        for imp in scan()
        if _matches(imp.target, ("widgets", "widgets.*"))
        and not _matches(imp.module, ("__init__", "widgets", "widgets.*"))
    ]
    assert not problems, _report("imports of widgets outside ecomviz_nb/__init__", problems)


def test_no_module_imports_another_modules_private_names() -> None:
    problems = [f"{imp.where()}: {name}" for imp in scan() for name in _private(imp)]
    assert not problems, _report("imports of private names", problems)


# ---------------------------------------------------------------- the scanner itself


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_the_scanner_sees_lazy_imports_import_module_strings_and_private_names(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {
            "__init__.py": "import importlib\n"
            "def __getattr__(name):\n"
            "    return importlib.import_module('.view', __name__)\n",
            "view.py": "from .core import _hidden, shown\n",
            "core.py": "import importlib\n"
            "def late():\n"
            "    from . import view\n"
            "    name = f'{__package__}.sub.deep'\n"
            "    return importlib.import_module(name)\n",
            "sub/__init__.py": "from ._inner import x\nfrom .. import core\n",
            "sub/_inner.py": "x = 1\n",
            "sub/deep.py": "import pkg.core\nfrom pkg.sub._inner import x\n",
        },
    )
    found = {(i.module, i.line, i.target, i.names, i.how) for i in scan(root, "pkg")}
    assert found == {
        ("__init__", 3, "view", (), "import_module"),
        ("view", 1, "core", ("_hidden", "shown"), "import"),
        ("core", 3, "view", (), "lazy import"),
        ("core", 5, "sub.deep", (), "import_module"),
        ("sub", 1, "sub._inner", ("x",), "import"),
        ("sub", 2, "core", (), "import"),
        ("sub.deep", 1, "core", (), "import"),
        ("sub.deep", 2, "sub._inner", ("x",), "import"),
    }
    private = {(i.module, name) for i in scan(root, "pkg") for name in _private(i)}
    assert private == {("view", "_hidden")}  # sub._inner is private to sub/, which uses it
