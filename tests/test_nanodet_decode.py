"""NanoDet's GFL decode, letterbox and NMS on hand-built tensors (no weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vbench_lite.dimensions.backbones.nanodet import (
    INPUT_SIZE,
    REG_MAX,
    Letterbox,
    decode_boxes,
    distribution_to_distance,
    grid_centres,
    letterbox,
    select_detections,
)

BINS = REG_MAX + 1


def peaked_logits(distances: list[int]) -> torch.Tensor:
    """44 logits whose distribution per side puts (almost) all mass on the given bin."""
    logits = torch.full((4, BINS), -50.0)
    for side, distance in enumerate(distances):
        logits[side, distance] = 50.0
    return logits.reshape(-1)


def test_a_peaked_distribution_gives_its_bin() -> None:
    torch.testing.assert_close(distribution_to_distance(peaked_logits([0, 3, 7, 10])), torch.tensor([0.0, 3, 7, 10]))


def test_a_flat_distribution_gives_the_mean_bin() -> None:
    torch.testing.assert_close(distribution_to_distance(torch.zeros(2, 4 * BINS)), torch.full((2, 4), REG_MAX / 2))


def test_two_bins_of_equal_weight_give_their_midpoint() -> None:
    logits = torch.full((4, BINS), -50.0)
    logits[:, 2] = logits[:, 3] = 0.0
    torch.testing.assert_close(distribution_to_distance(logits.reshape(-1)), torch.full((4,), 2.5))


def test_cell_centres_are_half_a_stride_in_row_major_order() -> None:
    torch.testing.assert_close(grid_centres(2, 8), torch.tensor([[4.0, 4], [12, 4], [4, 12], [12, 12]]))


def test_a_cell_decodes_to_its_centre_minus_and_plus_the_distances() -> None:
    stride, grid = 32, INPUT_SIZE // 32
    logits = torch.zeros(grid * grid, 4 * BINS)
    cell = 1 * grid + 2  # row 1, column 2: centre (80, 48)
    logits[cell] = peaked_logits([1, 1, 3, 4])
    box = decode_boxes(logits, stride)[cell]
    torch.testing.assert_close(box, torch.tensor([80.0 - 32, 48 - 32, 80 + 96, 48 + 128]))


def test_boxes_are_clipped_to_the_canvas() -> None:
    logits = peaked_logits([10, 10, 10, 10]).expand(52 * 52, -1)
    boxes = decode_boxes(logits, 8)
    assert float(boxes.min()) == 0.0 and float(boxes.max()) == INPUT_SIZE


def test_nms_is_per_class_and_keeps_the_best_first() -> None:
    boxes = torch.tensor([[0.0, 0, 100, 100], [5, 5, 100, 100], [200, 200, 300, 300], [0, 0, 10, 10]])
    scores = torch.zeros(4, 80)
    scores[0, 0] = 0.9  # person
    scores[1, 0] = 0.5  # person, IoU 0.9 with the first: suppressed
    scores[1, 16] = 0.6  # dog on the same box: another class, kept
    scores[2, 2] = 0.3  # car
    scores[3, 2] = 0.1  # under the threshold
    kept, kept_scores, labels = select_detections(boxes, scores, 0.2, 0.4, 10)
    assert labels.tolist() == [0, 16, 2]
    torch.testing.assert_close(kept_scores, torch.tensor([0.9, 0.6, 0.3]))
    torch.testing.assert_close(kept, boxes[[0, 1, 2]])


def test_max_detections_keeps_the_highest_scores() -> None:
    boxes = torch.tensor([[i * 20.0, 0, i * 20 + 10, 10] for i in range(5)])
    scores = torch.zeros(5, 80)
    scores[:, 0] = torch.tensor([0.3, 0.9, 0.5, 0.7, 0.4])
    _, kept_scores, _ = select_detections(boxes, scores, 0.2, 0.4, max_detections=2)
    torch.testing.assert_close(kept_scores, torch.tensor([0.9, 0.7]))


def test_no_candidate_gives_empty_results() -> None:
    kept, kept_scores, labels = select_detections(torch.zeros(3, 4), torch.full((3, 80), 0.1))
    assert kept.shape == (0, 4) and kept_scores.shape == (0,) and labels.shape == (0,)


def test_letterbox_keeps_the_aspect_and_centres_the_frame() -> None:
    frames = np.full((2, 100, 200, 3), 255, np.uint8)
    canvas, placement = letterbox(torch.from_numpy(frames))
    assert canvas.shape == (2, 3, INPUT_SIZE, INPUT_SIZE)
    assert placement.scale_x == pytest.approx(INPUT_SIZE / 200) and placement.pad_x == 0
    assert placement.pad_y == (INPUT_SIZE - 208) // 2
    white_rows = (canvas[0, 0] > 0).any(dim=1).nonzero().flatten()
    assert int(white_rows.min()) == placement.pad_y and int(white_rows.max()) == placement.pad_y + 207
    # BGR order with NanoDet's per-channel mean and std: white is (255 - mean) / std per channel
    torch.testing.assert_close(canvas[0, :, 208, 208], torch.tensor([(255 - 103.53) / 57.375,
                                                                    (255 - 116.28) / 57.12,
                                                                    (255 - 123.675) / 58.395]))


def test_canvas_boxes_map_back_to_frame_pixels_and_clip() -> None:
    placement = Letterbox(scale_x=2.0, scale_y=2.0, pad_x=0, pad_y=108, height=100, width=208)
    boxes = torch.tensor([[20.0, 128, 60, 168], [0, 0, 416, 416]])
    torch.testing.assert_close(placement.to_frame(boxes), torch.tensor([[10.0, 10, 30, 30], [0, 0, 208, 100]]))
