"""The Kubernetes manifests: every document well-formed, the Deployment's probes, grace period,
security context and volumes consistent with the ConfigMap's runner config, and the
monitoring and autoscaling objects pointing at the right pods, port and metric."""
from __future__ import annotations

import configparser
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    KUBERNETES,
    drain_budget,
    load_yaml,
    load_yaml_documents,
    metric_names,
    pool_setting,
    run_tool,
    yaml_files,
)
from tests.harness import REPO

NOT_MANIFESTS = {"kustomization.yaml", "prometheus-adapter-values.yaml"}
POD_LABELS = {"app.kubernetes.io/name": "xenon-runner"}
METRICS_PORT = 9464


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in yaml_files(KUBERNETES) if path.name not in NOT_MANIFESTS
            for doc in load_yaml_documents(path)]


def manifest(kind: str, directory: Path = KUBERNETES) -> dict[str, Any]:
    found = [doc for path, doc in manifests() if doc["kind"] == kind and path.parent == directory]
    assert len(found) == 1, f"expected one {kind} in {directory}, found {len(found)}"
    return found[0]


def runner_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(manifest("ConfigMap")["data"]["config.yaml"])
    return config


def container() -> dict[str, Any]:
    containers = manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def mib(quantity: str) -> float:
    found = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)", quantity)
    assert found is not None, f"{quantity!r} is not a quantity in Mi or Gi"
    number, unit = found.groups()
    return float(number) * (1024 if unit == "Gi" else 1)


@pytest.mark.parametrize("path, doc", manifests(), ids=lambda value: value.name if isinstance(value, Path) else "")
def test_every_manifest_is_well_formed(path: Path, doc: dict[str, Any]) -> None:
    assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], path
    assert isinstance(doc.get("kind"), str) and doc["kind"], path
    assert doc["metadata"]["name"], path


def test_kustomization_applies_the_manifests_but_never_the_secret_template() -> None:
    kustomization = load_yaml(KUBERNETES / "kustomization.yaml")
    resources = kustomization["resources"]
    for resource in resources:
        assert (KUBERNETES / resource).is_file(), resource
    assert "secret.template.yaml" not in resources
    kinds = {doc["kind"] for name in resources for doc in load_yaml_documents(KUBERNETES / name)}
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "NetworkPolicy", "PodMonitor", "ScaledObject"} <= kinds
    assert kustomization["namespace"] == manifest("Namespace")["metadata"]["name"]


def test_the_secret_template_holds_placeholders_only() -> None:
    secret = load_yaml(KUBERNETES / "secret.template.yaml")
    assert secret["kind"] == "Secret"
    assert set(secret["stringData"]) == {"RUNNER_TOKEN", "OPENAI_API_KEY"}
    for key, placeholder in secret["stringData"].items():
        assert re.fullmatch(r"<[^<>]+>", placeholder), f"{key} must be a <placeholder>, not a value"
    # The keys reach the runner as files of the mounted Secret, never as environment variables,
    # so a rotated key is picked up by SIGHUP (the environment of a process cannot change).
    assert "envFrom" not in container() and "env" not in container()
    volumes = {volume["name"]: volume for volume in manifest("Deployment")["spec"]["template"]["spec"]["volumes"]}
    [mount] = [m for m in container()["volumeMounts"] if "secret" in volumes[m["name"]]]
    assert volumes[mount["name"]]["secret"]["secretName"] == secret["metadata"]["name"]
    assert mount["readOnly"] is True and "subPath" not in mount   # subPath mounts never see updates
    config = manifest("ConfigMap")["data"]["config.yaml"]
    for key in secret["stringData"]:
        assert f"${{file:{mount['mountPath']}/{key}}}" in config


def test_the_runner_listens_on_all_interfaces_on_the_probed_port() -> None:
    runner = container()
    args = runner["args"]
    assert args[args.index("--metrics-listen") + 1] == f"0.0.0.0:{METRICS_PORT}"
    ports = {port["name"]: port["containerPort"] for port in runner["ports"]}
    assert ports == {"metrics": METRICS_PORT}


def test_probes_point_at_the_health_endpoints() -> None:
    runner = container()
    assert runner["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert runner["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}


def test_grace_period_outlasts_the_drain_of_the_configmap() -> None:
    spec = manifest("Deployment")["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] > drain_budget(runner_config())


def test_rollouts_start_a_new_pod_before_draining_an_old_one() -> None:
    rolling = manifest("Deployment")["spec"]["strategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 1, "maxUnavailable": 0}


def test_the_container_is_non_root_and_read_only() -> None:
    pod = manifest("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    security = container()["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False


def test_writable_paths_are_empty_dirs_and_the_config_is_mounted_where_args_read_it() -> None:
    pod = manifest("Deployment")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in container()["volumeMounts"]}
    assert "emptyDir" in mounts["/tmp"]
    multiproc = Path(runner_config()["metrics"]["multiproc_dir"])
    writable = [Path(path) for path, volume in mounts.items() if "emptyDir" in volume]
    assert any(path in multiproc.parents for path in writable), f"{multiproc} is not on an emptyDir"
    args = container()["args"]
    config_path = Path(args[args.index("--config") + 1])
    assert mounts[str(config_path.parent)]["configMap"]["name"] == manifest("ConfigMap")["metadata"]["name"]
    assert config_path.name in manifest("ConfigMap")["data"]


def test_memory_limit_fits_every_worker_at_its_kill_line() -> None:
    config = runner_config()
    found = re.fullmatch(r"(\d+)MiB", config["pool"]["max_worker_memory"])
    assert found is not None, f"pool.max_worker_memory {config['pool']['max_worker_memory']!r} is not in MiB"
    worker_mib = int(found.group(1))
    kill_line = pool_setting(config, "workers") * worker_mib * pool_setting(config, "memory_kill_factor")
    resources = container()["resources"]
    assert mib(resources["limits"]["memory"]) > kill_line
    assert mib(resources["requests"]["memory"]) <= mib(resources["limits"]["memory"])
    assert resources["requests"]["cpu"]


def test_the_image_tag_is_the_distribution_version() -> None:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    assert container()["image"] == f"xenonflare-runner:{parser['metadata']['version']}"


def test_service_and_pod_monitor_select_the_runner_pods_on_the_metrics_port() -> None:
    template_labels = manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert POD_LABELS.items() <= template_labels.items()
    assert manifest("Deployment")["spec"]["selector"]["matchLabels"] == POD_LABELS
    service = manifest("Service")["spec"]
    assert service["selector"] == POD_LABELS and service["ports"][0]["targetPort"] == "metrics"
    monitor = manifest("PodMonitor")["spec"]
    assert monitor["selector"]["matchLabels"] == POD_LABELS
    assert monitor["podMetricsEndpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
    # job="xenon-runner", the job the alert rules select, comes from this pod label.
    assert template_labels[monitor["jobLabel"]] == "xenon-runner"


def test_network_policy_admits_only_prometheus_to_the_metrics_port() -> None:
    policy = manifest("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"] == POD_LABELS
    assert policy["policyTypes"] == ["Ingress"]   # egress stays open: cloud and model hosts are not known
    [rule] = policy["ingress"]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert {port["name"] for port in container()["ports"]} == {"metrics"}   # the only port there is
    # One peer carrying both selectors (an AND); separate peers would be an OR.
    [peer] = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}


def test_pod_disruption_budget_covers_the_runner_pods() -> None:
    budget = manifest("PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"] == POD_LABELS and budget["maxUnavailable"] == 1


def scaled_object_query() -> str:
    query: str = manifest("ScaledObject")["spec"]["triggers"][0]["metadata"]["query"]
    return query


def test_keda_scales_the_deployment_on_the_busy_worker_ratio() -> None:
    scaled = manifest("ScaledObject")["spec"]
    assert scaled["scaleTargetRef"]["name"] == manifest("Deployment")["metadata"]["name"]
    trigger = scaled["triggers"][0]
    assert trigger["type"] == "prometheus"
    assert trigger["metricType"] == "Value"   # a ratio: desired = ceil(pods x value / threshold)
    assert 0 < float(trigger["metadata"]["threshold"]) < 1
    query = scaled_object_query()
    assert 'state="busy"' in query and 'state=~"idle|busy"' in query
    assert metric_names(query) == {"xenon_runner_workers"}
    assert f'namespace="{load_yaml(KUBERNETES / "kustomization.yaml")["namespace"]}"' in query
    assert 1 <= scaled["minReplicaCount"] < scaled["maxReplicaCount"]


def test_hpa_alternative_targets_the_adapters_metric() -> None:
    hpa = manifest("HorizontalPodAutoscaler", KUBERNETES / "alternatives")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": manifest("Deployment")["metadata"]["name"]}
    metric = hpa["metrics"][0]["external"]
    adapter = load_yaml(KUBERNETES / "alternatives" / "prometheus-adapter-values.yaml")["rules"]["external"][0]
    assert metric["metric"]["name"] == adapter["name"]["as"]
    assert metric["target"]["type"] == "Value"


def adapter_query() -> str:
    """The adapter's metricsQuery as Prometheus receives it for the namespace of the HPA."""
    adapter = load_yaml(KUBERNETES / "alternatives" / "prometheus-adapter-values.yaml")["rules"]["external"][0]
    query: str = adapter["metricsQuery"]
    return query.replace("<<.GroupBy>>", "namespace").replace("<<.LabelMatchers>>", 'namespace="xenon-runner"')


def test_prometheus_parses_the_autoscaling_queries(promtool: str, tmp_path: Path) -> None:
    rules = [{"record": "autoscaling:keda:check", "expr": scaled_object_query()},
             {"record": "autoscaling:adapter:check", "expr": adapter_query()}]
    rule_file = tmp_path / "autoscaling.rules.yml"
    rule_file.write_text(json.dumps({"groups": [{"name": "autoscaling", "rules": rules}]}))
    result = run_tool([promtool, "check", "rules", str(rule_file)])
    assert result.returncode == 0, result.stdout + result.stderr
