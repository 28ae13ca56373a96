"""Getting results in: check an uploaded bundle, import it, or add published VBench rows.

The app reads its store read-only. Writing an accepted bundle needs `VBL_IMPORT_DB` (set by
`vbl leaderboard --allow-import`): only then does this page open a second, writable
`ResultStore` on that URL, for the one import, and close it again.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from vbench_lite.aggregate import load_scheme
from vbench_lite.errors import StoreUnreachable, VblError
from vbench_lite.importer import import_path
from vbench_lite.leaderboard import data, ui
from vbench_lite.leaderboard.bundle import check_bundle, unpack_upload
from vbench_lite.leaderboard.published import load_published
from vbench_lite.store import ResultStore

st.title("Import results")
current = ui.settings()

st.subheader("A results bundle")
st.markdown(
    "Upload a **zip of a vbl run directory** (manifest.json, scores.parquet, summary.json, videos/) or a "
    "**VBench `eval_results.json`**. It is checked against the board: schema, prompt-suite hash and scorer versions."
)


def unpacked(upload: UploadedFile) -> Path | None:
    """The upload unpacked once per file (reruns reuse it); the previous upload's folder is removed."""
    state = st.session_state.setdefault("bundle_workspace", {})
    if state.get("file_id") != upload.file_id:
        if state.get("folder"):
            shutil.rmtree(state["folder"], ignore_errors=True)
        folder = tempfile.mkdtemp(prefix="vbl-upload-")
        state.update(file_id=upload.file_id, folder=folder, target=None, error=None)
        try:
            state["target"] = unpack_upload(upload.name, upload.getvalue(), Path(folder))
        except VblError as error:
            state["error"] = str(error)
    if state["error"]:
        st.error(f"Rejected {upload.name}: {state['error']}")
    return state["target"]


upload = st.file_uploader("Results bundle", type=["zip", "json"], key="bundle")
target = unpacked(upload) if upload is not None else None
if upload is not None and target is not None:
    board: data.Board | None
    try:
        board = ui.cached_board(current.db_url)
    except (StoreUnreachable, OSError):
        board = None
        st.warning("The store cannot be read, so the bundle is checked on its own (not against the board).")
    check = check_bundle(target, board)
    findings = check.table()
    rejected = findings[findings["level"] == "rejected"]
    if check.accepted:
        st.success(f"{upload.name}: accepted ({check.kind}, model {check.model or '?'}, run {check.run_id or '?'}).")
    else:
        st.error(f"{upload.name}: rejected — " + "; ".join(f"{r.check}: {r.detail}" for r in rejected.itertuples()))
    st.dataframe(findings, hide_index=True, width="stretch", key="findings")

    if check.accepted and not current.import_db:
        st.info(
            "This leaderboard is read-only. Import with `vbl import PATH` (unzip the bundle first), or start the app "
            "with `vbl leaderboard --allow-import` to import from this page."
        )
    elif check.accepted and current.import_db and st.button("Import into the store", key="do_import"):
        destination = target
        if current.results_root:
            # Keep the files where the app may serve videos from, not in a temporary folder.
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            destination = Path(current.results_root) / "imports" / f"{stamp}-{target.name}"
            destination.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if target.is_dir() else shutil.copy2)(target, destination)
        try:
            with ResultStore(current.import_db) as store:
                run_id = import_path(store, destination, model_name=check.model or None)
        except VblError as error:
            st.error(f"Import failed: {error}")
        else:
            st.cache_data.clear()
            st.success(f"Imported as run {run_id}. It is on the leaderboard now.")

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
        st.error(f"Published rows rejected: {error}")
    else:
        st.session_state["published_upload_rows"] = rows
        st.success(f"{len(rows)} published row(s) loaded for this session; see the Leaderboard page.")
        st.dataframe(
            rows[["model", "total", "quality", "semantic", "source"]], hide_index=True, key="published_preview"
        )
