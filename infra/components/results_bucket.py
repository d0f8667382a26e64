"""The bucket for job results too large to keep inline, plus its server access log bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

RESULTS_PREFIX = "results/"
#: Matches the jobs table's TTL (30 days): a result never outlives the job that points at it.
RESULT_RETENTION = Duration.days(30)
ACCESS_LOG_RETENTION = Duration.days(90)


class ResultsBucket(Construct):
    """Private, SSE-S3 encrypted (the worker writes with ``AES256``), TLS-only, expiring results."""

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # SSE-S3 is the only default encryption S3 server access logging can write to.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=ACCESS_LOG_RETENTION)],
            removal_policy=removal_policy,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the server access log bucket of the results bucket; logging its own access "
            "would recurse.",
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="results-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=RESULT_RETENTION,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
        )

    @property
    def results_arn(self) -> str:
        return self.bucket.arn_for_objects(f"{RESULTS_PREFIX}*")

    def grant_write_results(self, role: iam.IRole) -> None:
        self._grant(role, "WriteJobResults", "s3:PutObject")

    def grant_read_results(self, role: iam.IRole) -> None:
        """What a presigned GET URL signed by ``role`` needs."""
        self._grant(role, "ReadJobResults", "s3:GetObject")

    def _grant(self, role: iam.IRole, sid: str, action: str) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(sid=sid, actions=[action], resources=[self.results_arn])
        )
        stack = Stack.of(self)
        logical_id = stack.resolve(stack.get_logical_id(self.bucket.node.default_child))
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{RESULTS_PREFIX}*]",
            "Result objects are keyed by job id (results/<jobId>.json), so the grant covers the "
            "results/ prefix of this one bucket; nothing else in the bucket or account.",
        )
