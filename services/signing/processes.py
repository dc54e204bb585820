"""Worker processes of the signing service (letter signing pool, upload checkers) come from one
forkserver that has already imported pyHanko and the renderer: cheap to start, and never a fork
of the service's running event loop and threads."""

import multiprocessing
from multiprocessing.context import BaseContext

# typst too: services.signing.rendering imports it only where a letter is rendered.
PRELOAD = ["services.signing.pdf_verification", "services.signing.signers", "typst"]


def forkserver_context() -> BaseContext:
    """Call before the first worker starts anywhere: the preload list is read when the
    forkserver starts."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx
