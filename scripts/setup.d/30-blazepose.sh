#!/usr/bin/env bash
# BlazePose weights (official .tflite from registry packages -> PyTorch) and sample media.
set -euo pipefail
cd "${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}"
python -m smplr_core.frontends.blazepose.assets prepare
