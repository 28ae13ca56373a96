"""VBench++'s image suite, cut to a target aspect ratio exactly as VBench's `crop_to_diff_ratio.py`.

Each image of the suite comes with its meta record (VBench's `i2v-bench-info.json`):
`file_name`, `first_crop {width, height, first_bbox}` (box in the original image),
`second_crop {width, height, second_bbox}` (box in the first crop; `width`/`height` are the
first crop's size), and `diff_ratio_crop` (the boxes of the four ratios VBench ships pre-cut).
Boxes are [x, y, w, h]. A portrait original was first cut square and then 16:9; a landscape one
first 16:9 and then square. Every other ratio W:H with 1 ≤ W/H < 1.7778 is the largest box of that
ratio, on the first crop's integer grid, that still holds the second box:

    square first crop (w == h):  s = int(w / W);  box = (0, y', s·W, s·H),
                                 y' uniform in [max(y − (s·H − ch), 0), min(y + s·H, h) − s·H]
    16:9 first crop:             s = int(h / H);  box = (x', 0, s·W, s·H),
                                 x' uniform in [max(x − (s·W − cw), 0), min(x + s·W, w) − s·W]

where (x, y, cw, ch) is the second box and the offset is drawn with Python's `random` seeded with
123 before every image (`random.Random(123).randint`, the same Mersenne Twister draw). The box is
moved into the original by the first box's (x, y), cut with PIL and saved under the same file
name with PIL's defaults (JPEG quality 75), so the files are byte for byte VBench's. The four
shipped ratios 1-1, 8-5, 7-4 and 16-9 come out of the same arithmetic (it reproduces the
published `diff_ratio_crop` boxes), so one rule serves every ratio. Images are not resized.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vbench_lite.errors import InputError

CROP_SEED = 123
MIN_RATIO, MAX_RATIO = 1.0, 1.7778  # VBench accepts 1:1 up to (not including) 1.7778 ≈ 16:9
SHIPPED_RATIOS = ("1-1", "8-5", "7-4", "16-9")  # the folders of VBench's crop.zip

Box = tuple[int, int, int, int]  # x, y, width, height


@dataclass(frozen=True)
class CropInfo:
    """The part of one `i2v-bench-info.json` record that the crop reads."""

    file_name: str
    first_bbox: Box  # in the original image
    first_size: tuple[int, int]  # (width, height) of the first crop (VBench's second_crop.width/height)
    second_bbox: Box  # in the first crop

    @classmethod
    def from_record(cls, record: Any, where: str) -> CropInfo:
        try:
            first, second = record["first_crop"], record["second_crop"]
            return cls(
                file_name=str(record["file_name"]),
                first_bbox=_box(first["first_bbox"]),
                first_size=(int(second["width"]), int(second["height"])),
                second_bbox=_box(second["second_bbox"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(
                f"{where}: not a VBench i2v-bench-info record ({type(error).__name__}: {error}); each needs "
                "file_name, first_crop.first_bbox and second_crop {width, height, second_bbox}"
            ) from None


def parse_ratio(ratio: str) -> tuple[int, int]:
    """"16-9" → (16, 9), within VBench's accepted range."""
    try:
        width, height = (int(part) for part in ratio.split("-"))
    except ValueError:
        raise InputError(f"aspect ratio '{ratio}' must look like W-H, e.g. 16-9 or 8-5") from None
    if height <= 0 or not MIN_RATIO <= width / height < MAX_RATIO:
        raise InputError(f"aspect ratio {ratio} is outside VBench's range: W/H from 1 (1-1) up to 16-9")
    return width, height


def ratio_box_in_first_crop(info: CropInfo, ratio: str) -> Box:
    """VBench's `get_other_ratio_crop`: the ratio's box inside the first crop."""
    ratio_w, ratio_h = parse_ratio(ratio)
    width, height = info.first_size
    x, y, crop_w, crop_h = info.second_bbox
    draw = random.Random(CROP_SEED)
    if width == height:  # portrait original: square first crop, 16:9 second box
        target_w, target_h = int(width / ratio_w) * ratio_w, int(width / ratio_w) * ratio_h
        low, high = max(y - (target_h - crop_h), 0), min(y + target_h, height) - target_h
        _check_fits(info, ratio, target_h >= crop_h and high >= low)
        return 0, draw.randint(low, high), target_w, target_h
    # landscape original: 16:9 first crop, square second box
    target_w, target_h = int(height / ratio_h) * ratio_w, int(height / ratio_h) * ratio_h
    low, high = max(x - (target_w - crop_w), 0), min(x + target_w, width) - target_w
    _check_fits(info, ratio, target_w >= crop_w and high >= low)
    return draw.randint(low, high), 0, target_w, target_h


def target_box(info: CropInfo, ratio: str) -> Box:
    """The ratio's box in the original image (VBench's `transfer_bbox_to_origin_img`)."""
    x, y, width, height = ratio_box_in_first_crop(info, ratio)
    return info.first_bbox[0] + x, info.first_bbox[1] + y, width, height


def crop_image(source: Path, box: Box, out_dir: Path) -> Path:
    """Cut `box` from `source` and save it as `out_dir/<same name>` with PIL's defaults."""
    from PIL import Image, UnidentifiedImageError

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.name
    x, y, width, height = box
    try:
        with Image.open(source) as image:
            image.crop((x, y, x + width, y + height)).save(target)
    except FileNotFoundError:
        raise InputError(f"image {source} not found; give the folder of VBench's original images") from None
    except (UnidentifiedImageError, OSError) as error:
        raise InputError(f"cannot crop {source}: {error}") from None
    return target


def read_crop_info(path: Path) -> list[dict[str, Any]]:
    try:
        records = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} not found; give VBench's i2v-bench-info.json") from None
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read {path}: {error}") from None
    if not isinstance(records, list):
        raise InputError(f"{path}: expected a JSON list of image records, as VBench's i2v-bench-info.json")
    return records


def crop_suite(info_path: Path, origin_dir: Path, ratio: str, out_root: Path) -> list[Path]:
    """VBench's `get_target_crop`: every image of the suite cut to `ratio` into `out_root/ratio/`,
    and the boxes written to `out_root/target_crop_info_<ratio>.json`."""
    parse_ratio(ratio)
    records = read_crop_info(info_path)
    infos = [CropInfo.from_record(r, f"{Path(info_path).name}: entry {i}") for i, r in enumerate(records)]
    boxes = [target_box(info, ratio) for info in infos]
    out_root.mkdir(parents=True, exist_ok=True)
    with_boxes = [
        {**record, "target_crop": {"target_ratio": ratio, "target_bbox": list(box)}}
        for record, box in zip(records, boxes, strict=True)
    ]
    (out_root / f"target_crop_info_{ratio}.json").write_text(json.dumps(with_boxes))
    return [
        crop_image(Path(origin_dir) / info.file_name, box, out_root / ratio)
        for info, box in zip(infos, boxes, strict=True)
    ]


def _box(values: Any) -> Box:
    x, y, width, height = (int(v) for v in values)
    return x, y, width, height


def _check_fits(info: CropInfo, ratio: str, fits: bool) -> None:
    if not fits:  # VBench asserts here
        raise InputError(f"{info.file_name}: no {ratio} box of the first crop holds its second crop box")
