"""The `folder` adapter: videos that already exist, laid out as VBench names them.

For each request it looks for `{prompt}-{sample_index}.{ext}` in the folder given with
`--weights DIR` (or the `dir` option) and hands that file over unchanged, so any generator's
output can be evaluated in standard mode with a prompt suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from vbench_lite.decode import VIDEO_SUFFIXES
from vbench_lite.errors import InputError
from vbench_lite.generator import GeneratedVideo, GenerationRequest, Generator


class FolderGenerator(Generator):
    name: ClassVar[str] = "folder"
    task: ClassVar = "t2v"
    licence: ClassVar[str] = "n/a (existing files)"
    description: ClassVar[str] = "existing videos named {prompt}-{i}.mp4 in --weights DIR"

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self.folder: Path | None = None

    def load(self, device: str, dtype: str, weights: Path | None) -> None:
        folder = weights or self.options.get("dir")
        if folder is None:
            raise InputError("--model folder needs the video folder: pass --weights DIR")
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"video folder {self.folder} does not exist")

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "revision": str(self.folder), "options": self.options}

    def generate(self, requests: list[GenerationRequest]) -> list[GeneratedVideo]:
        assert self.folder is not None, "load() first"
        results = []
        for request in requests:
            stem = f"{request.prompt}-{request.sample_index}"
            found = [self.folder / f"{stem}{ext}" for ext in sorted(VIDEO_SUFFIXES)]
            path = next((p for p in found if p.exists()), None)
            error = None if path else f"no file {stem}.mp4 in {self.folder}"
            results.append(GeneratedVideo(request=request, path=path, error=error))
        return results
