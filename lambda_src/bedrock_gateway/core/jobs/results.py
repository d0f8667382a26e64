"""Large job results in S3 (encrypted at rest), reachable through time-limited links."""

from __future__ import annotations

from typing import Any


class ResultStorage:
    """Results too large for the job record, one object per job."""

    def __init__(self, bucket: str | None, s3: Any):
        self.bucket = bucket
        self.s3 = s3

    def put(self, job_id: str, result: bytes) -> str:
        """Store ``result``; returns its key."""
        key = f"results/{job_id}.json"  # job_id: the job's key, so its caller's namespace too
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=result,
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
        return key

    def get(self, key: str) -> bytes:
        """The stored result."""
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def download_url(self, key: str, expires_in: int) -> str:
        """A presigned GET for ``key``, valid for ``expires_in`` seconds."""
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )
