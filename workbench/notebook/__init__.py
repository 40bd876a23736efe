"""Image Workbench from Jupyter (or any Python program): the notebook face.

    import workbench.notebook as wb

    bench = wb.demo()                          # the embedded simulator and its demo profiles
    glance = bench.open("demo-glance")         # wb.open("prod") opens one of your saved profiles
    images = glance.images(limit=20, visibility="private", status="active")
    images                                     # an HTML table in Jupyter, plain text elsewhere
    images.to_csv("images.csv")                # also to_records(), to_json(), to_dataframe()

    request = glance.patch(images[0].id, [{"op": "replace", "path": "/min_disk", "value": 20}])
    request                                    # the exact HTTP request and its curl, secrets masked
    request.send()

    yandex = bench.open("demo-yandex")
    op = yandex.create_image(name="web-3", disk_id="fhm...").send()   # live progress until it ends

Sync and async
--------------
Every call that talks to a cloud has two spellings: the plain one (``images``,
``image``, ``send``, ``wait``, ``cancel``) returns the result, and the one ending
in ``_async`` is a coroutine for ``await`` (top-level ``await`` in Jupyter, or any
asyncio program)::

    images = glance.images(limit=10)
    images = await glance.images_async(limit=10)

Both run the work on one private event loop in a background thread that the
``Workbench`` owns (its drivers, HTTP clients and operation tracker live there).
So a plain call works inside Jupyter, where an event loop is already running,
without ``asyncio.run`` or nest_asyncio, and an ``await`` never blocks the
caller's loop. Request builders and previews send nothing and have no async twin.

Live progress
-------------
``send`` (and ``Operation.wait``) of a request that starts a long-running
operation tracks it and, while it waits, shows its progress in place: in a
Jupyter kernel through IPython's display machinery (``display(..., display_id=True)``
then ``DisplayHandle.update``), on a terminal as one rewritten line on stderr,
otherwise not at all. IPython is never imported here: it is used only when the
program already runs under it. The display ends with the final state or the
error; a failed operation raises ``OperationFailed`` unless ``check=False``.
"""

from __future__ import annotations

from workbench.notebook.bench import Workbench, demo, open
from workbench.notebook.cloud import Cloud
from workbench.notebook.errors import OperationFailed, UnsupportedAction, WorkbenchWarning
from workbench.notebook.images import Image, ImageTable
from workbench.notebook.operations import Operation
from workbench.notebook.requests import Request, RequestView

__all__ = [
    "Cloud",
    "Image",
    "ImageTable",
    "Operation",
    "OperationFailed",
    "Request",
    "RequestView",
    "UnsupportedAction",
    "Workbench",
    "WorkbenchWarning",
    "demo",
    "open",
]
