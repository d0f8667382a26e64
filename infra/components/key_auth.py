"""Gateway keys: the keys table, the Lambda authorizer, and the usage plan.

Every deployment has them: with ``auth=key`` they guard every route, in the other modes the
Bedrock-compatible ``/model`` routes (what AWS SDKs call with ``AWS_BEARER_TOKEN_BEDROCK``).
Callers send ``Authorization: Bearer <key>``. A TOKEN authorizer validates it against the keys table
(which holds key hashes only), and API Gateway caches its answer per key for five minutes. The answer
names the key's usage-plan API key (``usageIdentifierKey``), so API Gateway itself enforces the plan's
rate, burst and quota per key. ``make keys`` creates keys and joins them to the plan.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from infra.components.data_table import DataTable
from infra.components.gateway_function import FunctionBasics, GatewayFunction

HANDLER = "bedrock_gateway.handlers.authorizer.handler"
#: How long API Gateway reuses an answer for a key: a revoked key may work this long.
RESULTS_CACHE = Duration.minutes(5)
TIMEOUT = Duration.seconds(10)
#: What API Gateway passes to the authorizer at all; anything else is a 401 without an invocation.
TOKEN_FORMAT = r"^[Bb]earer bgk_[A-Za-z0-9_-]{43}$"


class KeyAuthorizer(Construct):
    """The keys table and the authorizer function; :meth:`add_usage_plan` once the API exists."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        basics: FunctionBasics,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        # The TTL attribute is never written: keys end by expiry or revocation, and stay listed.
        self.keys_table = DataTable(
            self,
            "KeysTable",
            partition_key="keyHash",
            ttl_attribute="purgeAt",
            removal_policy=removal_policy,
            deletion_protection=deletion_protection,
        )
        self.gateway_function = GatewayFunction(
            self,
            "Handler",
            basics=basics,
            handler=HANDLER,
            description="Bedrock gateway: gateway key authorizer (Authorization: Bearer)",
            memory_size=512,
            timeout=TIMEOUT,
            environment={"KEYS_TABLE_NAME": self.keys_table.table.table_name},
        )
        self.gateway_function.allow(self.keys_table.item_access("ReadKeys", "GetItem"))
        self.function = self.gateway_function.function
        self.alias = self.gateway_function.alias
        self.authorizer = apigw.TokenAuthorizer(
            self,
            "Authorizer",
            handler=self.alias,
            identity_source=apigw.IdentitySource.header("Authorization"),
            validation_regex=TOKEN_FORMAT,
            results_cache_ttl=RESULTS_CACHE,
        )

    def add_usage_plan(
        self, api: apigw.RestApi, *, rate_limit: int, burst_limit: int, quota_per_day: int | None
    ) -> apigw.UsagePlan:
        """The plan every gateway key joins (``make keys`` adds each key's usage identifier to it)."""
        self.usage_plan = api.add_usage_plan(
            "KeyUsagePlan",
            description="Per gateway key: rate, burst and daily quota",
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            quota=apigw.QuotaSettings(limit=quota_per_day, period=apigw.Period.DAY)
            if quota_per_day
            else None,
        )
        self.usage_plan.add_api_stage(stage=api.deployment_stage)
        return self.usage_plan
