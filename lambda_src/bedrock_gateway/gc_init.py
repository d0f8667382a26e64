"""The garbage collector during a Lambda function's init.

Init builds what lives as long as the execution environment: modules, botocore's service models and
endpoint rules, Powertools, the clients. CPython's cycle collector would scan it all the same: one
full collection during the worker's cold start cost about 35 ms, and every later full collection
scans it again. So, in Lambda, collection pauses from the import of the handlers package (every
function's entry point is one of its modules) to the end of the function's init (:func:`pause`,
:func:`init_done`), and what init built is then frozen (:func:`gc.freeze`: moved to a permanent
generation that no collection scans). Collection then runs as usual on what requests allocate.
SnapStart functions freeze once more after priming (:func:`freeze_primed`), so no collection after a
restore walks the snapshot's objects either. Init leaves a few hundred unreachable objects behind
(cycles the paused collector did not free); they stay frozen.

Measured on CPython 3.11 and 3.13, whose collector is generational, as is 3.14's from 3.14.5 on
(3.14.0-3.14.4 shipped an incremental one). Outside Lambda (tests, ``make run``) nothing here changes
the collector.
"""

from __future__ import annotations

import gc
import os

_paused = False


def _in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def pause() -> None:
    """In Lambda, stop collecting until :func:`init_done` (the handlers package's import calls this)."""
    global _paused
    if _in_lambda() and gc.isenabled():
        gc.disable()
        _paused = True


def init_done() -> None:
    """The function's init is over: freeze what it built and collect as usual from here on."""
    global _paused
    if _paused:
        gc.freeze()
        gc.enable()
        _paused = False


def freeze_primed() -> None:
    """SnapStart, last before the snapshot: freeze what priming built too (in Lambda only)."""
    if _in_lambda():
        gc.freeze()
