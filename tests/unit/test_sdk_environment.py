"""The suite runs the same in a developer's shell as in CI (tests/conftest.py)."""

import runpy
from pathlib import Path

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def test_a_profile_exported_in_the_shell_does_not_reach_the_sdk(monkeypatch, tmp_path):
    """With ``AWS_PROFILE`` naming a profile the machine's config lacks, every test that builds a boto3
    session failed with ``ProfileNotFound``."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "deploy-profile")
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "deploy-profile")
    runpy.run_path(str(CONFTEST))

    import boto3

    session = boto3.session.Session(region_name="us-east-1")
    assert session.profile_name == "default"
    session.client("sqs", aws_access_key_id="testing", aws_secret_access_key="testing")
