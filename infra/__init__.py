"""CDK infrastructure for the Bedrock gateway: settings, the Lambda asset, IAM from the targets config,
one construct per concern under :mod:`infra.components`, and the stack that wires them together."""
