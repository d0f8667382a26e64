"""Thin Lambda handlers that adapt events to the core."""

import warnings

# Health checks, listings, job lookups and fully redelivered batches publish no metrics by design;
# Powertools would warn about it on every such invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")
