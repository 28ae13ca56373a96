"""Our from-scratch PyTorch ContentV-8B: SD3.5-Large's MMDiT over video tokens with a 3-D sin-cos
position encoding (`mmdit`, `posenc`), the Wan2.1 causal 3-D VAE (`wan_vae`), flow-matching Euler
with shift and CFG (`sampler`), the SD3 or toy text stack (`text`), checkpoint I/O (`loading`) and
the glue (`pipeline`). Presets are data: `presets/tiny.json`, `presets/contentv-8b.json`.
Overview and numerical traps: docs/architecture.md, "The bundled reference generator".
"""
