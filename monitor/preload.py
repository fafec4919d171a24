"""What the worker pool's fork server imports once: everything a worker needs loaded.

See ``monitor.workers.preload``. A module, not only the function, because a fork
server preloads modules by name.
"""

from monitor.workers import preload

preload()
