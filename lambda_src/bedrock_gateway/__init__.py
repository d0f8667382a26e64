"""Amazon Bedrock invocation service: the Lambda asset's one package.

``core`` knows Bedrock and targets and nothing of Lambda or HTTP; ``handlers`` adapt Lambda events to it.
"""
