"""human_action agrees with VBench's own `human_action` function, run live on real clips.

Both sides read the same seeded random checkpoint in the real layout (bare fp16 state dict without
`pos_embed`, or with one); VBench decodes the files itself and names the label from the file name,
ours decodes them as the runner does and takes the label from the prompt. VBench's module runs as
published, with two shims for the newer libraries of this environment, neither of which touches
what it computes:
- `numpy.lib.function_base` (gone in NumPy 2) is provided for one unused import (`disp`) of UMT's
  training-dataset module, which VBench's transform import pulls in;
- `create_model` is replaced by what timm ≤ 1.0.12's factory does for this model (drop None
  arguments, call the registered `vit_large_patch16_224`): timm ≥ 1.0.13 also passes `cache_dir`,
  which VBench's model function does not accept. The cheaper check builds VBench's own
  `VisionTransformer` with the same arguments at width 128 / depth 2; the full-size check builds the
  real ViT-L/16 on one clip.
"""

from __future__ import annotations

import sys
import types
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import cut_clip
from tiny_umt import HEAD_BIASES, TINY, umt_state_dict, write_umt

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.umt import UmtConfig, load_umt, sinusoid_positions
from vbench_lite.dimensions.backbones.umt_input import umt_clip
from vbench_lite.dimensions.human_action import HumanAction, kinetics_400_classes
from vbench_lite.video import Video, decode_video
from vbench_lite.worklist import prompt_from_name

pytestmark = pytest.mark.fidelity
pytest.importorskip("vbench", reason="the published vbench package is the reference")
pytest.importorskip("clip", reason="VBench's human_action module imports the `clip` package")
pytest.importorskip("decord", reason="VBench reads mp4 files with decord")

SURE, BORDERLINE, UNLIKELY = (kinetics_400_classes()[i] for i in list(HEAD_BIASES)[:3])
LOGIT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def vbench_umt():
    """VBench's human_action module and UMT's model module, imported with the NumPy 2 shim."""
    with pytest.MonkeyPatch.context() as patch:
        try:
            import numpy.lib.function_base  # noqa: F401
        except ImportError:
            shim = types.ModuleType("numpy.lib.function_base")
            shim.disp = print  # type: ignore[attr-defined]
            patch.setitem(sys.modules, "numpy.lib.function_base", shim)
        import vbench.human_action as human_action
        from vbench.third_party.umt.models import modeling_finetune
    return human_action, modeling_finetune


def run_vbench(vbench_umt, monkeypatch, checkpoint: Path, paths: list[Path],
               width: int | None = None, depth: int | None = None) -> tuple[float, list[dict], torch.Tensor]:
    """VBench's `human_action(umt_path, video_list, device)`: (accuracy, per-video JSON, logits)."""
    human_action, modeling_finetune = vbench_umt
    logits: list[torch.Tensor] = []

    def create_model(name: str, pretrained: bool = False, **kwargs):  # timm ≤ 1.0.12's factory, in effect
        assert name == "vit_large_patch16_224" and not pretrained
        kwargs = {key: value for key, value in kwargs.items() if value is not None}
        if width is None:
            model = modeling_finetune.vit_large_patch16_224(**kwargs)
        else:  # the body of vit_large_patch16_224 at a reduced width and depth
            model = modeling_finetune.VisionTransformer(
                patch_size=16, embed_dim=width, depth=depth, num_heads=width // 64, mlp_ratio=4, qkv_bias=True,
                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), **kwargs)
        model.register_forward_hook(lambda module, inputs, output: logits.append(output.detach().clone()))
        return model

    monkeypatch.setattr(human_action, "create_model", create_model)
    accuracy, per_video = human_action.human_action(str(checkpoint), [str(p) for p in paths], "cpu")
    return accuracy, per_video, torch.cat(logits)


def run_ours(weights: Path, paths: list[Path]) -> tuple[float, list, torch.Tensor]:
    """Our dimension on the files decoded as the runner decodes them: (aggregate, scores, logits)."""
    context = ScoringContext(weights_dir=weights, batch_size=32)
    model, _ = load_umt(context)  # the shared instance the dimension will score with
    logits: list[torch.Tensor] = []
    model.register_forward_hook(lambda module, inputs, output: logits.append(output.detach().clone()))
    dimension = HumanAction(context)
    dimension.setup()
    videos = []
    for path in paths:
        frames, fps = decode_video(path)
        videos.append(dimension.frames.select(Video(frames, fps, path, prompt=prompt_from_name(path.name)[0])))
    scores = dimension.score_batch(videos)
    return dimension.aggregate(scores), scores, torch.cat(logits)


def assert_agrees(vbench: tuple[float, list[dict], torch.Tensor], ours: tuple[float, list, torch.Tensor]) -> None:
    accuracy, per_video, vbench_logits = vbench
    aggregate, scores, our_logits = ours
    assert (our_logits - vbench_logits).abs().max() <= LOGIT_TOLERANCE
    assert [s.value for s in scores] == [v["video_results"] for v in per_video]
    assert [s.extra["cor_num_per_video"] for s in scores] == [v["cor_num_per_video"] for v in per_video]
    assert aggregate == pytest.approx(accuracy, abs=1e-12)


@pytest.fixture(scope="module")
def real_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real clips named as VBench names them, one per resize path of UMT's transform:
    176-high frames scaled up, 144-high frames (12, padded to 16), 256-high frames left as they are."""
    folder = tmp_path_factory.mktemp("human-action-clips")
    return [
        cut_clip("bikes", folder / f"A person is {SURE}-0.mp4", frames=40, start=30, size=(320, 176)),
        cut_clip("carphone_pristine", folder / f"A person is {BORDERLINE}-1.mp4", frames=12, start=10),
        cut_clip("bigbuckbunny", folder / f"A person is {UNLIKELY}-0.mp4", frames=20, start=80, size=(456, 256)),
    ]


def test_the_kinetics_400_list_is_vbenchs(vbench_umt) -> None:
    human_action, _ = vbench_umt
    vbench_classes = human_action.build_dict()
    assert kinetics_400_classes() == tuple(vbench_classes[str(i)] for i in range(400))


def test_the_sinusoid_positions_are_vbenchs_bit_for_bit(vbench_umt, capsys) -> None:
    _, modeling_finetune = vbench_umt
    for width in (64, TINY.width):  # the full width is checked by the full-size test
        reference = modeling_finetune.get_sinusoid_encoding_table(3136, width, 16, pre_n_position=1568)
        assert torch.equal(sinusoid_positions(UmtConfig(width=width)), reference.data)
    capsys.readouterr()  # VBench prints what it interpolates


def test_the_input_transform_is_vbenchs_bit_for_bit(vbench_umt, real_clips) -> None:
    from vbench.third_party.umt.datasets.video_transforms import CenterCrop, Compose, Normalize, Resize
    from vbench.third_party.umt.datasets.volume_transforms import ClipToTensor
    from vbench.utils import load_video

    transform = Compose([Resize(256, interpolation="bilinear"), CenterCrop(size=(224, 224)), ClipToTensor(),
                         Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    dimension = HumanAction(ScoringContext())
    for path in real_clips:
        expected = load_video(str(path), transform, num_frames=16)
        frames, fps = decode_video(path)
        assert torch.equal(umt_clip(dimension.frames.select(Video(frames, fps, path)).frames), expected)


@pytest.mark.parametrize("with_pos_embed", [False, True], ids=["real-layout", "stored-pos-embed"])
@pytest.mark.slow
def test_reduced_umt_agrees_with_vbenchs_human_action(vbench_umt, real_clips, tmp_path, monkeypatch, capsys,
                                                      with_pos_embed) -> None:
    checkpoint = write_umt(tmp_path, umt_state_dict(TINY, seed=1, pos_embed=with_pos_embed))
    vbench = run_vbench(vbench_umt, monkeypatch, checkpoint, real_clips, width=TINY.width, depth=TINY.depth)
    capsys.readouterr()
    ours = run_ours(tmp_path, real_clips)
    assert_agrees(vbench, ours)
    verdicts = [v["video_results"] for v in vbench[1]]
    assert verdicts[0] is True and verdicts[2] is False  # the head's biases decide these; clip 1 is borderline


@pytest.mark.slow
def test_full_size_umt_agrees_with_vbenchs_human_action_on_one_clip(vbench_umt, real_clips, tmp_path, monkeypatch,
                                                                    capsys) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # one ViT-L/16 forward on 16 × 224² frames is about 2 TFLOP per side
    try:
        checkpoint = write_umt(tmp_path, umt_state_dict(UmtConfig(), seed=2))
        vbench = run_vbench(vbench_umt, monkeypatch, checkpoint, real_clips[:1])
        capsys.readouterr()
        ours = run_ours(tmp_path, real_clips[:1])
    finally:
        torch.set_num_threads(threads)
    assert_agrees(vbench, ours)
    print(f"full-size UMT: max |Δ logit| = {(ours[2] - vbench[2]).abs().max():.2e}, "
          f"VBench top-1 logit {vbench[2].max():.3f}")
    assert np.isfinite(ours[2].numpy()).all()
