"""BlazePose model files and sample media: fetched from registry packages at setup, checked, converted.

``python -m smplr_core.frontends.blazepose.assets prepare`` (run by ``scripts/setup.d/30-blazepose.sh``);
``... assets models`` does steps 1-2 only: the installed executable ``prepare_blazepose`` runs it
to write the networks into an installed package's share directory (``smplr_core.locate``).

1. takes the official ``.tflite`` files (Apache-2.0) out of the ``mediapipe==0.10.21`` wheel
   (detector, full landmark network) and the npm package ``@mediapipe/pose`` (lite, heavy),
   without installing either, and checks their SHA-256;
2. converts each once into a PyTorch file ``<name>.pt`` (plain-data graph + state dict);
3. puts the sample media used by tests, benchmarks and the demo into ``.work/assets/media/``:
   ``messi5.jpg`` and ``vtest.avi`` from Debian's ``opencv-doc`` and ``sports2d_demo.mp4`` from
   the ``sports2d==0.8.34`` wheel.

Every step is skipped when its output exists with the expected hash, so a second run is fast.
Nothing here runs at inference time except :func:`load_converted`.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from smplr_core.locate import assets_root, prepare_command

MEDIAPIPE_WHEEL = "mediapipe==0.10.21"
NPM_POSE = "@mediapipe/pose@0.5.1675469404"
SPORTS2D_WHEEL = "sports2d==0.8.34"
DEBIAN_MEDIA_PACKAGE = "opencv-doc"
CONVERTED_FORMAT = 1  # bump when the converted file layout changes


@dataclass(frozen=True)
class ModelFile:
    name: str  # detector | lite | full | heavy
    filename: str
    sha256: str
    source: str  # "wheel" or "npm"
    member: str  # path inside the archive
    required: bool  # setup fails without it


MODEL_FILES = (
    ModelFile("detector", "pose_detection.tflite",
              "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
              "wheel", "mediapipe/modules/pose_detection/pose_detection.tflite", True),
    ModelFile("full", "pose_landmark_full.tflite",
              "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
              "wheel", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite", True),
    ModelFile("lite", "pose_landmark_lite.tflite",
              "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61",
              "npm", "package/pose_landmark_lite.tflite", False),
    ModelFile("heavy", "pose_landmark_heavy.tflite",
              "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe",
              "npm", "package/pose_landmark_heavy.tflite", False),
)
MODELS = {m.name: m for m in MODEL_FILES}


@dataclass(frozen=True)
class MediaFile:
    filename: str
    sha256: str
    source: str  # "deb" or "sports2d"
    member: str


MEDIA_FILES = (
    MediaFile("messi5.jpg", "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9",
              "deb", "usr/share/doc/opencv-doc/examples/data/messi5.jpg"),
    MediaFile("vtest.avi", "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
              "deb", "usr/share/doc/opencv-doc/examples/data/vtest.avi"),
    MediaFile("sports2d_demo.mp4", "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
              "sports2d", "Sports2D/Demo/demo.mp4"),
)


class SetupStepError(RuntimeError):
    """A setup step failed; the message names the step and what to do."""


def model_dir() -> Path:
    return assets_root() / "blazepose"


def media_dir() -> Path:
    return assets_root() / "media"


def media_path(filename: str) -> Path:
    """Path of a sample media file; raises FileNotFoundError with the fix when it is missing."""
    path = media_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(f"sample media file {path} is missing: run scripts/setup.sh "
                                "(step 30-blazepose prepares it)")
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _has(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_of(path) == sha256


def _run(step: str, cmd: list[str], cwd: Path, fix: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupStepError(f"[{step}] `{' '.join(cmd)}` could not run ({exc}). {fix}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise SetupStepError(f"[{step}] `{' '.join(cmd)}` failed:\n  " + "\n  ".join(tail) + f"\n{fix}")


def _pip_download(step: str, requirement: str, dest: Path) -> Path:
    _run(step, [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", requirement,
                "-d", str(dest)], dest, f"Check that PyPI is reachable, then rerun {prepare_command()}.")
    name = requirement.split("==")[0].replace("-", "_")
    found = sorted(glob.glob(str(dest / f"{name}-*.whl")))
    if not found:
        raise SetupStepError(f"[{step}] pip did not leave a wheel for {requirement} in {dest}")
    return Path(found[-1])


def _install_checked(step: str, data: bytes, target: Path, sha256: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise SetupStepError(f"[{step}] {target.name}: SHA-256 {digest} does not match the "
                             f"recorded {sha256}; the registry package changed. Delete "
                             f"{target.parent} and rerun {prepare_command()}, or report the new hash.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(target)


def _extract_from_wheel(step: str, requirement: str, files: list, out: Path, work: Path) -> None:
    """Download the wheel ``requirement`` (no install) and extract ``files`` (each with
    ``member``, ``filename``, ``sha256``) into ``out``, hashes checked."""
    wheel = _pip_download(step, requirement, work)
    with zipfile.ZipFile(wheel) as zf:
        for f in files:
            _install_checked("extract " + f.filename, zf.read(f.member), out / f.filename, f.sha256)


def fetch_models(work: Path) -> None:
    """Step 1: official .tflite files into ``model_dir()``, hashes checked."""
    out = model_dir()
    wheel_needed = [m for m in MODEL_FILES if m.source == "wheel" and not _has(out / m.filename, m.sha256)]
    if wheel_needed:
        _extract_from_wheel("fetch mediapipe wheel", MEDIAPIPE_WHEEL, wheel_needed, out, work)
    npm_needed = [m for m in MODEL_FILES if m.source == "npm" and not _has(out / m.filename, m.sha256)]
    if npm_needed:
        if shutil.which("npm") is None:
            print(f"[fetch @mediapipe/pose] npm not found: skipping optional models "
                  f"{[m.name for m in npm_needed]} (install npm and rerun {prepare_command()} for them)")
            return
        _run("fetch @mediapipe/pose", ["npm", "pack", "--silent", NPM_POSE], work,
             f"Check that the npm registry is reachable, then rerun {prepare_command()}.")
        tgz = sorted(work.glob("mediapipe-pose-*.tgz"))
        if not tgz:
            raise SetupStepError("[fetch @mediapipe/pose] npm pack left no tarball")
        with tarfile.open(tgz[-1]) as tf:
            for m in npm_needed:
                member = tf.extractfile(m.member)
                if member is None:
                    raise SetupStepError(f"[extract {m.filename}] missing from {tgz[-1].name}")
                _install_checked("extract " + m.filename, member.read(), out / m.filename, m.sha256)


def converted_path(name: str) -> Path:
    return model_dir() / f"{name}.pt"


def convert_models() -> None:
    """Step 2: each available .tflite -> ``<name>.pt`` (skipped when up to date)."""
    from smplr_core.frontends.blazepose.convert import read_tflite

    for m in MODEL_FILES:
        src = model_dir() / m.filename
        if not src.is_file():
            continue
        dst = converted_path(m.name)
        if dst.is_file():
            try:
                meta = torch.load(dst, map_location="cpu", weights_only=True)
                if meta.get("source_sha256") == m.sha256 and meta.get("format") == CONVERTED_FORMAT:
                    continue
            except Exception:  # unreadable: convert again
                pass
        try:
            graph, state = read_tflite(str(src))
        except ImportError as exc:
            raise SetupStepError(f"[convert {m.filename}] needs ai-edge-litert ({exc}); install "
                                 "requirements.txt (scripts/setup.sh does) or, for an installed "
                                 "package, `pip install ai-edge-litert==2.3.0`, and rerun.") from exc
        tmp = dst.with_suffix(".pt.part")
        torch.save({"format": CONVERTED_FORMAT, "name": m.name, "source": m.filename,
                    "source_sha256": m.sha256, "graph": graph, "state_dict": state}, tmp)
        tmp.replace(dst)
        print(f"[convert] {m.filename} -> {dst.name}")


def fetch_media(work: Path) -> None:
    """Step 3: messi5.jpg, vtest.avi (Debian opencv-doc) and the sports2d demo video."""
    out = media_dir()
    deb_needed = [f for f in MEDIA_FILES if f.source == "deb" and not _has(out / f.filename, f.sha256)]
    if deb_needed:
        step = f"fetch Debian {DEBIAN_MEDIA_PACKAGE}"
        fix = ("Needs apt-get and dpkg-deb with the Debian archive reachable "
               "(run `apt-get update` as root if the package is unknown), then rerun scripts/setup.sh.")
        try:
            _run(step, ["apt-get", "download", DEBIAN_MEDIA_PACKAGE], work, fix)
        except SetupStepError:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600)
            _run(step, ["apt-get", "download", DEBIAN_MEDIA_PACKAGE], work, fix)
        debs = sorted(work.glob(f"{DEBIAN_MEDIA_PACKAGE}_*.deb"))
        if not debs:
            raise SetupStepError(f"[{step}] apt-get left no .deb in {work}")
        unpacked = work / "deb"
        _run("unpack " + debs[-1].name, ["dpkg-deb", "-x", str(debs[-1]), str(unpacked)], work, fix)
        for f in deb_needed:
            _install_checked("extract " + f.filename, (unpacked / f.member).read_bytes(), out / f.filename, f.sha256)
    s2d_needed = [f for f in MEDIA_FILES if f.source == "sports2d" and not _has(out / f.filename, f.sha256)]
    if s2d_needed:
        _extract_from_wheel("fetch sports2d wheel", SPORTS2D_WHEEL, s2d_needed, out, work)


def prepare(media: bool = True) -> None:
    """Steps 1-3 (``media=False``: the networks only, as an installed package needs)."""
    model_dir().mkdir(parents=True, exist_ok=True)
    if media:
        media_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="blazepose-", dir=assets_root()) as tmp:
        work = Path(tmp)
        fetch_models(work)
        convert_models()
        if media:
            fetch_media(work)
    for m in MODEL_FILES:
        if m.required and not converted_path(m.name).is_file():
            raise SetupStepError(f"[check] {converted_path(m.name)} missing after setup")


def load_converted(name: str) -> dict:
    """The converted model ``name`` (detector | lite | full | heavy) as saved by setup."""
    if name not in MODELS:
        raise ValueError(f"unknown BlazePose model {name!r}; choose one of {sorted(MODELS)}")
    path = converted_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"BlazePose model file {path} is missing: run {prepare_command()} "
                                f"(it converts {MODELS[name].filename} into it)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RuntimeError(f"BlazePose model file {path} is unreadable ({exc}): delete it and "
                           f"run {prepare_command()}") from exc
    if data.get("format") != CONVERTED_FORMAT or "graph" not in data:
        raise RuntimeError(f"BlazePose model file {path} has an old or unknown format: delete it "
                           f"and run {prepare_command()}")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["prepare", "models"],
                        help="prepare: networks and sample media; models: the networks only")
    media = parser.parse_args(argv).command == "prepare"
    try:
        prepare(media=media)
    except SetupStepError as exc:
        print(f"BlazePose setup failed: {exc}", file=sys.stderr)
        return 1
    print(f"BlazePose models in {model_dir()}" + (f", sample media in {media_dir()}" if media else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
