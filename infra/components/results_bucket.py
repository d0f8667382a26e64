"""The bucket for job results too large to keep inline, plus its server access log bucket.

Both are versioned, so an overwritten or deleted object can be recovered for a week
(``NONCURRENT_RETENTION``) and no longer: results are model output that callers may expect gone.
Outside production both are emptied when the stack is deleted (``auto_delete_objects``: CDK's
custom resource deletes every object version first), because CloudFormation cannot delete a bucket
that still holds objects; production retains them with their data. Late server access logs cannot
refill the emptied log bucket: the custom resource denies ``s3:PutObject`` before it deletes, and S3
logging may write only through the bucket policy, which is deleted before the bucket. The custom
resource is CDK's own
provider (one Node.js function per stack, with AWSLambdaBasicExecutionRole and, through each bucket's
policy, delete and list rights on that bucket only); cdk-nag reports nothing on it.
"""

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
#: How long an overwritten or deleted (including expired) object version stays recoverable.
NONCURRENT_RETENTION = Duration.days(7)


class ResultsBucket(Construct):
    """Private, SSE-S3 encrypted (the worker writes with ``AES256``), TLS-only, expiring results."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        empty_on_delete: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        if empty_on_delete and removal_policy != RemovalPolicy.DESTROY:
            raise ValueError("empty_on_delete needs RemovalPolicy.DESTROY: a retained bucket keeps its data")
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # SSE-S3 is the only default encryption S3 server access logging can write to.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=_expiring(ACCESS_LOG_RETENTION),
            removal_policy=removal_policy,
            auto_delete_objects=empty_on_delete,
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
            versioned=True,
            lifecycle_rules=_expiring(RESULT_RETENTION),
            removal_policy=removal_policy,
            auto_delete_objects=empty_on_delete,
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


def _expiring(retention: Duration) -> list[s3.LifecycleRule]:
    """Current objects expire after ``retention``, the versions that leaves behind a week later, and
    then the delete markers nothing is behind any more (S3 takes that last part as a rule of its own)."""
    return [
        s3.LifecycleRule(
            id="ExpireObjects",
            expiration=retention,
            noncurrent_version_expiration=NONCURRENT_RETENTION,
            abort_incomplete_multipart_upload_after=Duration.days(1),
        ),
        s3.LifecycleRule(id="RemoveExpiredDeleteMarkers", expired_object_delete_marker=True),
    ]
