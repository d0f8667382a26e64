"""What a platform team checks before it lets the stack into its accounts: non-production stacks delete
cleanly (buckets emptied first) while production keeps its data; versioned buckets whose old versions
expire; optional customer managed KMS encryption of log groups and queues; alarms that notify someone,
or a synth warning that they do not."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Annotations, Match
from infra_helpers import resolve, statements

AUTO_DELETE_TAG = {"Key": "aws-cdk:auto-delete-objects", "Value": "true"}
EXISTING_KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
HARDENED = {"stage": "staging", "kmsKey": "create", "alarmEmail": "oncall@example.com"}


def _depends_on(resource: dict) -> list[str]:
    depends = resource.get("DependsOn", [])
    return [depends] if isinstance(depends, str) else depends


def test_non_production_buckets_are_emptied_before_they_are_deleted(default_synth):
    synth = default_synth
    buckets = synth.resources("AWS::S3::Bucket")
    cleaners = synth.resources("Custom::S3AutoDeleteObjects")
    assert len(buckets) == 2 and len(cleaners) == 2
    policies = {
        p["Properties"]["Bucket"]["Ref"]: name for name, p in synth.resources("AWS::S3::BucketPolicy").items()
    }
    for name, bucket in buckets.items():
        assert bucket["DeletionPolicy"] == "Delete" and bucket["UpdateReplacePolicy"] == "Delete", name
        # The handler empties only buckets carrying this tag.
        assert AUTO_DELETE_TAG in bucket["Properties"]["Tags"], name
        (cleaner,) = [c for c in cleaners.values() if c["Properties"]["BucketName"] == {"Ref": name}]
        # It references the bucket, so CloudFormation deletes it (emptying the bucket) before the bucket,
        # and it depends on the bucket policy that lets it delete, so that policy outlives it.
        assert policies[name] in _depends_on(cleaner), name
        provider = cleaner["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        role = synth.data["Resources"][provider]["Properties"]["Role"]["Fn::GetAtt"][0]
        policy = synth.data["Resources"][policies[name]]["Properties"]["PolicyDocument"]
        (grant,) = [
            s for s in policy["Statement"] if s.get("Principal") == {"AWS": {"Fn::GetAtt": [role, "Arn"]}}
        ]
        assert grant["Effect"] == "Allow"
        assert {"s3:DeleteObject*", "s3:List*"} <= set(grant["Action"])


def test_the_bucket_cleaner_deletes_every_version(default_synth):
    """The buckets are versioned: emptying them means deleting versions and delete markers too."""
    cleaner = next(iter(default_synth.resources("Custom::S3AutoDeleteObjects").values()))
    provider = default_synth.data["Resources"][cleaner["Properties"]["ServiceToken"]["Fn::GetAtt"][0]]
    asset = provider["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    handler = (default_synth.assembly_dir / f"asset.{asset}" / "index.js").read_text()
    assert "listObjectVersions" in handler and "DeleteMarkers" in handler and "deleteObjects" in handler
    assert AUTO_DELETE_TAG["Key"] in handler


def test_late_access_logs_cannot_refill_the_emptied_log_bucket(default_synth):
    """S3 delivers access logs late. The cleaner denies writes before it empties, and S3 logging can
    write only through the log bucket's policy (ACLs are disabled), which goes before the bucket."""
    synth = default_synth
    log_bucket = synth.logical_id(synth.stack.results.access_logs)
    props = synth.resources("AWS::S3::Bucket")[log_bucket]["Properties"]
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "AccessControl" not in props
    (policy,) = [
        p
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": log_bucket}
    ]
    grants = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert any(s["Principal"] == {"Service": "logging.s3.amazonaws.com"} for s in grants)
    cleaner = next(iter(synth.resources("Custom::S3AutoDeleteObjects").values()))
    provider = synth.data["Resources"][cleaner["Properties"]["ServiceToken"]["Fn::GetAtt"][0]]
    handler = (
        synth.assembly_dir
        / f"asset.{provider['Properties']['Code']['S3Key'].removesuffix('.zip')}"
        / "index.js"
    )
    assert re.search(r'Effect:"Deny",Action:\["s3:PutObject"\]', handler.read_text())


@pytest.mark.parametrize("stage", ["production", "prod"])
def test_production_buckets_are_retained_and_never_emptied(synthesize, stage):
    synth = synthesize(stage=stage)
    assert synth.resources("Custom::S3AutoDeleteObjects") == {}
    assert not any("AutoDeleteObjects" in name for name in synth.data["Resources"])
    for name, bucket in synth.resources("AWS::S3::Bucket").items():
        assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain", name
        assert AUTO_DELETE_TAG not in bucket["Properties"].get("Tags", []), name


def test_buckets_are_versioned_and_old_versions_expire(default_synth):
    for name, bucket in default_synth.resources("AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
        assert rules["ExpireObjects"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}, name
        assert rules["RemoveExpiredDeleteMarkers"]["ExpiredObjectDeleteMarker"] is True, name


def test_by_default_logs_and_queues_use_aws_managed_encryption(default_synth):
    for name, group in default_synth.resources("AWS::Logs::LogGroup").items():
        assert "KmsKeyId" not in group["Properties"], name
    for name, queue in default_synth.resources("AWS::SQS::Queue").items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name
        assert "KmsMasterKeyId" not in queue["Properties"], name
    assert "EncryptionKeyArn" not in default_synth.data.get("Outputs", {})


def test_kms_key_create_encrypts_every_log_group_and_both_queues(synthesize):
    synth = synthesize(**HARDENED)
    key_id = synth.logical_id(synth.stack.encryption.key)
    key_arn = {"Fn::GetAtt": [key_id, "Arn"]}
    key = synth.data["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    (logs_statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowCloudWatchLogsInThisAccountAndRegion"
    ]
    assert resolve(logs_statement["Principal"]) == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert resolve(logs_statement["Condition"]) == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111122223333:log-group:*"}
    }
    groups = synth.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 5  # three functions, API access and execution logs
    for name, group in groups.items():
        assert group["Properties"]["KmsKeyId"] == key_arn, name
    for name, queue in synth.resources("AWS::SQS::Queue").items():
        assert queue["Properties"]["KmsMasterKeyId"] == key_arn, name
        assert "SqsManagedSseEnabled" not in queue["Properties"], name
    assert synth.data["Outputs"]["EncryptionKeyArn"]["Value"] == key_arn
    _assert_queue_roles_can_use(synth, key_arn)


def test_kms_key_arn_uses_that_key(synthesize):
    synth = synthesize(stage="production", kmsKey=EXISTING_KEY)
    # Only the alarm topic's own key is created.
    assert len(synth.resources("AWS::KMS::Key")) == 1
    for name, group in synth.resources("AWS::Logs::LogGroup").items():
        assert group["Properties"]["KmsKeyId"] == EXISTING_KEY, name
    for name, queue in synth.resources("AWS::SQS::Queue").items():
        assert queue["Properties"]["KmsMasterKeyId"] == EXISTING_KEY, name
    _assert_queue_roles_can_use(synth, EXISTING_KEY)


def _assert_queue_roles_can_use(synth, key_arn) -> None:
    """The producer (sync API) may encrypt job messages and the worker decrypt them; nobody else."""

    def kms_actions(prefix: str) -> set[str]:
        return {
            action
            for s in statements(synth, prefix)
            if key_arn in s["Resource"]
            for action in s["Action"]
            if action.startswith("kms:")
        }

    assert kms_actions("SyncApiHandlerRole") == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert kms_actions("WorkerHandlerRole") == {"kms:Decrypt"}
    assert kms_actions("StreamHandlerRole") == set()


def test_synth_warns_when_alarms_would_notify_nobody(default_synth, synthesize):
    warning = Match.string_like_regexp("alarmEmail is not set")
    Annotations.from_stack(default_synth.stack).has_warning("*", warning)
    hardened = synthesize(**HARDENED)
    assert Annotations.from_stack(hardened.stack).find_warning("*", warning) == []
    (subscription,) = hardened.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"


def test_validation_report_names_the_missing_subscriber(default_synth):
    report = json.loads((default_synth.assembly_dir / "validation-report.json").read_text())
    rules = {v["ruleName"] for r in report["pluginReports"] for v in r.get("violations", [])}
    assert "Annotation::bedrock-gateway:noAlarmSubscriber" in rules
