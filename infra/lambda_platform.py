"""The Lambda platform every function runs on, and the pinned Lambda Web Adapter layer.

Kept in one place so the runtime, the architecture, the wheels the asset is built with and the
adapter layer can never disagree.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_lambda as lambda_

#: The newest managed Python runtime (cdk-nag AwsSolutions-L1 checks it is the latest CDK knows).
RUNTIME = lambda_.Runtime.PYTHON_3_14
#: Graviton: cheaper per GB-second than x86 for this I/O-bound workload, and every dependency ships
#: aarch64 wheels.
ARCHITECTURE = lambda_.Architecture.ARM_64

#: pip's view of the Lambda platform, for installing wheels on a build machine of any kind.
PIP_PLATFORMS = {
    "arm64": ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    "x86_64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
}

#: AWS Lambda Web Adapter, published by AWS in account 753240598075 under one version number for
#: every commercial region. Version 30 is adapter release 1.1.0. Bump deliberately:
#: https://github.com/aws/aws-lambda-web-adapter/releases
WEB_ADAPTER_ACCOUNT = "753240598075"
WEB_ADAPTER_LAYER_VERSION = 30
WEB_ADAPTER_LAYER_NAMES = {
    "arm64": "LambdaAdapterLayerArm64",
    "x86_64": "LambdaAdapterLayerX86",
}


def python_version() -> str:
    """``"3.14"`` for ``python3.14``: what pip needs to pick the right wheels."""
    return RUNTIME.name.removeprefix("python")


def pip_platforms() -> tuple[str, ...]:
    return PIP_PLATFORMS[ARCHITECTURE.name]


def web_adapter_layer_arn() -> str:
    """The adapter layer for :data:`ARCHITECTURE` in the stack's region."""
    name = WEB_ADAPTER_LAYER_NAMES[ARCHITECTURE.name]
    layer = f"{WEB_ADAPTER_ACCOUNT}:layer:{name}:{WEB_ADAPTER_LAYER_VERSION}"
    return f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{layer}"
