"""IAM for system and global inference profiles comes from the catalog of record, for every prefix."""

from __future__ import annotations

import pytest
from bedrock_gateway.core import catalog
from bedrock_gateway.core.model_ids import GEO_PREFIXES, parse_model_id
from bedrock_gateway.core.targets import Target

ACCOUNT = "210987654321"


def test_the_parser_knows_every_geography_the_catalog_has():
    assert set(GEO_PREFIXES) == set(catalog.geographies())


def _a_profile_of(geo: str) -> str:
    return next(p["inferenceProfileId"] for p in catalog.system_profiles() if p["geography"] == geo)


@pytest.mark.parametrize("geo", sorted(catalog.geographies()))
def test_iam_for_each_prefix_is_the_catalogs_destinations(geo):
    profile_id = _a_profile_of(geo)
    target = Target(name="t", ref=parse_model_id(profile_id))
    model_id = target.ref.foundation_model_id
    source = catalog.profile_source_regions(profile_id)[0]
    resources = target.iam_invoke_resources(source, ACCOUNT)
    assert resources[0] == f"arn:aws:bedrock:{source}:{ACCOUNT}:inference-profile/{profile_id}"
    assert resources[1] == f"arn:aws:bedrock:{source}::foundation-model/{model_id}"
    if geo == "global":
        assert resources[2:] == [f"arn:aws:bedrock:::foundation-model/{model_id}"]
        return
    # Region-agnostic synth: every Region the profile routes to from any source.
    expected = {
        f"arn:aws:bedrock:{r}::foundation-model/{model_id}" for r in catalog.all_destinations(profile_id)
    }
    assert set(resources[1:]) == expected | {resources[1]}
    # Synthesized for a known Region: exactly that Region's destinations.
    exact = target.iam_invoke_resources(source, ACCOUNT, source_region=source)
    assert set(exact[1:]) == {
        f"arn:aws:bedrock:{r}::foundation-model/{model_id}"
        for r in catalog.profile_destinations(profile_id, source)
    } | {exact[1]}
