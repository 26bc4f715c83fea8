"""Every Kubernetes manifest in deploy/kubernetes (alternatives included) against the real OpenAPI
schemas of the Kubernetes versions we support, with ``kubernetes-validate`` (its bundled schemas,
strict: an unknown field is an error, as with ``kubectl apply --validate=strict``).

The two custom resources, KEDA's ScaledObject and the Prometheus Operator's PodMonitor, have no
schema in that package; they are checked against their CRD schemas with the validators the npm
packages @kubernetes-models/* generate from them (see crds.py), where node and npm are installed.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.crds import CrdValidator
from tests.deploy.test_kubernetes import manifest, manifests
from tests.harness import installed_tool

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the test extra")

# The oldest and newest minor versions we support (the manifests use nothing newer than
# autoscaling/v2 and policy/v1), plus one between.
SUPPORTED_VERSIONS = ("1.29.0", "1.33.0", "1.37.0")
INSTALL_BUDGET = 360   # seconds: the first CRD test may install the validators with npm
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


@pytest.fixture(scope="session")
def crd_validator() -> CrdValidator:
    node = installed_tool("node", missing="node not installed: the CRD schema checks need node and npm")
    npm = installed_tool("npm", missing="npm not installed: the CRD schema checks need node and npm")
    return CrdValidator(node, npm)


def custom_resources() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path, doc in manifests() if (doc["apiVersion"], doc["kind"]) in CUSTOM_RESOURCES]


@pytest.mark.timeout(INSTALL_BUDGET)
def test_custom_resources_match_their_crd_schemas(crd_validator: CrdValidator) -> None:
    found = custom_resources()
    assert {(doc["apiVersion"], doc["kind"]) for _, doc in found} == CUSTOM_RESOURCES
    for (path, _), errors in zip(found, crd_validator.validate([doc for _, doc in found]), strict=True):
        assert errors is None, f"{path.name}: {errors}"


@pytest.mark.timeout(INSTALL_BUDGET)
def test_crd_validation_rejects_wrong_types(crd_validator: CrdValidator) -> None:
    scaled = copy.deepcopy(manifest("ScaledObject"))
    scaled["spec"]["minReplicaCount"] = "one"
    monitor = copy.deepcopy(manifest("PodMonitor"))
    monitor["spec"]["podMetricsEndpoints"][0]["interval"] = 15
    del monitor["spec"]["selector"]
    scaled_errors, monitor_errors = crd_validator.validate([scaled, monitor])
    assert scaled_errors and any("minReplicaCount must be integer" in error for error in scaled_errors)
    assert monitor_errors and any("interval must be string" in error for error in monitor_errors)
    assert any("selector" in error for error in monitor_errors), monitor_errors
