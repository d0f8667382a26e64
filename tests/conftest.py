"""For every test: the AWS SDK sees none of the settings of the shell the suite starts in. No credential
lookup may fall through to the EC2 instance metadata service (169.254.169.254), which is the network
and, off EC2, a timeout; and a profile exported for ``make deploy`` (``AWS_PROFILE``) does not apply:
botocore refuses to build a session for a profile its config files lack (``ProfileNotFound``)."""

import os

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_name, None)
