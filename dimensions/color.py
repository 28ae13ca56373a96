"""Color (Semantic): when the prompt's object is seen with a colour, is it the prompt's colour?

Frames: VBench's 16 "middle" frames as uint8 (shrunk with OpenCV INTER_LINEAR to a 720 short side
only when the short side is over 768). GRiT-B describes every box it keeps (score > 0.5) twice:
a DenseCap caption ("a red car parked on the street") and an ObjectDet name ("car").
Target object = the prompt with every "a " and "an " and the colour word removed, stripped
("a red car" → "car"); colour = aux["color"]. Each caption c_i is paired with a name n:
  VBench (default): n = the name of the frame's FIRST box, for every caption (VBench's quirk);
  `--option color.pair_each_caption=true`: n = n_i, the caption's own box (version "1+paired").
A frame without boxes has the single pair ("", ""). Per frame f:
  object(f) = ∃ i: n == target and c_i contains one of the 12 colour words below (substring);
  colour(f) = ∃ i: n == target and c_i contains aux["color"] (substring).
Per video: value = #colour frames / #object frames; a video with no object frame is left out
(skipped, as VBench drops it). Aggregate: mean of the kept videos' values.
Per-video key as VBench stores it: `cur_success_frame_rate`.
"""

from __future__ import annotations

from typing import ClassVar

from vbench_lite.dimension import Option, VideoScore, boolean
from vbench_lite.dimensions.backbones.detections import FrameDetections
from vbench_lite.dimensions.backbones.object_detection import GRIT_AUTOCAST, ObjectDetectionDimension
from vbench_lite.video import Video

AUX_KEY = "color"
COLOUR_WORDS = ("white", "red", "pink", "blue", "silver", "purple", "orange", "green", "gray", "yellow", "black",
                "grey")
PAIRING_OPTION = "pair_each_caption"
RATE = "cur_success_frame_rate"  # VBench's per-video JSON key


def target_object(prompt: str, colour: str) -> str:
    """VBench's string surgery: "a red car" → "car" (every occurrence of each piece is removed)."""
    return prompt.replace("a ", "").replace("an ", "").replace(colour, "").strip()


def caption_pairs(frame: FrameDetections, pair_each_caption: bool) -> list[tuple[str, str]]:
    if len(frame) == 0:
        return [("", "")]
    if pair_each_caption:
        return list(zip(frame.captions, frame.names, strict=True))
    return [(caption, frame.names[0]) for caption in frame.captions]


def colour_counts(frames: list[FrameDetections], colour: str, target: str,
                  pair_each_caption: bool = False) -> tuple[int, int]:
    """(#frames showing the target with some colour word, #frames showing it with `colour`)."""
    object_frames = colour_frames = 0
    for frame in frames:
        pairs = [(caption, name) for caption, name in caption_pairs(frame, pair_each_caption) if name == target]
        object_frames += any(word in caption for caption, _ in pairs for word in COLOUR_WORDS)
        colour_frames += any(colour in caption for caption, _ in pairs)
    return object_frames, colour_frames


class Color(ObjectDetectionDimension):
    name: ClassVar[str] = "color"
    version: ClassVar[str] = "1"
    needs_prompt: ClassVar[bool] = True
    needs_aux: ClassVar[str | None] = AUX_KEY
    resize_rule: ClassVar = "cv2"
    needs_captions: ClassVar[bool] = True
    description: ClassVar[str] = "fraction of frames showing the object in the prompt's colour, among coloured ones"
    options: ClassVar[tuple[Option, ...]] = (
        GRIT_AUTOCAST, Option(f"color.{PAIRING_OPTION}", boolean, "pair each caption with its own box"),
    )

    def setup(self) -> None:
        super().setup()
        self._pair_each_caption = self.bool_option(PAIRING_OPTION)
        if self._pair_each_caption:
            self.version = "1+paired"  # type: ignore[misc]  # the stored version says which rule ran

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        scores = []
        for video, frames in zip(videos, self.detections(videos), strict=True):
            colour = str(video.aux[AUX_KEY])
            target = target_object(video.prompt, colour)
            object_frames, colour_frames = colour_counts(frames, colour, target, self._pair_each_caption)
            if object_frames == 0:
                scores.append(VideoScore(None, skipped=f"no frame shows a {target!r} described with a colour"))
                continue
            rate = colour_frames / object_frames
            scores.append(VideoScore(rate, {RATE: rate}))
        return scores
