"""A seeded random MUSIQ in the file layout of pyiqa's `musiq_spaq_ckpt-358bb6af.pth` (test helper, not a test).

MUSIQ's size is fixed by pyiqa's class, so this is the full network with random weights; needs pyiqa.
"""

from __future__ import annotations

from pathlib import Path

import torch


def write_random_musiq(folder: Path, seed: int = 7) -> Path:
    """`<folder>/musiq_spaq_ckpt-358bb6af.pth`: a plain state dict, as pyiqa's release files are."""
    from pyiqa.archs.musiq_arch import MUSIQ

    torch.manual_seed(seed)
    network = MUSIQ(pretrained=False)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "musiq_spaq_ckpt-358bb6af.pth"
    torch.save(network.state_dict(), path)
    return path
