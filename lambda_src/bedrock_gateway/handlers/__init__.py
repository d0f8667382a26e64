"""Thin Lambda handlers that adapt events to the core.

Every Lambda function's entry point is a module of this package: importing it is a cold start's
first step, so collection pauses here, and each entry-point module ends its init with
``gc_init.init_done()`` (see :mod:`bedrock_gateway.gc_init`).
"""

import warnings

from bedrock_gateway import gc_init

gc_init.pause()

# Health checks, listings, job lookups and fully redelivered batches publish no metrics by design;
# Powertools would warn about it on every such invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")
