"""Amazon Bedrock invocation service: the Lambda asset's one package.

``core`` knows Bedrock and targets and nothing of Lambda or HTTP; ``handlers`` adapt Lambda events to it.
"""

from bedrock_gateway import gc_init

gc_init.pause()  # first thing in a cold start: each handler module ends its init with gc_init.init_done()
