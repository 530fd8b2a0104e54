"""The web pages' hosting in template.yaml: a private bucket that only the stack's CloudFront
distribution reads, and the client routes answered with index.html."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from devstack.template import TEMPLATE_PATH, _CfnLoader


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE_PATH.read_text(), Loader=_CfnLoader)
    return dict(loaded["Resources"])


def test_bucket_is_private_and_read_only_by_the_distribution(resources: dict[str, Any]) -> None:
    bucket = resources["SiteBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (statement,) = resources["SiteBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    source = statement["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source.endswith(":distribution/${SiteDistribution}")


def test_distribution_serves_client_routes_with_index_over_https(resources: dict[str, Any]) -> None:
    config = resources["SiteDistribution"]["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["SiteOriginAccessControl", "Id"]}
    fallbacks = {
        (e["ErrorCode"], e["ResponseCode"], e["ResponsePagePath"]) for e in config["CustomErrorResponses"]
    }
    assert fallbacks == {(403, 200, "/index.html"), (404, 200, "/index.html")}
