"""What every worker process needs loaded before its first document.

The pool's fork server imports this module once; each worker is then forked from it
with the parsers and the language model already in memory (shared, copy-on-write), so
a worker that is recycled or replaced after a stuck document starts in milliseconds
instead of re-importing for a second.
"""

import feedparser  # noqa: F401
import py3langid
import trafilatura  # noqa: F401

import monitor.analysis  # noqa: F401

py3langid.classify("warm up")  # the model loads on first use
