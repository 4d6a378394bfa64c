"""Small payload helpers shared by this package's processors."""

from __future__ import annotations

from collector.signals import Payload


def mark_modified_keep_count(payload: Payload) -> None:
    """`payload.modified()` for edits that keep the item count (resource/attribute changes).

    `Payload.modified()` forgets the count unless told it; recounting walks every scope, so we pass
    the cached count through. (Wanted upstream: `Payload.modified(keep_count=True)`.)
    """
    payload.modified(payload._item_count)  # noqa: SLF001

