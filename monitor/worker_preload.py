"""What the worker pool's fork server imports once: everything a worker needs loaded.

See ``monitor.workers.preload``. A module, not only the function, because a fork
server preloads modules by name. It also runs the parent's main script (as
``__mp_main__``, so its ``if __name__ == "__main__"`` part does not run), which each
worker would otherwise run again when it starts: see ``monitor.workers._process_factory``.
"""

import os
from multiprocessing import spawn

from monitor.workers import MAIN_PATH_VARIABLE, lower_priority, preload

lower_priority()  # before the loading: the parent's event loop keeps its core meanwhile
if main_path := os.environ.get(MAIN_PATH_VARIABLE):
    spawn.import_main_path(main_path)
preload()
