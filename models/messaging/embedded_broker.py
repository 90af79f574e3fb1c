"""The embedded broker: kombu's file transport, with messages that appear whole.

kombu's own file transport creates a message file and only then writes it, so a consumer
in another process (the worker, while the API publishes) can take the file while it is
still empty and lose the message. Here a message is written under a temporary name and
renamed into the queue folder, which is atomic on one filesystem.
"""

import os
import uuid
from time import time_ns
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    """A file channel whose `_put` is atomic."""

    # kombu's own base classes disagree on this signature; this is the file channel's.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Write the message aside, then rename it to the name consumers look for."""
        # Consumers take names in sorted order: nanoseconds, zero-padded, keep it FIFO (the
        # wall clock: a monotonic one restarts at a reboot, ahead of the messages left over).
        name = f"{time_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        staging = f"{final}.part"  # consumers only take names ending in '<queue>.msg'
        # Owner-only: kombu moves a consumed message to the shared temporary folder to read it.
        with os.fdopen(
            os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb"
        ) as handle:
            handle.write(str_to_bytes(dumps(payload)))  # type: ignore[no-untyped-call]
        os.replace(staging, final)


class Transport(filesystem.Transport):
    """kombu's file transport with the atomic channel."""

    Channel = Channel
