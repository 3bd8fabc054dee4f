#!/usr/bin/env bash
# smplr setup: idempotent, fast when already done. Creates .venv, installs requirements.txt,
# builds the package's messages with rosidl + cmake into the venv, installs smplr_core, then runs
# every scripts/setup.d/*.sh step (model files, sample media) in name order.
#   scripts/setup.sh            set everything up
#   SMPLR_PYTHON=python3.11     interpreter to build the venv from (default: python3.11)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO
VENV="$REPO/.venv"
LOG_DIR="$REPO/.work/setup"
mkdir -p "$LOG_DIR"
START=$(date +%s)

step() { echo "[setup] $*"; }
fail() {  # fail STEP LOG HINT
  echo "[setup] FAILED at step '$1'. Log: $2" >&2
  [ -f "$2" ] && tail -n 25 "$2" >&2
  echo "[setup] What to do: $3" >&2
  exit 1
}

# 1. Python + venv --------------------------------------------------------------------------------
PY="${SMPLR_PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || fail "python" /dev/null \
  "install Python 3.11 (Debian: apt-get install python3.11 python3.11-venv) or set SMPLR_PYTHON"
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV"
  "$PY" -m venv "$VENV" > "$LOG_DIR/venv.log" 2>&1 || fail "venv" "$LOG_DIR/venv.log" \
    "install the venv module (Debian: apt-get install python3.11-venv)"
fi
export PATH="$VENV/bin:$PATH"

# 2. Python packages (pinned in requirements.txt) --------------------------------------------------
REQ_HASH=$( (cat "$REPO/requirements.txt"; cat "$REPO/pyproject.toml") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.smplr-requirements" 2>/dev/null)" != "$REQ_HASH" ]; then
  step "installing Python packages from requirements.txt (first time: about a minute)"
  # setuptools below 80: colcon-core 0.21 (requirements.txt) requires it.
  { python -m pip install --upgrade pip wheel "setuptools>=70,<80" &&
    python -m pip install -r "$REPO/requirements.txt" &&
    python -m pip install --no-deps --no-build-isolation -e "$REPO"; } > "$LOG_DIR/pip.log" 2>&1 ||
    fail "pip install" "$LOG_DIR/pip.log" \
      "check the network access to PyPI, then re-run scripts/setup.sh (it resumes)"
  echo "$REQ_HASH" > "$VENV/.smplr-requirements"
else
  step "Python packages up to date"
fi

# 3. Messages: rosidl + plain cmake into the venv prefix (DESIGN §3.1) ----------------------------
export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
PY_INCLUDE=$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
NP_INCLUDE=$(python -c 'import numpy; print(numpy.get_include())')
# The ROS wheels' exported cmake targets hard-code the build machine's Python and numpy include
# directories; point them at this interpreter's.
BAD_FILES=$(grep -rlE '/opt/python/cp311-cp311/(include/python3\.11|lib/python3\.11/site-packages/numpy/_core/include)' "$VENV/share" 2>/dev/null || true)
if [ -n "$BAD_FILES" ]; then
  step "fixing hard-coded include paths in $(echo "$BAD_FILES" | wc -l) ROS cmake files"
  echo "$BAD_FILES" | xargs sed -i \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$NP_INCLUDE#g" \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$PY_INCLUDE#g"
fi
step "building messages (msg/) and installing the ROS package into .venv"
{ cmake -S "$REPO" -B "$REPO/build" -DCMAKE_INSTALL_PREFIX="$VENV" \
    -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF -DSMPLR_INSTALL_CORE=OFF &&
  cmake --build "$REPO/build" -j2 &&
  cmake --install "$REPO/build"; } > "$LOG_DIR/cmake.log" 2>&1 ||
  fail "cmake messages" "$LOG_DIR/cmake.log" \
    "delete $REPO/build and re-run; if the error names a missing package, re-run after 'rm $VENV/.smplr-requirements'"

# 4. Project steps: model files, sample media ------------------------------------------------------
for s in "$REPO"/scripts/setup.d/*.sh; do
  [ -e "$s" ] || continue
  name=$(basename "$s" .sh)
  step "$name"
  bash "$s" > "$LOG_DIR/$name.log" 2>&1 || fail "$name" "$LOG_DIR/$name.log" \
    "read the log above; the step is safe to re-run: scripts/setup.sh"
done

step "done in $(( $(date +%s) - START )) s. Python: $VENV/bin/python"
