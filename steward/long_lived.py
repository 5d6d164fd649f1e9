"""Keep the cyclic garbage collector off a serving process's long-lived objects.

A web worker holds a few hundred thousand objects that live as long as it does (Django, dedupe, a loaded matcher).
Every full collection walks them all (about 0.2 s on this machine), and the requests' own objects, promoted while a
collection runs mid-request, set one off every few dozen requests: that was the streamed PUT's slowest percent.
gc.freeze() moves what is alive to a generation the collector never scans (CPython's advice for pre-fork servers);
objects frozen are still freed by reference counting. Only serving processes opt in (wsgi.py): tests and commands
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
