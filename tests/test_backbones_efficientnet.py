"""EfficientNet-Lite0 from the PyPI package: explicit key map onto timm, strict, real predictions."""

from __future__ import annotations

import pytest
import torch
from clips import sample_frames

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.efficientnet import (
    efficientnet_features,
    load_efficientnet,
    load_efficientnet_file,
    packaged_weights,
    timm_state_from_lite0,
)
from vbench_lite.dimensions.backbones.preprocess import efficientnet_transform, frames_to_tensor

torch.set_num_threads(1)
WINDSOR_TIE = 906  # ImageNet class; the carphone clip's speaker wears one


def test_every_packaged_key_maps_to_a_distinct_timm_key():
    state = torch.load(packaged_weights(), map_location="cpu", weights_only=True)
    converted = timm_state_from_lite0(state)
    assert len(converted) == len(state)
    assert "blocks.6.0.conv_pwl.weight" in converted and "blocks.0.0.conv_pw.weight" in converted


def test_unknown_key_is_refused():
    with pytest.raises(KeyError, match="unexpected key"):
        timm_state_from_lite0({"_swish.weight": torch.zeros(1)})


def test_packaged_weights_recognise_real_footage():
    model = load_efficientnet_file(packaged_weights())
    frames, _ = sample_frames("carphone_pristine")
    pixels = efficientnet_transform(frames_to_tensor(frames[:2]), crop=True)
    with torch.no_grad():
        probabilities = model(pixels).softmax(-1)
    assert probabilities.argmax(-1).tolist() == [WINDSOR_TIE, WINDSOR_TIE]
    assert float(probabilities.max(-1).values.min()) > 0.3


def test_features_are_pooled_1280d_and_the_model_is_shared():
    context = ScoringContext()
    model, _ = load_efficientnet(context)
    again, _ = load_efficientnet(context)
    assert model is again
    assert efficientnet_features(model, torch.zeros(2, 3, 224, 256)).shape == (2, 1280)
