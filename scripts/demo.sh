#!/usr/bin/env bash
# The main job: sets up (scripts/setup.sh, idempotent), then the sample video of a person walking goes through the
# whole ROS 2 graph, each node its own process over DDS (loopback only):
#   video_source (the video as a camera) -> reconstruct (front-end -> DAE -> SMPLR -> body model)
#   -> recorder (mesh + skeleton over each frame + 3D side view: MP4 and contact sheet PNG).
# The graph comes from launch/reconstruct.launch.py, started by the project's runner because the
# ROS 2 launch package is not installable from PyPI; on a ROS 2 distro the same graph is
#   ros2 launch smplr_ros reconstruct.launch.py video:=<file> record:=out/demo
#
#   scripts/demo.sh [VIDEO_OR_FOLDER] [launch arguments, e.g. rate:=10.0 frontend_model:=lite]
# Output: out/demo/demo.mp4, out/demo/contact_sheet.png (or $SMPLR_DEMO_OUT).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/setup.sh"
PY="$REPO/.venv/bin/python"
VIDEO="${1:-$REPO/.work/assets/media/sports2d_demo.mp4}"
[ $# -gt 0 ] && shift
if [ ! -e "$VIDEO" ]; then
  echo "[demo] input not found: $VIDEO (the sample video is prepared by scripts/setup.sh)" >&2
  exit 1
fi
OUT="${SMPLR_DEMO_OUT:-$REPO/out/demo}"
mkdir -p "$OUT"
rm -f "$OUT/demo.mp4" "$OUT/contact_sheet.png"

echo "[demo] $VIDEO -> video_source -> reconstruct -> recorder (separate processes over DDS)"
cd "$REPO"
"$PY" -m smplr_ros.launch_graph launch/reconstruct.launch.py \
  video:="$VIDEO" width:=640 record:="$OUT" "$@"

echo "[demo] outputs:"
status=0
for f in "$OUT/demo.mp4" "$OUT/contact_sheet.png"; do
  if [ -s "$f" ]; then
    echo "  $f ($(du -h "$f" | cut -f1))"
  else
    echo "  MISSING: $f" >&2
    status=1
  fi
done
exit $status
