"""`vbl crop-images`: cut VBench++'s I2V image suite to an aspect ratio, as VBench's crop script does.

`register(app)` adds the command; only typer is imported until the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vbench_lite.errors import VblError


def register(app: typer.Typer) -> None:
    app.command("crop-images", help="Cut VBench++'s I2V images to an aspect ratio (VBench's crop).")(crop_images)


def crop_images(
    info: Annotated[Path, typer.Argument(help="VBench's i2v-bench-info.json (the images' crop boxes)")],
    origin: Annotated[Path, typer.Argument(help="folder of VBench's original images (origin.zip)")],
    ratio: Annotated[str, typer.Option(help="target aspect ratio W-H, from 1-1 to 16-9")] = "16-9",
    out: Annotated[Path, typer.Option(help="writes OUT/<ratio>/ and OUT/target_crop_info_<ratio>.json")] = Path(
        "target_crop"
    ),
) -> None:
    """Cut every image of the suite to RATIO; then pass OUT/RATIO to `vbl evaluate --images`."""
    from rich.console import Console

    from vbench_lite.prompts.i2v_crop import crop_suite

    try:
        paths = crop_suite(info, origin, ratio, out)
    except VblError as error:
        Console(stderr=True).print(f"[red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(error.exit_code) from None
    Console().print(f"{len(paths)} images cut to {ratio} in {out / ratio}")
