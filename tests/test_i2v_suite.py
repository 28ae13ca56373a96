"""VBench++'s image-to-video suite: the crop to an aspect ratio, the suite formats, and how a run
pairs each video with its conditioning image."""

from __future__ import annotations

import json
import random
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
from clips import sample_frames
from PIL import Image
from typer.testing import CliRunner

from vbench_lite.errors import InputError
from vbench_lite.prompts import load_suite
from vbench_lite.prompts.i2v_crop import CropInfo, crop_suite, parse_ratio, target_box
from vbench_lite.samples import SAMPLE_CLIPS
from vbench_lite.worklist import VideoItem, attach_images, run_task, suite_requests

# The two records of VBench's I2V README (vbench2_beta_i2v/README.md, "Meta Information"), with
# the boxes VBench ships pre-cut for its four ratios.
README_RECORDS = [
    {
        "file_name": "a beach with a lot of buildings on the side of a cliff.jpg",
        "origin_width": 4882, "origin_height": 6102,
        "first_crop": {"width": 4882, "height": 6102, "first_bbox": [0, 530, 4882, 4882]},
        "second_crop": {"width": 4882, "height": 4882, "second_bbox": [0, 1094, 4880, 2745]},
        "diff_ratio_crop": {"1-1": [0, 530, 4882, 4882], "8-5": [0, 1345, 4880, 3050],
                            "7-4": [0, 1584, 4879, 2788], "16-9": [0, 1624, 4880, 2745]},
    },
    {
        "file_name": "a squirrel sitting on the ground eating a piece of bread.jpg",
        "origin_width": 3381, "origin_height": 2254,
        "first_crop": {"width": 3381, "height": 2254, "first_bbox": [0, 252, 3376, 1899]},
        "second_crop": {"width": 3376, "height": 1899, "second_bbox": [720, 0, 1899, 1899]},
        "diff_ratio_crop": {"1-1": [720, 252, 1899, 1899], "8-5": [26, 252, 3032, 1895],
                            "7-4": [3, 252, 3318, 1896], "16-9": [0, 252, 3376, 1899]},
    },
]  # fmt: skip
# Entries copied from VBench's vbench2_i2v_full_info.json (its layout: no auxiliary_info).
I2V_FULL_INFO = [
    {"prompt_en": "a close up of a blue and orange liquid",
     "dimension": ["i2v_background", "background_consistency", "aesthetic_quality", "imaging_quality",
                   "temporal_flickering"],
     "image_type": "abstract", "image_name": "a close up of a blue and orange liquid.jpg"},
    {"prompt_en": "a close up of a blue and orange liquid, camera pans left", "dimension": ["camera_motion"],
     "image_type": "abstract", "image_name": "a close up of a blue and orange liquid.jpg"},
]  # fmt: skip


# ---- the crop -----------------------------------------------------------------------------------


@pytest.mark.parametrize("record", README_RECORDS, ids=["portrait", "landscape"])
def test_crop_arithmetic_reproduces_the_boxes_vbench_ships_for_its_four_ratios(record):
    info = CropInfo.from_record(record, "readme")
    for ratio, box in record["diff_ratio_crop"].items():
        assert list(target_box(info, ratio)) == box, ratio


def test_crop_offset_is_drawn_with_seed_123_and_leaves_the_global_random_state_alone():
    info = CropInfo.from_record(README_RECORDS[1], "readme")
    random.seed(7)
    before = random.random()
    random.seed(7)
    target_box(info, "5-4")
    assert random.random() == before
    random.seed(123)  # VBench's draw for the squirrel at 8-5: x in [0, 344]
    assert target_box(info, "8-5")[0] == random.randint(0, 344)


@pytest.mark.parametrize("ratio, fragment", [("16:9", "W-H"), ("9-16", "range"), ("2-1", "range"), ("1-0", "range")])
def test_a_ratio_outside_vbench_range_is_a_one_line_error(ratio, fragment):
    with pytest.raises(InputError, match=fragment) as error:
        parse_ratio(ratio)
    assert "\n" not in str(error.value)


def varied_images(folder: Path) -> list[dict]:
    """Real frames at varied sizes and orientations, with crop records built as VBench's are: a
    landscape original cut 16:9 then square, a portrait one cut square then 16:9, every 16:9 box
    on the 16-pixel grid (as in VBench's records: 4880 × 2745 = 305 · (16, 9))."""
    rng = np.random.default_rng(5)
    sources = [("bigbuckbunny", 40, (1280, 720)), ("bikes", 10, (640, 272)), ("carphone_pristine", 3, (176, 144)),
               ("bikes", 60, (600, 900)), ("bigbuckbunny", 90, (720, 1100)), ("carphone_pristine", 50, (640, 640))]
    records = []
    for index, (clip, frame, (width, height)) in enumerate(sources):
        name = f"image {index}.jpg"
        Image.fromarray(sample_frames(clip)[0][frame]).resize((width, height)).save(folder / name, quality=95)
        if width > height:  # 16:9 first crop, then a square inside it
            step = min(height // 9, width // 16)
            fw, fh = 16 * step, 9 * step
            first = [int(rng.integers(0, width - fw + 1)), int(rng.integers(0, height - fh + 1)), fw, fh]
            second = [int(rng.integers(0, fw - fh + 1)), 0, fh, fh]
        else:  # square first crop, then a 16:9 box inside it
            fw = fh = width
            first = [0, int(rng.integers(0, height - width + 1)), width, width]
            step = width // 16
            second = [0, int(rng.integers(0, width - 9 * step + 1)), 16 * step, 9 * step]
        records.append({"file_name": name, "origin_width": width, "origin_height": height,
                        "first_crop": {"width": width, "height": height, "first_bbox": first},
                        "second_crop": {"width": fw, "height": fh, "second_bbox": second}})
    return records


@pytest.mark.fidelity
@pytest.mark.parametrize("ratio", ["1-1", "8-5", "7-4", "16-9", "5-4", "13-8"])
def test_crop_equals_vbench_crop_script_pixel_for_pixel(tmp_path, ratio):
    vbench_crop = pytest.importorskip("vbench2_beta_i2v.crop_to_diff_ratio")
    origin = tmp_path / "origin"
    origin.mkdir()
    info_path = tmp_path / "i2v-bench-info.json"
    info_path.write_text(json.dumps(varied_images(origin)))

    vbench_crop.get_target_crop(Namespace(crop_info_path=str(info_path), target_ratio=ratio,
                                          ori_image_path=str(origin), result_path=str(tmp_path / "vbench")))
    ours = crop_suite(info_path, origin, ratio, tmp_path / "ours")

    assert len(ours) == 6
    for path in ours:
        theirs = tmp_path / "vbench" / ratio / path.name
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(theirs))), path.name
        assert path.read_bytes() == theirs.read_bytes()  # the same PIL save: the same JPEG bytes
        width, height = Image.open(path).size
        ratio_w, ratio_h = parse_ratio(ratio)
        assert width * ratio_h == height * ratio_w
    boxes = json.loads((tmp_path / "vbench" / f"target_crop_info_{ratio}.json").read_text())
    assert json.loads((tmp_path / "ours" / f"target_crop_info_{ratio}.json").read_text()) == boxes


@pytest.mark.fidelity
def test_a_record_vbench_rejects_is_a_one_line_error_here(tmp_path):
    vbench_crop = pytest.importorskip("vbench2_beta_i2v.crop_to_diff_ratio")
    off_grid = {"width": 300, "height": 300, "second_bbox": [0, 40, 300, 168]}  # 168 > int(300/16)·9
    with pytest.raises(AssertionError):
        vbench_crop.get_other_ratio_crop(off_grid, "16-9")
    record = {"file_name": "x.jpg", "first_crop": {"first_bbox": [0, 0, 300, 300]}, "second_crop": off_grid}
    with pytest.raises(InputError, match="x.jpg: no 16-9 box"):
        target_box(CropInfo.from_record(record, "info.json: entry 0"), "16-9")
    with pytest.raises(InputError, match="entry 3"):
        CropInfo.from_record({"file_name": "y.jpg"}, "info.json: entry 3")


def test_crop_images_command_cuts_the_suite_and_reports_bad_input_in_one_line(tmp_path):
    from vbench_lite.cli import app

    origin = tmp_path / "origin"
    origin.mkdir()
    info = tmp_path / "info.json"
    info.write_text(json.dumps(varied_images(origin)[:2]))
    runner = CliRunner()
    done = runner.invoke(app, ["crop-images", str(info), str(origin), "--ratio", "8-5", "--out", str(tmp_path / "cut")])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (tmp_path / "cut" / "8-5").iterdir()) == ["image 0.jpg", "image 1.jpg"]
    bad = runner.invoke(app, ["crop-images", str(info), str(origin), "--ratio", "9-16", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "outside VBench's range" in bad.output
    missing = runner.invoke(app, ["crop-images", str(info), str(tmp_path / "nowhere"), "--out", str(tmp_path / "y")])
    assert missing.exit_code == 2 and "not found" in missing.output


# ---- suites -------------------------------------------------------------------------------------


def test_vbench_i2v_full_info_keeps_prompt_image_name_and_no_aux(tmp_path):
    path = tmp_path / "vbench2_i2v_full_info.json"
    path.write_text(json.dumps(I2V_FULL_INFO))
    suite = load_suite(path)
    assert [e.image for e in suite.entries] == ["a close up of a blue and orange liquid.jpg"] * 2
    assert suite.entries[1].prompt == "a close up of a blue and orange liquid, camera pans left"
    assert suite.entries[1].aux == {}
    assert suite.is_image_to_video(["i2v_background"]) and suite.for_task("t2v").entries == []


def test_vbl_mini_i2v_part_is_the_sample_clips_with_their_first_frames():
    suite = load_suite("vbl-mini")
    i2v = suite.for_task("i2v")
    similarity = [e for e in i2v.entries if "i2v_subject" in e.dimensions]
    assert {e.prompt for e in similarity} <= set(SAMPLE_CLIPS.values()) and len(similarity) == 3
    camera = [e for e in i2v.entries if e.dimensions == ["camera_motion"]]  # one image, seven motions
    assert len(camera) == 7 and len(i2v.entries) == 10
    assert all(Path(e.image).is_file() for e in i2v.entries)
    assert suite.for_task("t2v").entries == [e for e in suite.entries if e.image is None]
    assert suite.is_image_to_video(["i2v_subject", "i2v_background"])
    assert not suite.is_image_to_video(["subject_consistency", "i2v_subject"])


# ---- which task a run is, and its images --------------------------------------------------------


def test_run_task_follows_the_generator_then_images_then_the_suite(tmp_path):
    suite = load_suite("vbl-mini")
    assert run_task("i2v", None, suite, ["subject_consistency"]) == "i2v"
    assert run_task(None, tmp_path, None, ["subject_consistency"]) == "i2v"
    assert run_task(None, None, suite, ["i2v_subject"]) == "i2v"
    assert run_task(None, None, suite, ["i2v_subject", "aesthetic_quality"]) == "t2v"
    assert run_task(None, None, None, ["i2v_subject"]) == "t2v"
    with pytest.raises(InputError, match="image-to-video"):
        run_task("t2v", tmp_path, suite, ["clip_score"])


def item(prompt: str, image: str | None = None) -> VideoItem:
    return VideoItem(f"{prompt}-0.mp4", Path(f"{prompt}-0.mp4"), prompt, prompt, 0, None, ["i2v_subject"], image=image)


def test_custom_input_takes_the_image_named_after_the_prompt_as_vbench_does(tmp_path):
    for name in ("a cat.jpg", "a dog.PNG", "a car.gif"):
        (tmp_path / name).write_bytes(b"x")
    items = [item("a cat"), item("a dog"), item("a car")]
    missing = attach_images(items, tmp_path)
    assert [i.image for i in items] == [str(tmp_path / "a cat.jpg"), str(tmp_path / "a dog.PNG"), None]
    assert missing == ["a car-0.mp4"]


def test_suite_image_names_resolve_in_the_images_folder_and_need_one(tmp_path):
    (tmp_path / "liquid.jpg").write_bytes(b"x")
    items = [item("p", image="liquid.jpg"), item("q", image=str(tmp_path / "liquid.jpg"))]
    assert attach_images(items, tmp_path) == []
    assert items[0].image == str(tmp_path / "liquid.jpg")
    with pytest.raises(InputError, match="--images"):
        attach_images([item("p", image="liquid.jpg")], None)
    with pytest.raises(InputError, match="no conditioning image found"):
        attach_images([item("p", image="other.jpg")], tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        attach_images([item("p")], tmp_path / "nowhere")


def test_images_are_optional_when_no_requested_dimension_needs_them(tmp_path):
    # e.g. camera_motion alone on VBench++'s suite reads only the prompt: no --images needed
    items = [item("p", image="liquid.jpg"), item("q", image="other.jpg")]
    assert attach_images(items, None, required=False) == ["p-0.mp4", "q-0.mp4"]
    assert [i.image for i in items] == [None, None]
    assert attach_images([item("r", image="missing.jpg")], tmp_path, required=False) == ["r-0.mp4"]


def test_suite_requests_carry_each_entry_image_and_the_task_filter_keeps_t2v_runs_unchanged():
    suite = load_suite("vbl-mini")
    t2v = suite_requests(suite.for_task("t2v"), ["subject_consistency"], 2, 0)
    assert all(i.image is None for i in t2v) and len(t2v) == 2 * len(suite.for_dimensions(["subject_consistency"]))
    i2v = suite_requests(suite.for_task("i2v"), ["i2v_subject", "aesthetic_quality"], 1, 0)
    assert len(i2v) == 10 and all(Path(i.image).is_file() for i in i2v)
    # aesthetic_quality is tagged on no prompt, so it scores every prompt; i2v_subject its three
    assert sorted(len(i.dimensions) for i in i2v) == [1] * 7 + [2] * 3
    assert all(i.dimensions[-1] == "aesthetic_quality" for i in i2v)
