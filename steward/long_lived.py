"""Keep the cyclic garbage collector off a serving process's long-lived objects.

A web worker holds about 270,000 objects that live as long as it does (Django, dedupe, a loaded matcher), and every
full collection walks them all: 0.1-0.3 s on this machine, paid by whichever request sets it off. Requests' objects
promoted mid-request add up until one does (in-process, 300 streamed PUTs set off none, so it is a rare stall, not
the usual tail). gc.freeze() moves what is alive to a generation the collector never scans (CPython's advice for
long-running servers); objects frozen are still freed by reference counting. Only serving processes opt in (wsgi.py): tests and commands
load and drop many matchers, and would pin their garbage.
"""

import gc

_enabled = False


def enable() -> None:
    """Opt this process in (the WSGI entry point), and freeze what it holds after start-up."""
    global _enabled
    _enabled = True
    freeze()


def freeze() -> None:
    """After loading something large and lasting (a matcher): collect once, then freeze what is left."""
    if _enabled:
        gc.collect()
        gc.freeze()
