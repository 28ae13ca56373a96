"""The `external` adapter: a generator that runs as a separate command (Step-Video-T2V, the official
ContentV code, anything without a diffusers pipeline), spoken to through JSON lines.

Protocol (one JSON object per line; the command's stdout carries only protocol lines, its stderr
is passed through as logs):

1. vbl starts `command` once (option `command`: a string split like a shell would, or a list),
   with the environment variables VBL_DEVICE, VBL_DTYPE and VBL_WEIGHTS (empty when none).
2. The command loads its model, then prints a ready line:
       {"ready": true, "name": "...", "revision": "...", "licence": "..."}
3. For each video vbl writes a request line:
       {"type": "generate", "prompt_id": "...", "prompt": "...", "sample_index": 0, "seed": 42,
        "out_path": "/abs/path.mp4", "image": null, "params": {...the adapter's options...}}
   and the command answers with one line, after writing the mp4 at out_path:
       {"ok": true, "fps": 24, "num_frames": 49, "params": {...effective parameters...}}
   or, when that one video failed:
       {"ok": false, "error": "one-line reason"}
4. vbl writes {"type": "shutdown"} and closes stdin; the command exits.

A command that dies, prints something else or stays silent past `timeout_s` fails the request it
was working on with a one-line reason; the adapter restarts nothing by itself.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from vbench_lite.errors import InputError
from vbench_lite.generator import GeneratedVideo, GenerationRequest, Generator

PROTOCOL_VERSION = 1


class ExternalGenerator(Generator):
    name: ClassVar[str] = "external"
    task: ClassVar = "t2v"
    licence: ClassVar[str] = "declared by the external command"
    description: ClassVar[str] = "a user command speaking vbl's JSON-lines protocol (see module doc)"
    defaults: ClassVar[dict[str, Any]] = {"command": None, "timeout_s": 3600.0, "ready_timeout_s": 600.0}

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self.process: subprocess.Popen | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.ready: dict[str, Any] = {}

    def _command(self) -> list[str]:
        command = self.options.get("command")
        if not command:
            raise InputError("--model external needs a command: pass it as the model option `command`")
        return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]

    def load(self, device: str, dtype: str, weights: Path | None) -> None:
        command = self._command()
        env = {
            **os.environ,
            "VBL_DEVICE": str(device),
            "VBL_DTYPE": str(dtype),
            "VBL_WEIGHTS": str(weights) if weights else "",
            "VBL_PROTOCOL": str(PROTOCOL_VERSION),
        }
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env
            )
        except OSError as error:
            raise InputError(f"cannot start external generator {command[0]}: {error.strerror}") from None
        threading.Thread(target=self._pump, daemon=True).start()
        reply = self._read(float(self.options["ready_timeout_s"]))
        if not isinstance(reply, dict) or not reply.get("ready"):
            self.close()
            raise InputError(f"external generator {command[0]} did not report ready ({reply})")
        self.ready = reply

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of output: the process has exited

    def _read(self, timeout: float) -> dict[str, Any] | str:
        """The next protocol object, or a string saying why there is none."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return f"no answer within {timeout:g}s"
        if line is None:
            code = self.process.wait() if self.process else None
            return f"the command exited (code {code})"
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            return f"not a protocol line: {line.strip()[:200]!r}"
        return value if isinstance(value, dict) else f"not a JSON object: {line.strip()[:200]!r}"

    def _send(self, message: dict[str, Any]) -> str | None:
        try:
            assert self.process is not None and self.process.stdin is not None
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return "the command is no longer running"
        return None

    def generate(self, requests: list[GenerationRequest]) -> list[GeneratedVideo]:
        if self.process is None:
            raise RuntimeError("generate() called before load()")
        params = {k: v for k, v in self.options.items() if k not in self.defaults}
        results = []
        for request in requests:
            start = time.perf_counter()
            message = {
                "type": "generate",
                "prompt_id": request.prompt_id,
                "prompt": request.prompt,
                "sample_index": request.sample_index,
                "seed": request.seed,
                "out_path": str(Path(request.out_path).resolve()),
                "image": str(request.image) if request.image else None,
                "params": params,
            }
            reply = self._send(message) or self._read(float(self.options["timeout_s"]))
            seconds = time.perf_counter() - start
            path = Path(request.out_path)
            if isinstance(reply, str):
                results.append(GeneratedVideo(request, None, seconds=seconds, error=f"external: {reply}"))
            elif not reply.get("ok"):
                error = str(reply.get("error") or "failed without a reason").splitlines()[0]
                results.append(GeneratedVideo(request, None, seconds=seconds, error=f"external: {error}"))
            elif not path.is_file():
                results.append(
                    GeneratedVideo(
                        request, None, seconds=seconds, error=f"external: reported ok but wrote no file at {path}"
                    )
                )
            else:
                results.append(
                    GeneratedVideo(
                        request,
                        path,
                        fps=float(reply.get("fps", 0.0)),
                        num_frames=int(reply.get("num_frames", 0)),
                        seconds=seconds,
                        params=dict(reply.get("params") or {}),
                    )
                )
        return results

    def provenance(self) -> dict[str, Any]:
        return {
            "name": self.ready.get("name", self.name),
            "revision": self.ready.get("revision", ""),
            "licence": self.ready.get("licence", ""),
            "options": self.options,
        }

    def close(self) -> None:
        if self.process is None:
            return
        self._send({"type": "shutdown"})
        try:
            if self.process.stdin:
                self.process.stdin.close()
        except OSError:  # the command already exited; nothing to tell it
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
