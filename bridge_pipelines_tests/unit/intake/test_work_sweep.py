"""Files a killed run left in the work folder are removed; a live download's are not."""

import os
import time
from pathlib import Path

from bridge_pipelines.intake.runtime import sweep_stale_work_files


def test_stale_work_files_go_and_live_ones_stay(tmp_path: Path) -> None:
    dead_part = tmp_path / f"{'a' * 32}.part"
    dead_download = tmp_path / ("b" * 32)
    live_part = tmp_path / f"{'c' * 32}.part"
    for path in (dead_part, dead_download, live_part):
        path.write_bytes(b"bytes")
    old = time.time() - 2 * 3600
    os.utime(dead_part, (old, old))
    os.utime(dead_download, (old, old))

    removed = sweep_stale_work_files(tmp_path)

    assert sorted(removed) == sorted([dead_part.name, dead_download.name])
    assert [p.name for p in tmp_path.iterdir()] == [live_part.name]
