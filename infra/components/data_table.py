"""An on-demand DynamoDB table: KMS-encrypted, point-in-time recovery, TTL-expired items."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct


class DataTable(Construct):
    """A table keyed by one string attribute, with items expiring through ``ttl_attribute``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        partition_key: str,
        ttl_attribute: str,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True,
            ),
            time_to_live_attribute=ttl_attribute,
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )

    def item_access(self, sid: str, *actions: str) -> iam.PolicyStatement:
        """Item-level ``dynamodb:`` actions on this table only (no indexes, no scans unless asked)."""
        return iam.PolicyStatement(
            sid=sid,
            actions=[f"dynamodb:{action}" for action in actions],
            resources=[self.table.table_arn],
        )
