"""Every Kubernetes manifest in deploy/kubernetes (alternatives included) against the real OpenAPI
schemas of the Kubernetes versions we support, with ``kubernetes-validate`` (its bundled schemas,
strict: an unknown field is an error, as with ``kubectl apply --validate=strict``).

The two custom resources, KEDA's ScaledObject and the Prometheus Operator's PodMonitor, have no
schema in that package: no Python package ships their CRD schemas as data we could vendor, so
they are checked by the consistency tests in test_kubernetes.py only (docs/operations.md says so).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.test_kubernetes import manifest, manifests

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the test extra")

# The oldest and newest minor versions we support (the manifests use nothing newer than
# autoscaling/v2 and policy/v1), plus one between.
SUPPORTED_VERSIONS = ("1.29.0", "1.33.0", "1.37.0")
CUSTOM_RESOURCES = {("keda.sh/v1alpha1", "ScaledObject"), ("monitoring.coreos.com/v1", "PodMonitor")}


def core_manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path, doc in manifests() if (doc["apiVersion"], doc["kind"]) not in CUSTOM_RESOURCES]


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
@pytest.mark.parametrize("path, doc", core_manifests(),
                         ids=lambda value: value.name if isinstance(value, Path) else "")
def test_manifest_matches_the_kubernetes_openapi_schema(path: Path, doc: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{path.name} ({doc['kind']}) is invalid for Kubernetes {version}: {error.message} "
                    f"at {'.'.join(str(part) for part in error.path)}")


def test_only_the_custom_resources_lack_a_bundled_schema() -> None:
    """Nothing is left unvalidated by accident: every kind but the two CRDs has a schema."""
    unknown = set()
    for _, doc in manifests():
        try:
            kubernetes_validate.validate(doc, SUPPORTED_VERSIONS[-1], strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unknown.add((doc["apiVersion"], doc["kind"]))
    assert unknown == CUSTOM_RESOURCES


def test_strict_validation_rejects_a_misspelt_field() -> None:
    """The validator is really strict: the Deployment with one field misspelt fails."""
    deployment = copy.deepcopy(manifest("Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "IfNotPresent"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePullPolicyy"):
        kubernetes_validate.validate(deployment, SUPPORTED_VERSIONS[0], strict=True)
