"""package.xml declares every dependency that the installed code imports (see package_deps.py)."""
import package_deps
from package_deps import (MODULE_KEYS, PYPI_ONLY, REPO, declared_keys, imported_modules,
                          installed_sources, missing_dependencies)


def test_every_imported_module_is_declared():
    assert missing_dependencies() == []


def test_the_scan_covers_the_executables_and_imports_inside_functions():
    assert REPO / "scripts" / "nodes" / "reconstruct" in installed_sources()
    modules = imported_modules(installed_sources())
    # imported inside functions only: the launch file's distro path, the node's parameter types
    for module in ("launch_ros", "rcl_interfaces", "builtin_interfaces", "ament_index_python"):
        assert module in modules, module


def test_an_undeclared_import_is_reported(tmp_path, monkeypatch):
    extra = tmp_path / "extra.py"
    extra.write_text("def f():\n    import tf2_ros\n    import cv2\n")
    sources = installed_sources()
    monkeypatch.setattr(package_deps, "installed_sources", lambda: sources + [extra])
    missing = package_deps.missing_dependencies()
    assert missing == [f"tf2_ros (no package.xml key known) in {extra}"]


def test_no_declared_key_is_left_unused():
    """A package.xml key that nothing imports is stale (build tools, message generation and the
    test dependencies excepted)."""
    used = {MODULE_KEYS[m] for m in imported_modules(installed_sources()) if m in MODULE_KEYS}
    tools = {"ament_cmake", "ament_cmake_python", "ament_cmake_pytest", "rosidl_default_generators",
             "rosidl_default_runtime", "python3-pytest", "python3-yaml"}
    assert declared_keys() - used - tools == set()
    assert all(k[0] == PYPI_ONLY for k in MODULE_KEYS.values() if isinstance(k, tuple))
