"""For every test: no AWS SDK credential lookup may fall through to the EC2 instance metadata service
(169.254.169.254), which is the network and, off EC2, a timeout."""

import os

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
