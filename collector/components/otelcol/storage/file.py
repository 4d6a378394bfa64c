"""`otelcol.storage.file`: a directory where exporters keep their persistent sending queues.

A pure value component, like `discovery.relabel`: its `handler` export (a `FileStorageHandler`
capsule) tells an exporter whose `sending_queue { storage = ... }` names it where its queue files go
and how to write them; the exporter's worker process opens its own queue directory
`<directory>/<exporter id>/<worker signal>-<worker index>/` (`kit/exporterhelper/persistent.py`,
file format in `collector/storage/queuefile.py`). Nothing runs here, in any process.

Alloy's arguments, and what each does here:

* `directory` (default `<--storage.path>/otelcol.storage.file.<label>`), `create_directory`
  (default true) and `directory_permissions` (default "0750", minus the umask): as in Alloy.
* `fsync` (default false): fsync after every append and position save. Without it an append is in
  the page cache once it returns: it survives the death of the collector, not a power loss.
* `timeout` (default "1s"): how long an exporter waits for its queue directory's lock (held by the
  instance a reload replaces, or by another collector) before it reports itself unhealthy; it keeps
  waiting, holding the data upstream, rather than fail.
* `compaction { on_start }`: rewrite the undelivered records into fresh segments at start, dropping
  the delivered part of the oldest segment; `max_transaction_size` bounds the bytes of one write
  of that rewrite. `on_rebound` and `cleanup_on_start` are accepted with either value: delivered
  segments are deleted as soon as their last record is delivered (space comes back online, with no
  trigger to tune) and leftovers of an interrupted compaction are always removed at start.

Refused at validation, because nothing here would apply them: `compaction.directory` (the rewrite
happens inside the queue directory, so a crash midway leaves whole records), and non-default
`rebound_needed_threshold_mib`, `rebound_trigger_threshold_mib` and `check_interval` (they tune a
rebound trigger this format does not need).
"""

from __future__ import annotations

from pathlib import Path

from typing import ClassVar

import msgspec

from collector.components.kit.api import ArgumentError, Component, EvalContext, Placement
from collector.components.kit.exporterhelper.persistent import FileStorageHandler
from collector.components.kit.registry import register
from collector.components.kit.types import Duration


class CompactionArgs(msgspec.Struct, frozen=True, kw_only=True):
    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "on_rebound": "delivered queue segments are deleted as soon as they are delivered, so there is no "
                      "rebound to compact",
        "cleanup_on_start": "leftovers of an interrupted compaction are always removed at start",
    }

    on_start: bool = False
    on_rebound: bool = False
    directory: str = ""
    max_transaction_size: int = 65536
    rebound_needed_threshold_mib: int = 100
    rebound_trigger_threshold_mib: int = 10
    check_interval: Duration = 5.0
    cleanup_on_start: bool = False

    def validate(self) -> None:
        if self.directory:
            raise ArgumentError("compaction.directory is not supported: compaction rewrites the queue files inside "
                                "the storage directory, so that a crash midway never leaves half a record; remove it",
                                "compaction.directory")
        if self.max_transaction_size < 0:
            raise ArgumentError("max_transaction_size must not be negative", "compaction.max_transaction_size")
        defaults = CompactionArgs()
        for name in ("rebound_needed_threshold_mib", "rebound_trigger_threshold_mib", "check_interval"):
            if getattr(self, name) != getattr(defaults, name):
                raise ArgumentError(f"compaction.{name} is not supported: delivered queue segments are deleted as "
                                    "soon as they are delivered, so there is no rebound trigger to tune; remove it",
                                    f"compaction.{name}")


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    directory: str = ""  # default: <storage.path>/<component id>
    timeout: Duration = 1.0
    fsync: bool = False
    create_directory: bool = True
    directory_permissions: str = "0750"
    compaction: CompactionArgs = msgspec.field(default_factory=CompactionArgs)

    def validate(self) -> None:
        if self.timeout < 0:
            raise ArgumentError("timeout must not be negative", "timeout")
        permissions(self.directory_permissions)
        self.compaction.validate()


def permissions(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise ArgumentError(f"directory_permissions {text!r} is not an octal number such as \"0750\"",
                            "directory_permissions") from None
    if not 0 <= mode <= 0o7777:
        raise ArgumentError(f"directory_permissions {text!r} is out of range (0000 to 7777)", "directory_permissions")
    return mode


class Exports(msgspec.Struct, frozen=True):
    handler: FileStorageHandler


@register("otelcol.storage.file", arguments=Arguments, exports=Exports, placement=Placement.NOWHERE)
class FileStorage(Component[Arguments]):
    @classmethod
    def exports(cls, ctx: EvalContext, args: Arguments) -> Exports:
        directory = Path(args.directory) if args.directory else ctx.storage_path / ctx.component_id
        compaction = args.compaction
        return Exports(handler=FileStorageHandler(
            component_id=ctx.component_id, directory=directory, fsync=args.fsync, timeout=args.timeout,
            create_directory=args.create_directory, directory_permissions=permissions(args.directory_permissions),
            compact_on_start=compaction.on_start, compaction_chunk=compaction.max_transaction_size))
