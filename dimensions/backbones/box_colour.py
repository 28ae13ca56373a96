"""The colour of a detected object, in VBench's colour words, read from its box's pixels.

Rule: take the central region of the box (the middle half of its width and of its height, where
the object rather than its background is most likely), name every pixel's colour from its HSV
value, and return the most frequent name (ties go to the earlier name in `COLOUR_NAMES`).

Per pixel, with hue H in degrees and saturation S and value V in [0, 1] (OpenCV's RGB→HSV):
- V < 0.25 → black;
- else S < 0.20 → white if V > 0.80, else gray;
- else by hue: red [345, 360) ∪ [0, 15), orange [15, 45), yellow [45, 65), green [65, 170),
  blue [170, 260), purple [260, 320), pink [320, 345);
  light reds (S < 0.5 and V > 0.7) are pink, and dull or dark oranges (S < 0.5 or V < 0.6) brown.
The nine colours of VBench's color prompts (red, orange, yellow, green, blue, purple, pink, black,
white) are all names here; gray and brown name what is none of them.
"""

from __future__ import annotations

import cv2
import numpy as np

COLOUR_NAMES = ("black", "white", "gray", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
CENTRAL_FRACTION = 0.5  # of the box's width and height
BLACK_MAX_VALUE = 0.25
NEUTRAL_MAX_SATURATION = 0.20
WHITE_MIN_VALUE = 0.80
# Hue bands (upper bound exclusive, degrees) in order; red wraps around 360.
HUE_BANDS = ((15, "red"), (45, "orange"), (65, "yellow"), (170, "green"), (260, "blue"), (320, "purple"),
             (345, "pink"), (360, "red"))
PALE_MAX_SATURATION = 0.5  # light red → pink, dull orange → brown
PINK_MIN_VALUE = 0.7
BROWN_MAX_VALUE = 0.6


def pixel_colours(rgb: np.ndarray) -> np.ndarray:
    """uint8 [..., 3] RGB → int [...] indices into COLOUR_NAMES."""
    hsv = cv2.cvtColor(rgb.reshape(-1, 1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV).reshape(-1, 3)
    hue, saturation, value = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    band_edges = np.array([edge for edge, _ in HUE_BANDS], dtype=np.float32)
    band_names = np.array([COLOUR_NAMES.index(name) for _, name in HUE_BANDS])
    names = band_names[np.minimum(np.searchsorted(band_edges, hue, side="right"), len(HUE_BANDS) - 1)]
    pale = saturation < PALE_MAX_SATURATION
    names = np.where((names == COLOUR_NAMES.index("red")) & pale & (value > PINK_MIN_VALUE),
                     COLOUR_NAMES.index("pink"), names)
    names = np.where((names == COLOUR_NAMES.index("orange")) & (pale | (value < BROWN_MAX_VALUE)),
                     COLOUR_NAMES.index("brown"), names)
    neutral = np.where(value > WHITE_MIN_VALUE, COLOUR_NAMES.index("white"), COLOUR_NAMES.index("gray"))
    names = np.where(saturation < NEUTRAL_MAX_SATURATION, neutral, names)
    names = np.where(value < BLACK_MAX_VALUE, COLOUR_NAMES.index("black"), names)
    return names.reshape(rgb.shape[:-1])


def central_region(box: np.ndarray | list[float], height: int, width: int) -> tuple[int, int, int, int]:
    """Integer pixel bounds (x0, y0, x1, y1) of the box's central region, at least 1×1, inside the frame."""
    x0, y0, x1, y1 = (float(v) for v in box)
    margin_x, margin_y = (x1 - x0) * (1 - CENTRAL_FRACTION) / 2, (y1 - y0) * (1 - CENTRAL_FRACTION) / 2
    left = min(max(int(np.floor(x0 + margin_x)), 0), width - 1)
    top = min(max(int(np.floor(y0 + margin_y)), 0), height - 1)
    right = max(min(int(np.ceil(x1 - margin_x)), width), left + 1)
    bottom = max(min(int(np.ceil(y1 - margin_y)), height), top + 1)
    return left, top, right, bottom


def box_colour_shares(frame: np.ndarray, box: np.ndarray | list[float]) -> dict[str, float]:
    """Fraction of the central region's pixels that each colour name takes (names with none left out)."""
    left, top, right, bottom = central_region(box, frame.shape[0], frame.shape[1])
    counts = np.bincount(pixel_colours(frame[top:bottom, left:right]).reshape(-1), minlength=len(COLOUR_NAMES))
    return {COLOUR_NAMES[i]: float(c) / counts.sum() for i, c in enumerate(counts) if c}


def box_colour(frame: np.ndarray, box: np.ndarray | list[float]) -> str:
    """The most frequent colour name in the central region of `box` (x0, y0, x1, y1) of an RGB frame."""
    shares = box_colour_shares(frame, box)
    return max(COLOUR_NAMES, key=lambda name: (shares.get(name, 0.0), -COLOUR_NAMES.index(name)))
