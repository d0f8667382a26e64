"""The optional customer managed KMS key for the stack's log groups and queues (context ``kmsKey``).

Without it, log groups use CloudWatch Logs' own encryption and the queues SSE-SQS, both AWS managed.
A platform that requires its own keys sets ``kmsKey=create`` (a key in this stack, rotated yearly,
whose policy lets CloudWatch Logs in this account and region use it) or ``kmsKey=<key ARN>`` (a key
managed elsewhere: its policy must already allow ``logs.<region>.amazonaws.com``, see the README).
"""

from __future__ import annotations

import jsii
from aws_cdk import Aws, IAspect, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from infra.settings import CREATE_KMS_KEY


class GatewayEncryptionKey(Construct):
    """``key`` is the customer managed key to encrypt with, or ``None`` for AWS managed encryption."""

    def __init__(
        self, scope: Construct, construct_id: str, *, kms_key: str | None, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.key: kms.IKey | None = None
        if kms_key == CREATE_KMS_KEY:
            created = kms.Key(
                self,
                "Key",
                enable_key_rotation=True,
                removal_policy=removal_policy,
                description="Encrypts the Bedrock gateway's log groups and job queues",
            )
            created.add_to_resource_policy(cloudwatch_logs_key_statement())
            self.key = created
        elif kms_key:
            self.key = kms.Key.from_key_arn(self, "Key", kms_key)


def cloudwatch_logs_key_statement() -> iam.PolicyStatement:
    """The key policy statement CloudWatch Logs needs to encrypt this account's log groups in this
    region (AWS: "Encrypt log data in CloudWatch Logs using AWS KMS", step 2)."""
    return iam.PolicyStatement(
        sid="AllowCloudWatchLogsInThisAccountAndRegion",
        principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
        actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources=["*"],
        conditions={
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": (
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                )
            }
        },
    )


@jsii.implements(IAspect)
class EncryptLogGroups:
    """Sets ``KmsKeyId`` on every log group in scope, including those other constructs create."""

    def __init__(self, key: kms.IKey) -> None:
        self.key = key

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup):
            node.kms_key_id = self.key.key_arn
