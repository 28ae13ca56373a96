"""Getting results in: check an uploaded bundle, import it, or add published VBench rows.

The app reads its store read-only. Writing an accepted bundle needs `VBL_IMPORT_DB` (set by
`vbl leaderboard --allow-import`): only then does this page open a second, writable
`ResultStore` on that URL, for the one import, and close it again. An upload is checked from its
run files alone (never unpacked whole); its videos are extracted only when it is imported.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from vbench_lite.aggregate import load_scheme
from vbench_lite.errors import StoreUnreachable, VblError
from vbench_lite.importer import import_path
from vbench_lite.leaderboard import data, ui
from vbench_lite.leaderboard.bundle import BundleCheck, check_bundle, extract_bundle, unpacked_metadata
from vbench_lite.leaderboard.published import load_published
from vbench_lite.store import ResultStore

st.title("Import results")
current = ui.settings()

st.subheader("A results bundle")
st.markdown(
    "Upload a **zip of a vbl run directory** (manifest.json, scores.parquet, summary.json, videos/) or a "
    "**VBench `eval_results.json`**. It is checked against the board: schema, prompt-suite hash and scorer versions."
)


def import_upload(import_db: str, name: str, content: bytes, model_name: str | None) -> str:
    """Extract the whole upload (videos too) and import it into `import_db`; a temporary copy is
    removed after."""
    if current.results_root:
        # Keep the files where the app may serve videos from.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        target = extract_bundle(name, content, Path(current.results_root) / "imports" / f"{stamp}-{Path(name).stem}")
        with ResultStore(import_db) as store:
            return import_path(store, target, model_name=model_name)
    with tempfile.TemporaryDirectory(prefix="vbl-import-") as folder:
        target = extract_bundle(name, content, Path(folder) / "bundle")
        with ResultStore(import_db) as store:
            return import_path(store, target, model_name=model_name)


upload = st.file_uploader("Results bundle", type=["zip", "json"], key="bundle")
if upload is not None:
    board: data.Board | None
    try:
        board = ui.cached_board(current.db_url)
    except (StoreUnreachable, OSError):
        board = None
        st.warning("The store cannot be read, so the bundle is checked on its own (not against the board).")
    check: BundleCheck | None
    try:
        with unpacked_metadata(upload.name, upload.getvalue()) as target:
            check = check_bundle(target, board)
    except VblError as error:
        st.error(f"Rejected {ui.plain(upload.name)}: {ui.plain(error)}")
        check = None
    if check is not None:
        model_name = None
        if check.kind == "VBench eval_results.json":
            # A VBench file names no model: ask, instead of naming the model after the file.
            model_name = st.text_input(
                "Model name (required: a VBench eval_results.json does not name its model)",
                value="",
                placeholder=check.model or "e.g. my-model",
                key="model_name",
            ).strip() or None
            check.model = model_name or ""
            if not model_name:
                check.add("warning", "model name", "type the model's name above: the file does not say it")
        findings = check.table()
        rejected = findings[findings["level"] == "rejected"]
        if check.accepted:
            st.success(f"{ui.plain(upload.name)}: accepted ({check.kind}, model {ui.plain(check.model or '?')}, "
                       f"run {ui.plain(check.run_id or '?')}).")
        else:
            reasons = "; ".join(f"{r.check}: {r.detail}" for r in rejected.itertuples())
            st.error(f"{ui.plain(upload.name)}: rejected — {ui.plain(reasons)}")
        st.dataframe(findings, hide_index=True, width="stretch", key="findings")

        import_db = current.import_db
        if check.accepted and not import_db:
            st.info(
                "This leaderboard is read-only. Import with `vbl import PATH` (unzip the bundle first; a VBench file "
                "needs `--model NAME`), or start the app with `vbl leaderboard --allow-import` to import here."
            )
        elif import_db and check.accepted and st.button("Import into the store", key="do_import",
                                                        disabled=not check.model):
            try:
                run_id = import_upload(import_db, upload.name, upload.getvalue(), model_name)
            except VblError as error:
                st.error(f"Import failed: {ui.plain(error)}")
            else:
                st.cache_data.clear()
                st.success(f"Imported as run {ui.plain(run_id)}. It is on the leaderboard now.")

st.subheader("Published VBench rows")
st.markdown(
    "Upload published leaderboard rows (CSV or JSON, values in %) to see them next to our runs. They are marked "
    "**published** and ranked in their own group: VBench evaluated them on its full prompt suite."
)
published_upload = st.file_uploader("Published rows", type=["csv", "json"], key="published_upload")
if published_upload is not None:
    try:
        rows = load_published(published_upload.getvalue(), load_scheme(), name=published_upload.name)
    except VblError as error:
        st.error(f"Published rows rejected: {ui.plain(error)}")
    else:
        st.session_state["published_upload_rows"] = rows
        st.success(f"{len(rows)} published row(s) loaded for this session; see the Leaderboard page.")
        st.dataframe(
            rows[["model", "total", "quality", "semantic", "source"]], hide_index=True, key="published_preview"
        )
