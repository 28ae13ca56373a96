"""One instance of each loaded network per process, shared by every dimension that needs it.

Dimensions ask the cache for a backbone by a key that names the network, its weights file and the
device (e.g. ("clip-vit-b32", "/w/ViT-B-32.pt", "cpu")); the first ask loads it, later asks get the
same object. This is how background consistency, appearance style and clip_score share one CLIP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any


class BackboneCache:
    def __init__(self) -> None:
        self._models: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self.loads: list[Hashable] = []  # keys in load order; tests read it to prove sharing
        # The kernel route each loaded network took (e.g. {"dino-vitb16": "onednn"}), for the manifest.
        self.routes: dict[str, str] = {}

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._models:
                model = load()
                self._models[key] = model
                self.loads.append(key)
                # A network whose kernel routes were chosen by measurement says so (see kernel_routes.py).
                route = getattr(model, "vbl_kernel_route", None) or getattr(
                    getattr(model, "network", None), "vbl_kernel_route", None)
                if route:
                    label = key[0] if isinstance(key, tuple) else key
                    self.routes[str(label)] = str(route)
            return self._models[key]

    def __contains__(self, key: Hashable) -> bool:
        return key in self._models

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
