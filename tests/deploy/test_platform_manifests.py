"""deploy/platform: the overlays render valid Kubernetes objects, as the docs describe them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from rendered import DEPLOY, ROOT, TREES, find, pod_specs, render

from reference_app.config import env_names

#: The oldest Kubernetes docs/how-to/deploy.md supports; also checked against the newest
#: schemas kubernetes-validate ships, so an API removed since is caught too.
KUBERNETES_VERSION = "1.33"
#: Custom resources have no schema in kubernetes-validate; the Argo CD ones are checked below.
CUSTOM_KINDS = {"Application", "ApplicationSet"}
PLATFORM_COMPONENTS = {"api", "worker", "scheduler", "migrate"}


def test_docs_name_the_validated_kubernetes_version() -> None:
    deploy_doc = (ROOT / "docs" / "how-to" / "deploy.md").read_text()
    assert f"Kubernetes {KUBERNETES_VERSION} or newer" in deploy_doc


@pytest.mark.parametrize("tree", sorted(TREES))
@pytest.mark.parametrize("version", [KUBERNETES_VERSION, kubernetes_validate.latest_version()])
def test_every_rendered_object_matches_the_kubernetes_schemas(tree: str, version: str) -> None:
    objects = render(tree)
    assert objects
    for obj in objects:
        # strict: a misspelt or misplaced field is an error, not silently dropped.
        kubernetes_validate.validate(obj, version, strict=True)


def test_overlays_hold_the_platform_in_their_namespace() -> None:
    for tree, namespace in (("platform-dev", "obsyk-dev"), ("platform-prod", "obsyk")):
        objects = render(tree)
        find(objects, "Namespace", namespace)
        namespaced = [o for o in objects if o["kind"] != "Namespace"]
        assert {o["metadata"]["namespace"] for o in namespaced} == {namespace}, tree


def test_api_deployment_is_probed_sized_and_spread() -> None:
    api = find(render("platform-prod"), "Deployment", "obsyk-api")
    assert "replicas" not in api["spec"], "the HPA owns the replica count"
    pod = api["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"][0] == "serve"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }


@pytest.mark.parametrize(
    ("tree", "min_api", "workers"), [("platform-dev", 1, 1), ("platform-prod", 3, 2)]
)
def test_replicas_per_overlay(tree: str, min_api: int, workers: int) -> None:
    objects = render(tree)
    hpa = find(objects, "HorizontalPodAutoscaler", "obsyk-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "obsyk-api"
    assert hpa["spec"]["minReplicas"] == min_api
    pdb = find(objects, "PodDisruptionBudget", "obsyk-api")
    assert pdb["spec"]["minAvailable"] < min_api or min_api == 1
    assert find(objects, "Deployment", "obsyk-worker")["spec"]["replicas"] == workers
    scheduler = find(objects, "Deployment", "obsyk-scheduler")
    # Exactly one scheduler, even while a new version rolls out.
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}


def test_scheduler_liveness_probe_reads_the_health_file_it_writes(tmp_path: Path) -> None:
    # The probe restarts a dead or hung loop (a stale file), never one that waits
    # out an outage (it keeps rewriting the file): run the rendered probe for real.
    scheduler = find(render("platform-prod"), "Deployment", "obsyk-scheduler")
    [container] = scheduler["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    health_file = args[args.index("--health-file") + 1]
    command = container["livenessProbe"]["exec"]["command"]
    assert health_file in command[-1]
    probe = [*command[:-1], command[-1].replace(health_file, str(tmp_path / "health.json"))]

    (tmp_path / "health.json").write_text("{}")
    assert subprocess.run(probe, check=False).returncode == 0
    two_minutes_ago = time.time() - 120
    os.utime(tmp_path / "health.json", (two_minutes_ago, two_minutes_ago))
    assert subprocess.run(probe, check=False).returncode != 0
    (tmp_path / "health.json").unlink()
    assert subprocess.run(probe, check=False).returncode != 0


def test_migration_job_runs_before_the_rollout_and_after_the_datastores() -> None:
    objects = render("platform-dev")
    job = find(objects, "Job", "obsyk-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "Sync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["db", "upgrade"]

    def wave(obj: dict) -> int:
        return int(obj["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", 0))

    datastores = [o for o in objects if o["kind"] == "StatefulSet"]
    assert {o["metadata"]["name"] for o in datastores} == {"obsyk-postgres", "obsyk-redis"}
    assert all(o["spec"]["replicas"] == 1 for o in datastores)
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    assert max(wave(o) for o in datastores) < wave(job) < min(wave(o) for o in deployments)


@pytest.mark.parametrize("tree", ["platform-dev", "platform-prod"])
def test_settings_come_from_the_configmap_and_secrets_only_by_reference(tree: str) -> None:
    objects = render(tree)
    assert not [o for o in objects if o["kind"] == "Secret"], "Secrets are never in Git"
    [config] = [
        o for o in objects if o["kind"] == "ConfigMap" and "obsyk-config" in o["metadata"]["name"]
    ]
    documented = set(env_names().values())
    assert set(config["data"]) <= documented, set(config["data"]) - documented
    assert config["data"]["OBSYK_AUTO_MIGRATE"] == "false"
    for where, pod in pod_specs(objects):
        if not where.startswith(("Deployment/obsyk-", "Job/obsyk-")):
            continue
        [container] = pod["containers"]
        env = {item["name"]: item for item in container["env"]}
        for name in (
            "OBSYK_DATABASE_URL",
            "OBSYK_REDIS_URL",
            "OBSYK_SECRET_KEY",
            "OBSYK_SECRET_KEYS",
        ):
            assert "value" not in env[name], (where, name)
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "obsyk-platform"
        [source] = container["envFrom"]
        assert source["configMapRef"]["name"] == config["metadata"]["name"]


def test_the_platform_has_no_kubernetes_permissions() -> None:
    for tree in ("platform-dev", "platform-prod"):
        objects = render(tree)
        assert not [o for o in objects if "Role" in o["kind"]], tree
        account = find(objects, "ServiceAccount", "obsyk-platform")
        assert account["automountServiceAccountToken"] is False
        for where, pod in pod_specs(objects):
            assert pod["automountServiceAccountToken"] is False, where


def _policies(tree: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o["spec"] for o in render(tree) if o["kind"] == "NetworkPolicy"}


def test_network_policies_deny_by_default_and_open_only_the_needed_paths() -> None:
    policies = _policies("platform-prod")
    assert policies["obsyk-default-deny"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    api_in = policies["obsyk-api-ingress"]
    sources = [peer for rule in api_in["ingress"] for peer in rule["from"]]
    assert sources == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "tunnel"}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
    ]
    worker_in = policies["obsyk-worker-metrics"]
    [rule] = worker_in["ingress"]
    assert rule["ports"] == [{"port": 9100, "protocol": "TCP"}]
    assert rule["from"] == [sources[1]], "only Prometheus reaches a worker, on its metrics port"
    egress = policies["obsyk-platform-egress"]
    [selector] = egress["podSelector"]["matchExpressions"]
    assert set(selector["values"]) == PLATFORM_COMPONENTS
    ports = {port["port"] for rule in egress["egress"] for port in rule["ports"]}
    assert ports == {53, 5432, 6379}, "workers reach DNS, PostgreSQL and Redis only"
    assert all("to" not in rule for rule in egress["egress"])
    # HTTPS out (WorkOS sign-in) for the API alone, never for workers or the scheduler.
    https = policies["obsyk-api-egress-https"]
    assert https["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "api"}}
    assert [p["port"] for rule in https["egress"] for p in rule["ports"]] == [443]


def test_dev_datastores_answer_the_platform_only() -> None:
    rule = _policies("platform-dev")["obsyk-datastores-ingress"]
    [source] = [peer for item in rule["ingress"] for peer in item["from"]]
    [selector] = source["podSelector"]["matchExpressions"]
    assert set(selector["values"]) == PLATFORM_COMPONENTS


def test_prod_ingress_is_a_cloudflare_tunnel_with_credentials_from_a_secret() -> None:
    objects = render("platform-prod")
    tunnel = find(objects, "Deployment", "cloudflared")
    pod = tunnel["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["creds"]["secret"]["secretName"] == "cloudflared-credentials"
    [config_map] = [o for o in objects if o["metadata"]["name"].startswith("cloudflared-config")]
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]
    config = yaml.safe_load(config_map["data"]["cloudflared-config.yaml"])
    assert config["credentials-file"].startswith("/etc/cloudflared/creds/")
    rules = config["ingress"]
    # /metrics is refused before the API rule, and anything unmatched is refused.
    assert rules[0] == {
        "hostname": "obsyk.example.com",
        "path": "^/metrics",
        "service": "http_status:404",
    }
    assert rules[1]["service"] == "http://obsyk-api:80"
    assert rules[-1] == {"service": "http_status:404"}
    assert "cloudflared" not in str(render("platform-dev"))


def test_an_argo_cd_application_per_overlay_and_an_applicationset() -> None:
    overlays = sorted(p.name for p in (DEPLOY / "platform" / "overlays").iterdir())
    argocd = DEPLOY / "platform" / "argocd"
    for overlay in overlays:
        app = yaml.safe_load((argocd / f"application-{overlay}.yaml").read_text())
        assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
        source, destination = app["spec"]["source"], app["spec"]["destination"]
        assert source["path"] == f"deploy/platform/overlays/{overlay}"
        rendered = render(f"platform-{overlay}")
        namespaces = {o["metadata"]["name"] for o in rendered if o["kind"] == "Namespace"}
        assert {destination["namespace"]} == namespaces
        assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    appset = yaml.safe_load((argocd / "applicationset.yaml").read_text())
    assert appset["kind"] == "ApplicationSet"
    [generator] = appset["spec"]["generators"]
    elements = generator["list"]["elements"]
    assert sorted(e["env"] for e in elements) == overlays
    source = appset["spec"]["template"]["spec"]["source"]
    assert source["path"] == "deploy/platform/overlays/{{.env}}"
    for element in elements:
        path = Path(ROOT, f"deploy/platform/overlays/{element['env']}")
        assert (path / "kustomization.yaml").exists()


def test_image_tag_is_the_package_version() -> None:
    import importlib.metadata

    version = importlib.metadata.version("obsyk")
    for overlay in ("dev", "prod"):
        for where, pod in pod_specs(render(f"platform-{overlay}")):
            for container in pod["containers"]:
                if container["image"].startswith("ghcr.io/obsyk/obsyk-platform"):
                    assert container["image"] == f"ghcr.io/obsyk/obsyk-platform:{version}", where
