"""`vbl gate`: did a candidate run regress against a baseline, beyond noise? (docs/gate.md)

One concern per module:
  policy   - the TOML policy (margins, floors, method, alpha), validated by pydantic
  inputs   - a run directory or a baseline file -> per-prompt score tables
  baseline - `vbl baseline promote`: a run -> a reviewed baseline JSON, and its schema
  compat   - what must match between candidate and baseline (exit 3 otherwise)
  stats    - paired statistics over prompts: bootstrap, exact McNemar, Holm
  decision - FAIL / WARN / IMPROVED / PASS per row, and the exit code
  engine   - the whole comparison, inputs to a `GateReport`
  report, junit, github - the outputs; commands - the Typer commands
"""
