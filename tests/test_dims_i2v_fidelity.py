"""i2v_subject and i2v_background against VBench++'s own code (vbench2_beta_i2v), same random weights,
real clips and images.

i2v_subject runs VBench's `i2v_subject(model, pairs, device)` live, handing it the tiny DINO our
dimension loaded from disk. VBench's i2v_background module imports `dreamsim` (and through it
`peft`), which vbench_lite does not depend on; its values were recorded with
`scripts/fidelity/i2v_background_golden.py` on the same seeded DreamSim files that
tests/tiny_i2v_models.py rebuilds here, and are compared from tests/data/i2v_background_golden.json.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import I2V_PAIRS, i2v_pairs
from tiny_dims1_models import tiny_dino
from tiny_i2v_models import write_tiny_dreamsim

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.preprocess import i2v_square_image
from vbench_lite.dimensions.i2v_background import I2VBackground
from vbench_lite.dimensions.i2v_subject import I2VSubject
from vbench_lite.video import Video, decode_video, read_image

pytestmark = pytest.mark.fidelity
torch.set_num_threads(1)
GOLDEN = Path(__file__).parent / "data" / "i2v_background_golden.json"
TOLERANCE = 1e-4  # per video; the values below agree far closer (about 1e-7)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> list[tuple[Path, Path]]:
    return i2v_pairs(tmp_path_factory.mktemp("i2v_images"))


def videos(pairs: list[tuple[Path, Path]]) -> list[Video]:
    out = []
    for image, path in pairs:
        frames, fps = decode_video(path)
        out.append(Video(frames=frames, fps=fps, path=path, image=read_image(image)))
    return out


@pytest.mark.slow
def test_i2v_subject_equals_vbench(tmp_path, pairs):
    vbench_i2v = pytest.importorskip("vbench2_beta_i2v.i2v_subject")
    model = tiny_dino()
    with torch.no_grad():  # content-driven CLS features, so the three pairs score far apart
        model.cls_token.zero_()
        model.pos_embed.zero_()
    (tmp_path / "dino_model").mkdir()
    torch.save(model.state_dict(), tmp_path / "dino_model" / "dino_vitbase16_pretrain.pth")
    dimension = I2VSubject(ScoringContext(backend="vbench", weights_dir=tmp_path, batch_size=16))
    dimension.setup()

    ours = dimension.score_batch(videos(pairs))
    # VBench gets the very module our dimension loaded from the .pth
    expected_mean, expected = vbench_i2v.i2v_subject(dimension._network, [(str(i), str(v)) for i, v in pairs], "cpu")

    for score, reference in zip(ours, expected, strict=True):
        assert score.value == pytest.approx(reference["video_results"], abs=1e-6)
    assert dimension.aggregate(ours) == pytest.approx(expected_mean, abs=1e-6)
    values = [s.value for s in ours]
    assert values[0] > values[1]  # the clip's own first frame beats another clip's frame
    assert max(values) - min(values) > 100 * TOLERANCE


@pytest.mark.slow
def test_i2v_background_equals_vbench_recorded_values(tmp_path, pairs):
    golden = json.loads(GOLDEN.read_text())
    assert [tuple(p) for p in golden["pairs"]] == list(I2V_PAIRS)
    for (image, video), (image_name, clip) in zip(pairs, I2V_PAIRS, strict=True):
        # the inputs VBench saw: the shipped clips decode to the same frames everywhere (no re-encode)
        frames = decode_video(video)[0]
        assert hashlib.sha256(frames.tobytes()).hexdigest() == golden["frames_sha256"][clip], clip
        assert hashlib.sha256(read_image(image).tobytes()).hexdigest() == golden["images_sha256"][image_name]
    write_tiny_dreamsim(tmp_path, seed=golden["seed"])
    dimension = I2VBackground(ScoringContext(backend="vbench", weights_dir=tmp_path, batch_size=16))
    dimension.setup()

    embedding = dimension._network(i2v_square_image(read_image(pairs[0][0])))[0]
    np.testing.assert_allclose(embedding.detach().numpy(), golden["first_image_embedding"], atol=1e-5)
    ours = dimension.score_batch(videos(pairs))

    for score, reference in zip(ours, golden["video_results"], strict=True):
        assert score.value == pytest.approx(reference, abs=1e-6)
    assert dimension.aggregate(ours) == pytest.approx(golden["aggregate"], abs=1e-6)
    assert max(s.value for s in ours) - min(s.value for s in ours) > 100 * TOLERANCE
