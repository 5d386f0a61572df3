"""Every TensorRT API the project uses exists in the published 10.x API, and the ones TensorRT 11
removed are only reached behind a capability check.

The 10.x surface: the ``tensorrt-stubs`` package (requirements/type-stubs.txt; setup.sh puts it
in .venv/type-stubs). The 11.x removals: NVIDIA/TensorRT's strong-typing migration guide
(.agents/skills/trt-strong-typing-migration/SKILL.md, TensorRT 11.1 OSS): BuilderFlag FP16 /
BF16 / INT8, OBEY_ / PREFER_PRECISION_CONSTRAINTS, ILayer.precision, ILayer.set_output_type,
Builder.platform_has_fast_fp16. Cross-checked by hand against the TensorRT 11.1 Python bindings
source (NVIDIA/TensorRT python/src/infer/pyCore.cpp, pyFoundationalTypes.cpp, parsers/pyOnnx.cpp):
none of those names is bound there (nor EXPLICIT_BATCH), and every other name this code uses is.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

from owss_ros.backends.tensorrt_compat import choose_recipe, probe_capabilities

ROOT = Path(__file__).resolve().parents[2]
STUB = ROOT / ".venv" / "type-stubs" / "tensorrt_bindings" / "tensorrt.pyi"
SOURCES = [ROOT / "owss_ros" / "backends" / name for name in
           ("tensorrt_build.py", "tensorrt_backend.py", "tensorrt_compat.py")]
GPU_CHECK = ROOT / "scripts" / "gpu_check.py"

# local names in our code -> the TensorRT class they hold
RECEIVERS = {"builder": "Builder", "config": "IBuilderConfig", "network": "INetworkDefinition",
             "parser": "OnnxParser", "engine": "ICudaEngine", "context": "IExecutionContext",
             "profile": "IOptimizationProfile", "layer": "ILayer", "inspector": "EngineInspector",
             "_runtime": "Runtime", "cache": "ITimingCache", "tensor": "ITensor"}
REMOVED_IN_11 = {("BuilderFlag", "FP16"), ("BuilderFlag", "BF16"), ("BuilderFlag", "INT8"),
                 ("BuilderFlag", "OBEY_PRECISION_CONSTRAINTS"), ("BuilderFlag", "PREFER_PRECISION_CONSTRAINTS"),
                 ("ILayer", "precision"), ("ILayer", "set_output_type"), ("Builder", "platform_has_fast_fp16")}
WEAK_TYPING_FUNCTIONS = {"_apply_weak_fp16", "keep_scoring_in_fp32"}


def _parse_stub(text: str) -> ast.Module:
    """The stub has a few signatures Python rejects (a non-default after a default argument);
    their argument lists are replaced, the names (all this test needs) are kept."""
    lines = text.splitlines()
    for _ in range(100):
        try:
            return ast.parse("\n".join(lines))
        except SyntaxError as error:
            line = lines[error.lineno - 1]
            fixed = re.sub(r"def (\w+)\(.*\)\s*->", r"def \1(*args, **kwargs) ->", line)
            if fixed == line:
                raise
            lines[error.lineno - 1] = fixed
    raise AssertionError("too many unparseable lines in the stub")


def _stub_surface() -> tuple[set[str], dict[str, set[str]]]:
    if not STUB.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{STUB} missing: scripts/setup.sh installs requirements/type-stubs.txt")
        pytest.skip(f"tensorrt-stubs not installed at {STUB} (run scripts/setup.sh)")
    tree = _parse_stub(STUB.read_text())
    module: set[str] = set()
    classes: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            module.add(node.name)
            members = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.ClassDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    members.update(t.id for t in item.targets if isinstance(t, ast.Name))
            classes[node.name] = members
            bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            module.add(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.Assign)):
            module.update([node.name] if isinstance(node, ast.FunctionDef) else
                          [t.id for t in node.targets if isinstance(t, ast.Name)])
    for name in list(classes):  # inherit members from base classes in the stub
        stack = list(bases.get(name, []))
        while stack:
            base = stack.pop()
            classes[name] |= classes.get(base, set())
            stack.extend(bases.get(base, []))
    return module, classes


def _uses(path: Path):
    """(function, kind, owner, attribute, line) for every trt.X, trt.X.Y and receiver.attr."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Attribute):
                value = child.value
                if isinstance(value, ast.Name) and value.id == "trt":
                    found.append((name, "module", None, child.attr, child.lineno))
                elif isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) \
                        and value.value.id == "trt":
                    found.append((name, "member", value.attr, child.attr, child.lineno))
                else:
                    receiver = value.id if isinstance(value, ast.Name) else (
                        value.attr if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                        and value.value.id == "self" else None)
                    if receiver in RECEIVERS:
                        found.append((name, "member", RECEIVERS[receiver], child.attr, child.lineno))
            visit(child, name)

    visit(tree, "<module>")
    return found


def _sources():
    return SOURCES + ([GPU_CHECK] if GPU_CHECK.is_file() else [])


def _missing(paths, module, classes) -> list[str]:
    missing = []
    for path in paths:
        for function, kind, owner, attr, line in _uses(path):
            if kind == "module" and attr not in module and attr != "__version__":
                missing.append(f"{path.name}:{line} trt.{attr}")
            elif kind == "member" and owner in classes and attr not in classes[owner]:
                missing.append(f"{path.name}:{line} {owner}.{attr} (in {function})")
            elif kind == "member" and owner not in classes and owner not in module:
                missing.append(f"{path.name}:{line} trt.{owner}")
    return missing


def test_every_tensorrt_attribute_used_exists_in_the_10x_api():
    module, classes = _stub_surface()
    missing = _missing(_sources(), module, classes)
    assert not missing, "not in tensorrt-stubs 10.13:\n" + "\n".join(missing)


def test_the_check_finds_a_misspelt_or_invented_api(tmp_path):
    module, classes = _stub_surface()
    source = tmp_path / "bad.py"
    source.write_text("def f(trt, config, engine):\n    config.set_flag(trt.BuilderFlag.FP17)\n"
                      "    engine.get_binding_index('x')\n    return trt.int65\n")
    assert sorted(m.split(" ", 1)[1] for m in _missing([source], module, classes)) == [
        "BuilderFlag.FP17 (in f)", "ICudaEngine.get_binding_index (in f)", "trt.int65"]


def test_apis_removed_in_11_are_used_only_on_the_weak_typing_path():
    uses = [(path.name, *use) for path in _sources() for use in _uses(path)]
    removed = [(p, f, o, a, line) for p, f, kind, o, a, line in uses if (o, a) in REMOVED_IN_11]
    assert removed, "the check found none of the weak-typing calls it is meant to guard"
    outside = [f"{p}:{line} {o}.{a} in {f}" for p, f, o, a, line in removed if f not in WEAK_TYPING_FUNCTIONS]
    assert not outside, "TensorRT-11-removed API outside the weak-typing path:\n" + "\n".join(outside)

    # ... and that path is entered only when the recipe says so
    tree = ast.parse((ROOT / "owss_ros" / "backends" / "tensorrt_build.py").read_text())
    callers = {}
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in WEAK_TYPING_FUNCTIONS:
                callers.setdefault(node.func.id, set()).add(function.name)
    assert callers == {"_apply_weak_fp16": {"build_serialized_engine"}, "keep_scoring_in_fp32": {"_apply_weak_fp16"}}
    build = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "build_serialized_engine")
    guarded = [n for n in ast.walk(build) if isinstance(n, ast.If) and ast.unparse(n.test) == "recipe.weak_fp16"
               and any(isinstance(c, ast.Call) and getattr(c.func, "id", "") == "_apply_weak_fp16"
                       for c in ast.walk(n))]
    assert guarded, "_apply_weak_fp16 must be called under `if recipe.weak_fp16:`"


def test_the_real_10x_surface_gives_the_capabilities_the_recipes_assume():
    """probe_capabilities on a module built from the stub's names: what a real 10.13 offers."""
    module, classes = _stub_surface()
    import types

    fake = types.ModuleType("tensorrt")
    fake.__version__ = "10.13.0.35"
    for name in module:
        members = classes.get(name)
        setattr(fake, name, type(name, (), {m: None for m in members}) if members is not None else object())
    caps = probe_capabilities(fake)
    assert caps.has_int64 and caps.has_fp16_flag and caps.has_obey_constraints and caps.has_layer_precision
    assert caps.has_strongly_typed_flag and caps.has_timing_cache and caps.has_engine_inspector
    assert caps.has_detailed_profiling and caps.has_progress_monitor
    assert choose_recipe(caps, "fp16").name == "strong-fp16-body"
    # TensorRT 11 = this surface minus the removals
    for owner, attr in REMOVED_IN_11:
        delattr(getattr(fake, owner), attr)
    fake.__version__ = "11.1.0.1"
    caps11 = probe_capabilities(fake)
    assert not caps11.weak_fp16_available and choose_recipe(caps11, "fp16").name == "strong-fp16-body"
