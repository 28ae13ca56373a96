"""Which videos a run scores, with which prompt, on which dimensions (as VBench's two input modes).

Three ways in:
- custom input (`--videos DIR`): every video in DIR; the prompt is the file name
  `{prompt}-{i}.mp4` with the trailing index removed, or comes from a JSON `{path: prompt}` file;
- standard mode (`--videos DIR --prompts SUITE`): for each suite prompt tagged with a requested
  dimension, the files `{prompt}-{i}.{ext}`, i = 0 … samples-1, as VBench looks them up;
- generation (`--model NAME`): the same (prompt, sample) list, to be generated into RUN_DIR/videos.

In the suite modes each dimension scores only the prompts tagged with it, as VBench does; a
requested dimension that no prompt of the suite is tagged with (e.g. clip_score on VBench's
suite) scores every prompt.

Image-to-video runs (`run_task`) also pair each video with its conditioning image
(`attach_images`): the suite's image (VBench++'s `image_name`, looked up in `--images DIR`), or in
custom input VBench's rule, the image named after the video's prompt, `DIR/{prompt}.jpg|.jpeg|.png`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vbench_lite.decode import FRAME_SUFFIXES, VIDEO_SUFFIXES
from vbench_lite.errors import InputError

TRAILING_INDEX = re.compile(r"^(?P<prompt>.*?)-(?P<index>\d+)$")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # what VBench's custom image folder accepts
MAX_NAME_BYTES = 200  # file systems cap names at 255 bytes; long prompts get a hashed tail


@dataclass
class VideoItem:
    video_key: str  # unique within the run; the store's key
    path: Path
    prompt_id: str
    prompt: str
    sample_index: int
    seed: int | None
    dimensions: list[str]
    aux: dict[str, Any] = field(default_factory=dict)
    image: str | None = None  # i2v conditioning image from the suite


@dataclass
class WorkList:
    items: list[VideoItem]
    missing: list[str] = field(default_factory=list)  # standard mode: expected files not found
    ignored: list[str] = field(default_factory=list)  # custom mode: files that are not videos


def prompt_from_name(name: str) -> tuple[str, int]:
    """VBench's custom-input rule: `{prompt}-{i}.mp4` → (prompt, i); no index → (stem, 0)."""
    stem = Path(name).stem if Path(name).suffix else name
    match = TRAILING_INDEX.match(stem)
    if match:
        return match["prompt"], int(match["index"])
    return stem, 0


def video_file_name(prompt: str, sample_index: int, suffix: str = ".mp4") -> str:
    """VBench's `{prompt}-{i}.mp4`, made safe for file systems."""
    stem = prompt.replace("/", "_")
    if len(stem.encode()) > MAX_NAME_BYTES:
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:12]
        stem = stem.encode()[: MAX_NAME_BYTES - 13].decode(errors="ignore") + "_" + digest
    return f"{stem}-{sample_index}{suffix}"


def sample_seed(base_seed: int, prompt: str, sample_index: int) -> int:
    """A seed per (prompt, sample) that does not depend on order or on the other prompts."""
    digest = hashlib.sha256(f"{base_seed}|{prompt}|{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def custom_input(
    folder: Path, dimensions: list[str], prompt_file: Path | None = None
) -> WorkList:
    if not folder.exists():
        raise InputError(f"video folder {folder} does not exist; pass --videos with an existing folder")
    folder = folder.resolve()  # absolute paths in the store, so the leaderboard can play them
    if not folder.is_dir() and not folder.is_file():
        raise InputError(f"--videos {folder} is neither a folder nor a regular file")
    if folder.is_file():
        candidates, ignored = [folder], list[Path]()
        folder = folder.parent
    else:
        candidates, ignored = _videos_in(folder)
    if not candidates:
        raise InputError(
            f"no videos in {folder} (looked for {', '.join(sorted(VIDEO_SUFFIXES))} files "
            "and folders of frame images)"
        )
    prompts = _read_prompt_file(prompt_file, folder, candidates) if prompt_file else {}
    items = []
    for path in candidates:
        prompt, index = prompt_from_name(path.name)
        if prompts:
            prompt = prompts[path]
        key = path.relative_to(folder).as_posix()
        items.append(VideoItem(key, path, prompt, prompt, index, None, list(dimensions)))
    return WorkList(items=items, ignored=[p.name for p in ignored])


def suite_requests(
    suite: Any, dimensions: list[str], samples: int, base_seed: int
) -> list[VideoItem]:
    """(prompt, sample) pairs of a suite for the requested dimensions, paths not yet resolved."""
    tagged = {d for entry in suite.entries for d in entry.dimensions}
    untagged = [d for d in dimensions if d not in tagged]
    items: dict[str, VideoItem] = {}
    for entry in suite.entries:
        dims = [d for d in dimensions if d in entry.dimensions] + untagged
        if not dims:
            continue
        for index in range(samples):
            name = video_file_name(entry.prompt, index)
            if name in items:  # VBench's duplicate prompt strings resolve to the same files
                item = items[name]
                item.dimensions += [d for d in dims if d not in item.dimensions]
                item.aux.update(entry.aux)
                continue
            seed = sample_seed(base_seed, entry.prompt, index)
            items[name] = VideoItem(
                video_key=name, path=Path(name), prompt_id=entry.prompt_id,
                prompt=entry.prompt, sample_index=index, seed=seed,
                dimensions=dims, aux=dict(entry.aux), image=getattr(entry, "image", None),
            )
    return list(items.values())


def standard_mode(
    folder: Path, suite: Any, dimensions: list[str], samples: int, base_seed: int
) -> WorkList:
    if not folder.is_dir():
        raise InputError(f"video folder {folder} does not exist; pass --videos with an existing folder")
    folder = folder.resolve()
    present = {p.stem: p for p in _videos_in(folder)[0]}
    items, missing = [], []
    for item in suite_requests(suite, dimensions, samples, base_seed):
        stem = Path(item.video_key).stem
        if stem in present:
            item.path = present[stem]
            item.video_key = present[stem].relative_to(folder).as_posix()
            item.seed = None  # existing files: the seed that made them is unknown
            items.append(item)
        else:
            missing.append(item.video_key)
    if not items:
        raise InputError(
            f"none of the suite's videos are in {folder}; files must be named "
            f"{{prompt}}-{{i}}.mp4, e.g. '{missing[0] if missing else 'a cat-0.mp4'}'"
        )
    return WorkList(items=items, missing=missing)


def _videos_in(folder: Path) -> tuple[list[Path], list[Path]]:
    videos, ignored = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            if any(p.suffix.lower() in FRAME_SUFFIXES and p.is_file() for p in path.iterdir()):
                videos.append(path)
        elif path.suffix.lower() in VIDEO_SUFFIXES and path.is_file():  # not a FIFO, socket or device
            videos.append(path)
        else:
            ignored.append(path)
    return videos, ignored


def _read_prompt_file(prompt_file: Path, folder: Path, videos: list[Path]) -> dict[Path, str]:
    """VBench's `--prompt_file`: JSON {video path (relative to the folder, or absolute): prompt}."""
    try:
        raw = json.loads(Path(prompt_file).read_text())
    except FileNotFoundError:
        raise InputError(f"prompt file {prompt_file} does not exist") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"prompt file {prompt_file} is not valid JSON ({error})") from None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise InputError(f"prompt file {prompt_file} must be a JSON object {{video path: prompt}}")
    by_path = {}
    for key, prompt in raw.items():
        path = Path(key) if Path(key).is_absolute() else folder / key
        by_path[path.resolve()] = prompt
    lacking = [v.name for v in videos if v.resolve() not in by_path]
    if lacking:
        shown = ", ".join(lacking[:3]) + (" …" if len(lacking) > 3 else "")
        raise InputError(f"prompt file {prompt_file} has no prompt for {len(lacking)} video(s): {shown}")
    return {v: by_path[v.resolve()] for v in videos}


def run_task(generator_task: str | None, images_dir: Path | None, suite: Any, dims: list[str]) -> str:
    """"i2v" or "t2v": the generator's task; for existing videos, "i2v" when --images is given or
    when every suite prompt the run scores carries an image, else "t2v"."""
    if generator_task is not None:
        if images_dir is not None and generator_task != "i2v":
            raise InputError(f"--images is for image-to-video runs; this generator is {generator_task}")
        return generator_task
    if images_dir is not None or (suite is not None and suite.is_image_to_video(dims)):
        return "i2v"
    return "t2v"


def attach_images(items: list[VideoItem], images_dir: Path | None, required: bool = True) -> list[str]:
    """Set each item's conditioning image; return the video keys left without one.

    A suite image given as an absolute path (our YAML suites resolve theirs) is kept; a bare name
    (VBench++'s `image_name`) is looked up in `images_dir`; an item with no suite image takes
    `images_dir/{prompt}.jpg|.jpeg|.png`, VBench's custom-input rule. When the images are
    `required` (an I2V generator or dimension needs them), finding none at all is an InputError.
    """
    if images_dir is not None and not images_dir.is_dir():
        raise InputError(f"image folder {images_dir} does not exist; pass --images with a folder of images")
    by_prompt = _images_by_prompt(images_dir) if images_dir is not None else {}
    missing = []
    for item in items:
        if item.image is not None and Path(item.image).is_absolute():
            found: Path | None = Path(item.image)
        elif item.image is not None and images_dir is not None:
            found = images_dir / item.image
        elif item.image is not None:
            if required:
                raise InputError(
                    f"the suite names images ('{item.image}') but no --images DIR was given; pass the "
                    "folder of the suite's images cut to your videos' aspect ratio (e.g. crop/16-9)"
                )
            found = None
        else:
            found = by_prompt.get(item.prompt)
        if found is None or not found.is_file():
            missing.append(item.video_key)
            item.image = None
        else:
            item.image = str(found)
    if required and images_dir is not None and items and len(missing) == len(items):
        example = items[0].prompt
        raise InputError(
            f"no conditioning image found in {images_dir} for any video; images are named after the "
            f"suite's image_name or, for custom input, after the prompt, e.g. '{example}.jpg'"
        )
    return missing


def _images_by_prompt(folder: Path) -> dict[str, Path]:
    """VBench's `build_custom_image_dict`: {file stem: path} for the folder's .jpg/.jpeg/.png files."""
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
