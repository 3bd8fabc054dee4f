"""The reconstruct node refuses to start on bad parameters or damaged files with ONE clear line."""
import pytest

from node_helpers import run_node_until_exit

pytestmark = pytest.mark.ros


def error_lines(proc):
    return [line for line in (proc.stdout + proc.stderr).splitlines() if "error" in line.lower()]


def assert_one_line_naming(proc, *words):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = error_lines(proc)
    assert len(lines) == 1, "expected one error line, got:\n" + "\n".join(lines)
    for word in words:
        assert word in lines[0], lines[0]


def test_out_of_range_parameter_exits_with_one_line():
    proc = run_node_until_exit("-p", "max_people:=40")
    assert_one_line_naming(proc, "'max_people'", "[1, 16]", "got 40")


def test_unknown_choice_exits_with_one_line():
    proc = run_node_until_exit("-p", "frontend_model:=huge")
    assert_one_line_naming(proc, "'frontend_model'", "lite, full, heavy")


def test_unknown_preset_exits_with_one_line():
    proc = run_node_until_exit("-p", "preset:=slow")
    assert_one_line_naming(proc, "'preset'", "fast, accurate")


def test_accurate_preset_with_heavy_exits_with_one_line_naming_the_fix():
    proc = run_node_until_exit("-p", "preset:=accurate", "-p", "frontend_model:=heavy")
    assert_one_line_naming(proc, "preset 'accurate'", "frontend_model is already 'heavy'", "preset:=fast")


def test_missing_body_model_file_exits_with_one_line_naming_it(tmp_path):
    missing = tmp_path / "SMPL_NEUTRAL.pkl"
    proc = run_node_until_exit("-p", f"body_model_path:={missing}")
    assert_one_line_naming(proc, str(missing), "body_model_path")


def test_corrupt_body_model_file_exits_with_one_line_naming_it(tmp_path):
    corrupt = tmp_path / "smplr_free_body.npz"
    corrupt.write_bytes(b"this is not a body model" * 10)
    proc = run_node_until_exit("-p", f"body_model_path:={corrupt}")
    assert_one_line_naming(proc, str(corrupt))


def _weights_dir_of(tmp_path, content: bytes):
    """A weights folder whose DAE and SMPLR files hold ``content``; (folder, the DAE file)."""
    from smplr_core.models.checkpoint import WEIGHT_FILES

    weights = tmp_path / "core"
    weights.mkdir()
    for name in ("dae", "smplr"):
        (weights / WEIGHT_FILES[name]).write_bytes(content)
    return weights, weights / WEIGHT_FILES["dae"]


def test_corrupt_checkpoint_exits_with_one_line_naming_the_file(tmp_path):
    weights, dae = _weights_dir_of(tmp_path, b"\x80\x02 not a checkpoint")
    proc = run_node_until_exit("-p", f"weights_dir:={weights}")
    assert_one_line_naming(proc, "weights_dir", str(dae), "corrupt", "git checkout -- weights/")


def test_empty_checkpoint_line_names_the_error_once(tmp_path):
    weights, dae = _weights_dir_of(tmp_path, b"")
    proc = run_node_until_exit("-p", f"weights_dir:={weights}")
    assert_one_line_naming(proc, str(dae))
    (line,) = error_lines(proc)
    for name in ("EOFError", "RuntimeError", "UnpicklingError"):
        assert f"{name}: {name}" not in line, line


def test_error_text_is_cut_at_a_word_and_names_the_type_once():
    from smplr_core.errors import describe, one_line

    text = "invalid load key, 'x'. there is a header missing here"
    assert one_line(ValueError(text), 32) == "invalid load key, 'x'. there..."
    assert one_line(ValueError("x" * 50), limit=10) == "xxxxxxx..."
    assert describe(EOFError()) == "EOFError"
    assert describe(ValueError("bad\nvalue")) == "ValueError: bad value"
