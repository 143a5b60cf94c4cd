"""The Helm chart, rendered offline: valid objects, locked-down pods, and the deployment it
promises (roles, GPUs, secrets, probes, KEDA, Strimzi, training, monitoring, alert forwarding)."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path

import helm_python
import pytest
import yaml
from prometheus_client import generate_latest

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
EXPECTED_KINDS = {
    "minimal": {"ConfigMap", "Deployment", "PersistentVolumeClaim", "PodDisruptionBudget", "Service", "ServiceAccount"},
    "gpu": {
        "ConfigMap",
        "Deployment",
        "Job",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    },
    "keda": {
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "ScaledObject",
        "Service",
        "ServiceAccount",
        "TriggerAuthentication",
    },
    "strimzi": {
        "ConfigMap",
        "Deployment",
        "KafkaTopic",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    },
    "monitoring": {
        "ConfigMap",
        "Deployment",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    },
}

# The metrics the chart's PrometheusRule and Grafana dashboard may name, with their labels: what
# the workers (streamproc/observability) and the forwarder (streamproc/forward) export, plus
# Prometheus' own `up`. The one list to update when the code's metrics change. Histograms are
# queried through their _bucket, _sum and _count series.
CHART_METRICS: dict[str, tuple[str, frozenset[str]]] = {
    name: (kind, frozenset(labels))
    for name, kind, labels in [
        ("streamproc_readings_total", "counter", {"outcome"}),
        ("streamproc_windows_scored_total", "counter", {"detector"}),
        ("streamproc_scoring_seconds", "histogram", {"detector"}),
        ("streamproc_reading_to_score_seconds", "histogram", set()),
        ("streamproc_reading_to_alert_seconds", "histogram", set()),
        ("streamproc_alerts_total", "counter", {"state"}),
        ("streamproc_open_alerts", "gauge", {"severity"}),
        ("streamproc_dead_letters_total", "counter", {"reason"}),
        ("streamproc_dead_letters_repeated_total", "counter", set()),
        ("streamproc_feedback_total", "counter", {"outcome"}),
        ("streamproc_batch_messages", "histogram", {"stage"}),
        ("streamproc_consumer_lag_messages", "gauge", {"topic", "partition"}),
        ("streamproc_build_info", "gauge", {"version", "python"}),
        ("streamproc_model_info", "gauge", {"channel", "detector", "model_version"}),
        ("streamproc_channel_score_ratio", "gauge", {"channel", "detector"}),
        ("streamproc_channel_threshold", "gauge", {"channel", "detector"}),
        ("streamproc_channel_last_reading_timestamp_seconds", "gauge", {"channel"}),
        ("streamproc_forward_deliveries_total", "counter", {"sink", "outcome"}),
        ("streamproc_forward_open_alerts", "gauge", set()),
        ("up", "gauge", set()),
    ]
}
# Label values the queries may match on, where the code fixes them.
CHART_LABEL_VALUES = {
    ("streamproc_forward_deliveries_total", "outcome"): {"delivered", "retried", "dead_lettered"},
    ("streamproc_alerts_total", "state"): {"OPEN", "UPDATE", "RESOLVED"},
}
# Labels Prometheus (through the Prometheus Operator's monitors) puts on every scraped series.
TARGET_LABELS = frozenset({"job", "namespace", "pod", "container", "instance", "endpoint", "service"})


def of_kind(objects, kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects, kind: str, name: str) -> dict:
    (obj,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return obj


def pod_specs(objects) -> list[tuple[str, dict]]:
    """(owner name, pod spec) of every Deployment and Job."""
    return [
        (obj["metadata"]["name"], obj["spec"]["template"]["spec"])
        for obj in objects
        if obj["kind"] in ("Deployment", "Job")
    ]


def env_of(container: dict) -> dict[str, dict]:
    return {var["name"]: var for var in container.get("env", [])}


def config_toml(objects) -> dict:
    (config_map,) = [cm for cm in of_kind(objects, "ConfigMap") if "streamproc.toml" in cm["data"]]
    return tomllib.loads(config_map["data"]["streamproc.toml"])


def workers(objects) -> list[dict]:
    """The worker Deployments (every role), without the alert forwarder."""
    return [
        d
        for d in of_kind(objects, "Deployment")
        if d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] != "forwarder"
    ]


def selects(selector: dict, labels: dict) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions) matches `labels`."""
    match_labels = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    for requirement in selector.get("matchExpressions", []):
        key, operator, values = requirement["key"], requirement["operator"], requirement.get("values", [])
        if (
            (operator == "Exists" and key not in labels)
            or (operator == "DoesNotExist" and key in labels)
            or (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and labels.get(key) in values)
        ):
            return False
    return True


# --- every example: valid, in sync, locked down ---------------------------------------------


def test_example_objects_validate_strictly(example, rendered_example, validation_errors):
    objects = rendered_example(example)
    assert {obj["kind"] for obj in objects} == EXPECTED_KINDS[example]
    errors = [
        f"{obj['kind']}/{obj['metadata']['name']}: {error}" for obj in objects for error in validation_errors(obj)
    ]
    assert errors == []


def test_example_manifest_is_the_chart_output(example, renderer):
    committed = (renderer.EXAMPLES_DIR / example / "manifest.yaml").read_text()
    assert committed == renderer.render_example(example), "stale example: run python deploy/k8s/render_examples.py"


def test_renderer_check_mode_agrees_with_the_committed_examples(renderer):
    assert renderer.main(["--check"]) == 0


def test_names_and_label_values_are_valid_kubernetes_names(example, rendered_example):
    for obj in rendered_example(example):
        metadata = obj["metadata"]
        assert DNS_SUBDOMAIN.match(metadata["name"]) and len(metadata["name"]) <= 63, metadata["name"]
        for value in metadata.get("labels", {}).values():
            assert len(value) <= 63 and re.match(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$", value)
    for name, _ in pod_specs(rendered_example(example)):
        assert DNS_LABEL.match(name), f"{name}: pods of a workload need a DNS-label name"


def test_every_pod_runs_non_root_read_only_without_capabilities(example, rendered_example):
    pods = pod_specs(rendered_example(example))
    assert pods
    for owner, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, owner
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, owner
        assert pod["automountServiceAccountToken"] is False, owner
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, owner
            assert context["readOnlyRootFilesystem"] is True, owner
            assert context["allowPrivilegeEscalation"] is False, owner
            assert context["capabilities"] == {"drop": ["ALL"]}, owner


def test_writable_paths_are_empty_dirs(example, rendered_example):
    for owner, pod in pod_specs(rendered_example(example)):
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        (container,) = pod["containers"]
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        for path in ("/tmp", "/var/lib/streamproc"):
            assert "emptyDir" in volumes[mounts[path]], f"{owner}: {path}"
        assert env_of(container)["F_DATADIR"]["value"] == "/var/lib/streamproc"


def test_workers_probe_the_worker_endpoints_and_set_resources(example, rendered_example, renderer):
    objects = rendered_example(example)
    values = renderer.effective_values(renderer.load_values(renderer.EXAMPLES_DIR / example / "values.yaml"))
    port = config_toml(objects)["worker"]["web_port"]
    assert workers(objects)
    for deployment in workers(objects):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["resources"]["requests"] and container["resources"]["limits"]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        if values["metrics"]["podAnnotations"]:
            assert annotations["prometheus.io/scrape"] == "true"
            assert annotations["prometheus.io/port"] == str(port)
            assert annotations["prometheus.io/path"] == "/metrics"
        else:
            assert not any(key.startswith("prometheus.io/") for key in annotations)


def test_every_deployment_has_a_disruption_budget(example, rendered_example):
    objects = rendered_example(example)
    budgets = {pdb["metadata"]["name"]: pdb for pdb in of_kind(objects, "PodDisruptionBudget")}
    for deployment in of_kind(objects, "Deployment"):
        budget = budgets[deployment["metadata"]["name"]]
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]
        assert budget["spec"]["maxUnavailable"] == 1


def test_kafka_credentials_come_from_secrets_only(example, rendered_example):
    objects = rendered_example(example)
    assert not of_kind(objects, "Secret")
    for owner, pod in pod_specs(objects):
        for name, var in env_of(pod["containers"][0]).items():
            if name == "KAFKA_BOOTSTRAP" or name.startswith(("STREAMPROC_KAFKA__", "STREAMPROC_FORWARD__")):
                assert set(var) == {"name", "valueFrom"}, f"{owner}: {name} is inline"
                assert "secretKeyRef" in var["valueFrom"]
    kafka = config_toml(objects)["kafka"]
    assert not {"bootstrap", "sasl_username", "sasl_password"} & set(kafka)


def test_configuration_is_toml_the_worker_reads(example, rendered_example, renderer):
    objects = rendered_example(example)
    values = renderer.effective_values(renderer.load_values(renderer.EXAMPLES_DIR / example / "values.yaml"))
    config = config_toml(objects)
    assert config["detectors"]["enabled"] == [d["name"] for d in values["detectors"]]
    assert config["topics"]["readings"] == "sensors.readings"
    assert config["topics"]["dead_letter"] == "readings.dlq"
    assert isinstance(config["topics"]["partitions"], int)
    for owner, pod in pod_specs(objects):
        container = pod["containers"][0]
        assert env_of(container)["STREAMPROC_CONFIG"]["value"] == "/etc/streamproc/config/streamproc.toml"
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["config"] == "/etc/streamproc/config", owner


def test_every_option_at_once_still_renders_valid_objects(render, minimal_values, validation_errors):
    values = copy.deepcopy(minimal_values)
    values.update(
        {
            "fullnameOverride": "anomalies",
            "image": {
                "repository": "registry.example.com/streamproc",
                "tag": "1.2.3",
                "pullSecrets": ["registry-credentials"],
            },
            "kafka": {
                "bootstrap": {"secretName": "kafka", "key": "servers"},
                "securityProtocol": "SASL_SSL",
                "sasl": {"mechanism": "PLAIN", "secretName": "sasl", "usernameKey": "user", "passwordKey": "pass"},
                "tls": {"caSecretName": "ca", "clientSecretName": "client"},
                "schemaRegistryUrl": "https://registry.example.com",
            },
            "config": {
                "window": {"size": 128, "stride": 16},
                "fusion": {
                    "policy": "k_of_n",
                    "openAfter": 2,
                    "resolveAfter": 4,
                    "feedbackStep": 0,
                    "feedbackMaxScale": 2.5,
                },
                "worker": {"webPort": 7070, "batchSize": 512},
                "extraToml": "[detectors.config.pca]\ncomponents = 0.9\n",
            },
            "detectors": [
                {
                    "name": "pca",
                    "replicas": 3,
                    "nodeSelector": {"pool": "cpu"},
                    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "topologyKey": "kubernetes.io/hostname",
                                        "labelSelector": {"matchLabels": {"streamproc/detector": "pca"}},
                                    },
                                }
                            ]
                        }
                    },
                },
                {"name": "usad", "gpu": True},
            ],
            "models": {"pvc": {"existingClaim": "models"}, "version": "7"},
            "training": {
                "enabled": True,
                "runId": 8,
                "data": {"existingClaim": "history"},
                "args": ["--force"],
                "activeDeadlineSeconds": 3600,
            },
            "keda": {"enabled": True, "minReplicas": 0, "topic": "streamproc-windows"},
            "strimzi": {
                "enabled": True,
                "clusterName": "events",
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "keepOnUninstall": False,
            },
            "metrics": {
                "podAnnotations": False,
                "service": {"enabled": True, "annotations": {"example.com/owner": "plant-7"}},
                "serviceMonitor": {
                    "enabled": True,
                    "interval": "1m",
                    "scrapeTimeout": "",
                    "labels": {"release": "monitoring"},
                },
                "prometheusRule": {
                    "enabled": True,
                    "labels": {"release": "monitoring"},
                    "consumerLagThreshold": 0,
                    "deadLetterRateThreshold": 0.5,
                    "channelSilentSeconds": 120,
                    "alertRatePerHour": 3.5,
                },
            },
            "grafana": {
                "dashboards": {
                    "enabled": True,
                    "labelKey": "grafana.example.com/dashboard",
                    "labelValue": "yes",
                    "namespace": "grafana",
                    "folder": "Streams",
                    "folderAnnotation": "k8s-sidecar-target-directory",
                }
            },
            "forwarder": {
                "enabled": True,
                "replicas": 2,
                "metricsPort": 7071,
                "alertmanager": {"urlSecret": {"secretName": "sinks", "key": "am"}},
                "webhook": {
                    "urlSecret": {"secretName": "sinks", "key": "hook"},
                    "signingKeySecret": {"secretName": "hook-key", "key": "hmac"},
                },
                "labels": {"site": "plant_7", "asset": "pump-3"},
                "linkTemplate": "https://x/{alert_id}",
                "resendIntervalSeconds": 30,
                "timeoutSeconds": 2.5,
                "retries": 0,
                "resources": {"requests": {"cpu": "10m"}, "limits": {"memory": "64Mi"}},
                "nodeSelector": {"pool": "system"},
                "tolerations": [{"key": "system", "operator": "Exists", "effect": "NoSchedule"}],
                "affinity": {
                    "nodeAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 1,
                                "preference": {
                                    "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]
                                },
                            }
                        ]
                    }
                },
            },
            "podDisruptionBudget": {"enabled": False},
            "podSecurityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None},
            "serviceAccount": {"create": False, "name": "workers"},
            "extraEnv": [{"name": "STREAMPROC_WORKER__TIMESTAMP_GRACE_MS", "value": "5000"}],
            "podAnnotations": {"team": "reliability"},
            "podLabels": {"cost-center": "plant-7"},
            "priorityClassName": "streaming",
        }
    )
    objects = render(values)
    assert [f"{o['kind']}/{o['metadata']['name']}: {e}" for o in objects for e in validation_errors(o)] == []
    assert {o["kind"] for o in objects} == {
        "ConfigMap",
        "Deployment",
        "Job",
        "KafkaTopic",
        "PrometheusRule",
        "ScaledObject",
        "Service",
        "ServiceMonitor",
        "TriggerAuthentication",
    }
    config = config_toml(objects)
    assert config["detectors"]["config"] == {"pca": {"components": 0.9}}
    assert config["worker"] == {"web_port": 7070, "batch_size": 512}
    # A step of 0 (feedback counted, nothing tuned) is a value, not an absent one.
    assert config["fusion"] == {
        "policy": "k_of_n",
        "open_after": 2,
        "resolve_after": 4,
        "feedback_step": 0.0,
        "feedback_max_scale": 2.5,
    }
    pod = named(objects, "Deployment", "anomalies-detect-pca")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["serviceAccountName"] == "workers" and pod["priorityClassName"] == "streaming"
    assert pod["containers"][0]["ports"][0]["containerPort"] == 7070
    assert {job["metadata"]["name"] for job in of_kind(objects, "Job")} == {
        "anomalies-train-pca-8",
        "anomalies-train-usad-8",
    }
    assert config["forward"] == {
        "metrics_port": 7071,
        "labels": {"asset": "pump-3", "site": "plant_7"},
        "link_template": "https://x/{alert_id}",
        "resend_interval_s": 30,
        "timeout_s": 2.5,
        "retries": 0,
    }
    forwarder = named(objects, "Deployment", "anomalies-forwarder")
    assert forwarder["spec"]["replicas"] == 2
    assert forwarder["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "system"}
    assert named(objects, "Service", "anomalies-metrics")["spec"]["ports"][0]["port"] == 7070
    assert named(objects, "Service", "anomalies-forwarder-metrics")["spec"]["ports"][0]["port"] == 7071
    (endpoint,) = of_kind(objects, "ServiceMonitor")[0]["spec"]["endpoints"]
    assert endpoint["interval"] == "1m" and "scrapeTimeout" not in endpoint
    rules = {r["alert"]: r["expr"] for r in rules_of(objects)}
    assert 'job="anomalies-metrics"' in rules["StreamprocWorkerDown"]
    assert 'job="anomalies-forwarder-metrics"' in rules["StreamprocForwarderFailing"]
    (dashboard_map,) = [cm for cm in of_kind(objects, "ConfigMap") if "streamproc.json" in cm["data"]]
    assert dashboard_map["metadata"]["labels"]["grafana.example.com/dashboard"] == "yes"
    assert dashboard_map["metadata"]["annotations"] == {"k8s-sidecar-target-directory": "Streams"}


def test_install_notes_name_objects_and_labels_of_the_release(example, renderer, rendered_example):
    objects = rendered_example(example)
    notes = renderer.render_notes(renderer.load_values(renderer.EXAMPLES_DIR / example / "values.yaml"))
    deployments = {obj["metadata"]["name"] for obj in of_kind(objects, "Deployment")}
    labels = {f"{k}={v}" for obj in objects for k, v in obj["metadata"].get("labels", {}).items()}
    mentioned = set(re.findall(r"deployment/([a-z0-9-]+)", notes))
    assert mentioned == deployments
    for selector in re.findall(r" -l (\S+)", notes):
        assert set(selector.split(",")) <= labels, selector
    assert ("training run" in notes.lower()) == bool(of_kind(objects, "Job"))


# --- topology --------------------------------------------------------------------------------


def test_split_mode_runs_one_deployment_per_role_and_detector(rendered_example):
    objects = rendered_example("gpu")
    commands = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["args"]
        for d in of_kind(objects, "Deployment")
    }
    assert commands == {
        "streamproc-window": ["run", "--role", "window"],
        "streamproc-detect-structure-aware": ["run", "--role", "detect", "--detector", "structure_aware"],
        "streamproc-detect-pca": ["run", "--role", "detect", "--detector", "pca"],
        "streamproc-fusion": ["run", "--role", "fuse"],
    }


def test_all_in_one_mode_runs_every_role_in_one_deployment(rendered_example):
    (deployment,) = of_kind(rendered_example("strimzi"), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["run", "--role", "all"]
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/models", "/etc/streamproc/tls"}


def test_only_detectors_mount_the_models_read_only(rendered_example):
    objects = rendered_example("gpu")
    for deployment in of_kind(objects, "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        models_dir = env_of(container).get("STREAMPROC_DETECTORS__MODELS_DIR")
        if "-detect-" in deployment["metadata"]["name"]:
            assert mounts["/models"]["readOnly"] is True
            assert models_dir == {"name": "STREAMPROC_DETECTORS__MODELS_DIR", "value": "/models/2025-05-01"}
        else:
            assert "/models" not in mounts and models_dir is None


def test_a_new_models_version_rolls_only_the_detectors(render, renderer):
    values = renderer.load_values(renderer.EXAMPLES_DIR / "gpu" / "values.yaml")
    before = {d["metadata"]["name"]: d["spec"]["template"] for d in of_kind(render(values), "Deployment")}
    values["models"]["version"] = "2025-06-01"
    after = {d["metadata"]["name"]: d["spec"]["template"] for d in of_kind(render(values), "Deployment")}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"streamproc-detect-structure-aware", "streamproc-detect-pca"}


def test_gpu_detectors_get_gpus_cuda_image_node_selector_and_toleration(rendered_example):
    objects = rendered_example("gpu")
    gpu_pod = named(objects, "Deployment", "streamproc-detect-structure-aware")["spec"]["template"]["spec"]
    cpu_pod = named(objects, "Deployment", "streamproc-detect-pca")["spec"]["template"]["spec"]
    gpu_container, cpu_container = gpu_pod["containers"][0], cpu_pod["containers"][0]

    assert gpu_container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu_container["image"] == "registry.example.com/analytics/streamproc:0.1.0-cuda"
    assert env_of(gpu_container)["STREAMPROC_DETECTORS__DEVICE"]["value"] == "cuda"
    assert gpu_pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu_pod["tolerations"]

    gpu_strategy = named(objects, "Deployment", "streamproc-detect-structure-aware")["spec"]["strategy"]
    assert gpu_strategy["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}

    assert "nvidia.com/gpu" not in cpu_container["resources"].get("limits", {})
    assert cpu_container["image"] == "registry.example.com/analytics/streamproc:0.1.0"
    assert "STREAMPROC_DETECTORS__DEVICE" not in env_of(cpu_container)
    assert "nodeSelector" not in cpu_pod and "tolerations" not in cpu_pod


def test_sasl_credentials_reach_the_workers(rendered_example):
    objects = rendered_example("gpu")
    assert config_toml(objects)["kafka"] == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512"}
    for deployment in of_kind(objects, "Deployment"):
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        assert env["STREAMPROC_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "kafka-credentials",
            "key": "password",
        }


def test_mutual_tls_files_are_mounted_where_the_configuration_points(rendered_example):
    objects = rendered_example("strimzi")
    kafka = config_toml(objects)["kafka"]
    assert kafka["ssl_cafile"] == "/etc/streamproc/tls/ca.crt"
    assert kafka["ssl_certfile"] == "/etc/streamproc/tls/client.crt"
    assert kafka["ssl_keyfile"] == "/etc/streamproc/tls/client.key"
    pod = of_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]
    (tls,) = [v for v in pod["volumes"] if v["name"] == "kafka-tls"]
    files = {
        item["path"]: (source["secret"]["name"], item["key"])
        for source in tls["projected"]["sources"]
        for item in source["secret"]["items"]
    }
    assert files == {
        "ca.crt": ("events-cluster-ca-cert", "ca.crt"),
        "client.crt": ("streamproc", "user.crt"),
        "client.key": ("streamproc", "user.key"),
    }


# --- KEDA, Strimzi, training, models -----------------------------------------------------------


def test_keda_scales_each_detector_on_its_consumer_group_capped_at_partitions(rendered_example):
    objects = rendered_example("keda")
    scaled = {so["spec"]["scaleTargetRef"]["name"]: so for so in of_kind(objects, "ScaledObject")}
    assert set(scaled) == {"streamproc-detect-pca", "streamproc-detect-range"}
    for name, scaled_object in scaled.items():
        assert scaled_object["spec"]["maxReplicaCount"] == 8  # keda.maxReplicas 20, 8 partitions
        (trigger,) = scaled_object["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == "streamproc-detect-" + name.split("-detect-")[1]
        assert trigger["metadata"]["allowIdleConsumers"] == "false"
        assert trigger["metadata"]["sasl"] == "scram_sha256" and trigger["metadata"]["tls"] == "enable"
        assert trigger["authenticationRef"] == {"name": "streamproc-kafka"}
        # The replica count belongs to KEDA: Helm must not reset it on every upgrade.
        assert "replicas" not in named(objects, "Deployment", name)["spec"]
    assert "replicas" in named(objects, "Deployment", "streamproc-window")["spec"]
    (auth,) = of_kind(objects, "TriggerAuthentication")
    refs = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    assert refs == {
        "username": ("kafka-credentials", "username"),
        "password": ("kafka-credentials", "password"),
        "ca": ("kafka-ca", "ca.crt"),
    }


def test_keda_consumer_groups_follow_the_app_id(render, minimal_values):
    values = {**minimal_values, "appId": "plant-7", "keda": {"enabled": True}}
    groups = {o["spec"]["triggers"][0]["metadata"]["consumerGroup"] for o in of_kind(render(values), "ScaledObject")}
    assert groups == {"plant-7-detect-structure_aware", "plant-7-detect-pca"}


def test_strimzi_declares_every_topic(rendered_example):
    topics = of_kind(rendered_example("strimzi"), "KafkaTopic")
    assert sorted(t["spec"]["topicName"] for t in topics) == sorted(
        ["sensors.readings", "scores", "alerts", "readings.dlq", "alerts.feedback"]
    )
    for topic in topics:
        assert topic["apiVersion"] == "kafka.strimzi.io/v1"
        assert topic["metadata"]["namespace"] == "kafka"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "events"
        assert topic["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert topic["spec"]["partitions"] == 6 and topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"] == {"retention.ms": 604800000, "min.insync.replicas": 2}


def test_split_mode_also_declares_the_internal_windows_topic(render, minimal_values):
    values = {**minimal_values, "strimzi": {"enabled": True, "clusterName": "events"}}
    topics = {t["spec"]["topicName"] for t in of_kind(render(values), "KafkaTopic")}
    assert topics == {"sensors.readings", "scores", "alerts", "readings.dlq", "alerts.feedback", "streamproc-windows"}


def test_training_job_runs_streamproc_train_into_the_models_volume(rendered_example):
    objects = rendered_example("gpu")
    (job,) = of_kind(objects, "Job")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == [
        "train",
        "--detector",
        "structure_aware",
        "--data",
        "/data/smap",
        "--out",
        "/models/2025-06-01",
    ]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert not mounts["/models"].get("readOnly") and mounts["/data"]["readOnly"] is True
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v
    }
    assert claims == {"models": "streamproc-models", "training-data": "sensor-history"}
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["restartPolicy"] == "Never"
    assert "KAFKA_BOOTSTRAP" not in env_of(container)


def test_training_passes_further_arguments_through(render, renderer):
    values = renderer.load_values(renderer.EXAMPLES_DIR / "gpu" / "values.yaml")
    values["training"]["args"] = ["--channels", "P-1,P-2"]
    (job,) = of_kind(render(values), "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["--channels", "P-1,P-2"]


def test_retraining_cronjobs_train_shadows_from_the_readings_topic_into_the_live_models(
    render, minimal_values, validation_errors
):
    values = _with(
        minimal_values,
        {"retraining": {"enabled": True, "schedule": "15 2 * * *", "history": "3d", "args": ["--channels", "P-1"]}},
    )
    jobs = {job["metadata"]["name"]: job for job in of_kind(render(values), "CronJob")}
    assert set(jobs) == {"streamproc-retrain-structure-aware", "streamproc-retrain-pca"}
    assert [error for job in jobs.values() for error in validation_errors(job)] == []
    job = jobs["streamproc-retrain-pca"]
    assert job["spec"]["schedule"] == "15 2 * * *" and job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == [
        "train",
        "--detector",
        "pca",
        "--from-topic",
        "sensors.readings",
        "--since",
        "3d",
        "--out",
        "/models",
        "--shadow",
        "--channels",
        "P-1",
    ]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert not mounts["/models"].get("readOnly"), "shadows are written where the detectors read"
    assert "KAFKA_BOOTSTRAP" in env_of(container), "it reads the readings topic"
    assert pod["restartPolicy"] == "Never"


def test_retraining_needs_the_models_claim(render, minimal_values):
    values = _with(
        minimal_values,
        {"retraining": {"enabled": True}, "models": {"source": "image", "image": {"reference": "models:1"}}},
    )
    with pytest.raises(helm_python.HelmRenderError, match="retraining.enabled needs models.source=pvc"):
        render(values)


def test_models_can_come_from_an_image_volume(rendered_example):
    objects = rendered_example("keda")
    assert not of_kind(objects, "PersistentVolumeClaim")
    pod = named(objects, "Deployment", "streamproc-detect-pca")["spec"]["template"]["spec"]
    (models,) = [v for v in pod["volumes"] if v["name"] == "models"]
    assert models["image"]["reference"] == "registry.example.com/analytics/streamproc-models:2025-06-01"


def test_configuration_changes_roll_the_pods(render, minimal_values):
    before = of_kind(render(minimal_values), "Deployment")[0]
    changed = copy.deepcopy(minimal_values)
    changed["config"] = {"window": {"size": 128}}
    after = of_kind(render(changed), "Deployment")[0]
    annotation = "checksum/config"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][annotation]
        != after["spec"]["template"]["metadata"]["annotations"][annotation]
    )


# --- monitoring: metrics Services, monitors, rules, dashboard ----------------------------------

PROMQL_FUNCTIONS = frozenset(
    {
        "sum",
        "max",
        "min",
        "avg",
        "count",
        "rate",
        "irate",
        "increase",
        "deriv",
        "histogram_quantile",
        "time",
        "absent",
        "vector",
        "clamp_min",
        "topk",
    }
)
PROMQL_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
PROMQL_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset"})
_PROMQL_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<braces>\{[^}]*\})|(?P<range>\[[^\]]*\])'
    r"|(?P<number>\d+(?:\.\d*)?(?:e[+-]?\d+)?)|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)"
    r"|(?P<other>.))"
)
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def promql_problems(expr: str) -> list[str]:
    """Why a PromQL expression (or a Grafana label_values(...) query) names something outside
    CHART_METRICS: an unknown metric, function, label, or label value; empty when it is fine."""
    label_values = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", expr)
    extra_labels = set()
    if label_values:
        expr, label = label_values.groups()
        extra_labels.add(label)
    tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in _PROMQL_TOKEN.finditer(expr) if m.lastgroup]
    problems, grouping, used_labels = [], set(), set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else (None, None)
        if kind == "name" and text in PROMQL_GROUPING and following == ("other", "("):
            end = next(j for j in range(i + 2, len(tokens)) if tokens[j] == ("other", ")"))
            grouping |= {t for k, t in tokens[i + 2 : end] if k == "name"}
            i = end + 1
            continue
        if kind == "name" and (following == ("other", "(") or text in PROMQL_FUNCTIONS):
            # A function, or an aggregation whose `by (...)` comes before its argument.
            if text not in PROMQL_FUNCTIONS:
                problems.append(f"unknown function {text}")
        elif kind == "name" and text not in PROMQL_KEYWORDS:
            base = re.sub(r"_(bucket|sum|count)$", "", text)
            if text in CHART_METRICS:
                metric, labels = text, set(CHART_METRICS[text][1])
            elif base != text and CHART_METRICS.get(base, ("",))[0] == "histogram":
                metric, labels = base, set(CHART_METRICS[base][1]) | ({"le"} if text.endswith("_bucket") else set())
            else:
                problems.append(f"unknown metric {text}")
                metric, labels = text, set()
            used_labels |= labels
            if following[0] == "braces":
                body = following[1][1:-1]
                matchers = _MATCHER.findall(body)
                if "".join(m.group(0) for m in _MATCHER.finditer(body)).strip() != body.strip():
                    problems.append(f"{text}: unreadable matchers {body}")
                for label, operator, value in matchers:
                    if label not in labels | TARGET_LABELS:
                        problems.append(f"{text}: unknown label {label}")
                    allowed = CHART_LABEL_VALUES.get((metric, label))
                    if allowed and operator == "=" and value not in allowed:
                        problems.append(f"{text}: {label}={value!r} is none of {sorted(allowed)}")
                i += 1
        elif kind == "braces":
            problems.append(f"selector without a metric name: {text}")
        i += 1
    unknown = grouping - used_labels - TARGET_LABELS - {"le"}
    problems += [f"grouping by unknown label {label}" for label in sorted(unknown)]
    problems += [
        f"label_values of unknown label {label}" for label in sorted(extra_labels - used_labels - TARGET_LABELS)
    ]
    return problems


def test_the_promql_check_catches_unknown_names():
    assert promql_problems('sum by (le) (rate(streamproc_scoring_seconds_bucket{job="x"}[5m]))') == []
    assert promql_problems("sum(rate(streamproc_reading_total[5m]))") == ["unknown metric streamproc_reading_total"]
    assert promql_problems('rate(streamproc_alerts_total{status="OPEN"}[1h])') == [
        "streamproc_alerts_total: unknown label status"
    ]
    assert promql_problems('rate(streamproc_alerts_total{state="open"}[1h])')
    assert promql_problems("sum by (sensor) (streamproc_open_alerts)") == ["grouping by unknown label sensor"]
    assert promql_problems("sume(up)") == ["unknown function sume"]
    assert promql_problems("streamproc_readings_total_bucket") == ["unknown metric streamproc_readings_total_bucket"]
    assert promql_problems('label_values(streamproc_build_info{namespace="$namespace"}, job)') == []
    assert promql_problems("label_values(streamproc_build_info, chanel)") == ["label_values of unknown label chanel"]


MONITORING_VARIANTS = {
    # PodMonitor instead of the ServiceMonitor, a webhook-only forwarder.
    "pod monitor": (
        {
            "metrics": {
                "podMonitor": {"enabled": True, "interval": "15s", "labels": {"team": "ops"}},
                "prometheusRule": {"enabled": True},
            },
            "forwarder": {"enabled": True, "webhook": {"urlSecret": {"secretName": "hooks"}}},
        },
        {"PodMonitor", "PrometheusRule", "Service"},
    ),
    "nothing for monitoring": ({"metrics": {"podAnnotations": False, "service": {"enabled": False}}}, set()),
    "all-in-one with a service monitor": (
        {
            "mode": "all-in-one",
            "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
            "grafana": {"dashboards": {"enabled": True}},
        },
        {"PrometheusRule", "Service", "ServiceMonitor"},
    ),
    "forwarder without budget or service": (
        {
            "podDisruptionBudget": {"enabled": False},
            "metrics": {"service": {"enabled": False}},
            "forwarder": {"enabled": True, "alertmanager": {"urlSecret": {"secretName": "am"}}},
        },
        set(),
    ),
}
MONITORING_KINDS = {"PodMonitor", "PrometheusRule", "Service", "ServiceMonitor"}


def _with(values: dict, overlay: dict) -> dict:
    merged = copy.deepcopy(values)
    for key, value in overlay.items():
        merged[key] = _with(merged.get(key, {}), value) if isinstance(value, dict) else value
    return merged


@pytest.mark.parametrize("variant", MONITORING_VARIANTS)
def test_monitoring_variants_render_valid_objects(variant, render, minimal_values, validation_errors):
    overlay, kinds = MONITORING_VARIANTS[variant]
    objects = render(_with(minimal_values, overlay))
    assert [f"{o['kind']}/{o['metadata']['name']}: {e}" for o in objects for e in validation_errors(o)] == []
    assert {o["kind"] for o in objects} & MONITORING_KINDS == kinds


def test_metrics_service_selects_every_worker_pod_and_the_port_it_listens_on(example, rendered_example):
    objects = rendered_example(example)
    port = config_toml(objects)["worker"]["web_port"]
    service = named(objects, "Service", "streamproc-metrics")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": port, "targetPort": "metrics", "protocol": "TCP"}]
    selector = service["spec"]["selector"]
    for deployment in workers(objects):
        template = deployment["spec"]["template"]
        assert selects(selector, template["metadata"]["labels"]), deployment["metadata"]["name"]
        (container,) = template["spec"]["containers"]
        assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container["ports"]
    others = [o for o in objects if o["kind"] in ("Deployment", "Job") and o not in workers(objects)]
    for other in others:  # training Jobs and the forwarder listen elsewhere, or not at all
        assert not selects(selector, other["spec"]["template"]["metadata"]["labels"]), other["metadata"]["name"]
    assert service["metadata"]["labels"]["streamproc/scrape-job"] == "streamproc-metrics"


def test_service_monitor_scrapes_the_metrics_services_by_port_name(rendered_example):
    objects = rendered_example("monitoring")
    (monitor,) = of_kind(objects, "ServiceMonitor")
    services = of_kind(objects, "Service")
    assert {s["metadata"]["name"] for s in services} == {"streamproc-metrics", "streamproc-forwarder-metrics"}
    assert monitor["metadata"]["labels"]["release"] == "monitoring"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["streamproc"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "metrics",
        "path": "/metrics",
        "scheme": "http",
        "interval": "30s",
        "scrapeTimeout": "10s",
    }
    pods = [o["spec"]["template"] for o in of_kind(objects, "Deployment")]
    for service in services:
        assert selects(monitor["spec"]["selector"], service["metadata"]["labels"])
        # The job of the targets: the Service's value of the monitor's jobLabel, its own name.
        assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == service["metadata"]["name"]
        (service_port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
        backing = [pod for pod in pods if selects(service["spec"]["selector"], pod["metadata"]["labels"])]
        assert backing, service["metadata"]["name"]
        for pod in backing:
            ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
            assert ports[service_port["targetPort"]] == service_port["port"]
            assert pod["metadata"]["labels"][monitor["spec"]["jobLabel"]] == service["metadata"]["name"]


def test_pod_monitor_scrapes_the_metrics_port_of_workers_and_forwarder(render, minimal_values):
    overlay, _ = MONITORING_VARIANTS["pod monitor"]
    objects = render(_with(minimal_values, overlay))
    (monitor,) = of_kind(objects, "PodMonitor")
    assert monitor["metadata"]["labels"]["team"] == "ops"
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint == {
        "port": "metrics",
        "path": "/metrics",
        "scheme": "http",
        "interval": "15s",
        "scrapeTimeout": "10s",
    }
    jobs = {}
    for deployment in of_kind(objects, "Deployment"):
        template = deployment["spec"]["template"]
        assert selects(monitor["spec"]["selector"], template["metadata"]["labels"])
        assert endpoint["port"] in {p["name"] for p in template["spec"]["containers"][0]["ports"]}
        jobs[deployment["metadata"]["name"]] = template["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    # The same jobs a ServiceMonitor would give: the metrics Services' names.
    assert set(jobs.values()) == {s["metadata"]["name"] for s in of_kind(objects, "Service")}
    assert jobs["streamproc-forwarder"] == "streamproc-forwarder-metrics"
    training = render(
        _with(minimal_values, {**overlay, "training": {"enabled": True, "data": {"existingClaim": "history"}}})
    )
    for job in of_kind(training, "Job"):
        assert not selects(monitor["spec"]["selector"], job["spec"]["template"]["metadata"]["labels"])


EXPECTED_ALERTS = {
    "StreamprocWorkerDown",
    "StreamprocConsumerLagGrowing",
    "StreamprocDeadLetters",
    "StreamprocChannelSilent",
    "StreamprocAlertRate",
}
FORWARDER_ALERTS = {"StreamprocForwarderDown", "StreamprocForwarderFailing"}


def rules_of(objects) -> list[dict]:
    (rule,) = of_kind(objects, "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_rules_use_only_known_metrics_and_carry_severity_and_summary(rendered_example):
    objects = rendered_example("monitoring")
    (rule,) = of_kind(objects, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "monitoring"
    rules = rules_of(objects)
    assert {r["alert"] for r in rules} == EXPECTED_ALERTS | FORWARDER_ALERTS
    jobs = {s["metadata"]["name"] for s in of_kind(objects, "Service")}
    for r in rules:
        assert promql_problems(r["expr"]) == [], r["alert"]
        assert r["labels"]["severity"] in ("critical", "warning", "info"), r["alert"]
        assert r["annotations"]["summary"] and r["annotations"]["description"], r["alert"]
        assert re.fullmatch(r"\d+[smh]", r["for"]), r["alert"]
        # Every selector is tied to this release's targets: the monitors' job and the namespace.
        selectors = re.findall(r"\{([^}]*)\}", r["expr"])
        assert selectors
        for selector in selectors:
            (job,) = re.findall(r'job="([^"]+)"', selector)
            assert job in jobs and 'namespace="streamproc"' in selector, (r["alert"], selector)
    by_name = {r["alert"]: r for r in rules}
    assert "> 50000" in by_name["StreamprocConsumerLagGrowing"]["expr"]
    assert "deriv(" in by_name["StreamprocConsumerLagGrowing"]["expr"]
    assert by_name["StreamprocConsumerLagGrowing"]["for"] == "15m"
    assert "> 900" in by_name["StreamprocChannelSilent"]["expr"]
    assert "> 0.1" in by_name["StreamprocDeadLetters"]["expr"]
    assert "* 3600 > 20" in by_name["StreamprocAlertRate"]["expr"]
    assert "absent(up{" in by_name["StreamprocWorkerDown"]["expr"]
    assert by_name["StreamprocWorkerDown"]["for"] == "5m"
    assert 'outcome="dead_lettered"' in by_name["StreamprocForwarderFailing"]["expr"]


def test_forwarder_alerts_only_with_the_forwarder(render, minimal_values):
    values = _with(
        minimal_values,
        {"metrics": {"podMonitor": {"enabled": True}, "prometheusRule": {"enabled": True, "alertRatePerHour": 2.5}}},
    )
    rules = rules_of(render(values))
    assert {r["alert"] for r in rules} == EXPECTED_ALERTS
    assert "* 3600 > 2.5" in {r["alert"]: r for r in rules}["StreamprocAlertRate"]["expr"]


def test_dashboard_configmap_carries_the_sidecar_label_and_valid_json(rendered_example, renderer):
    objects = rendered_example("monitoring")
    (dashboard_map,) = [cm for cm in of_kind(objects, "ConfigMap") if "streamproc.json" in cm["data"]]
    metadata = dashboard_map["metadata"]
    assert metadata["labels"]["grafana_dashboard"] == "1"
    assert metadata["namespace"] == "monitoring"
    assert metadata["annotations"] == {"grafana_folder": "Plant 7"}
    dashboard = json.loads(dashboard_map["data"]["streamproc.json"])
    assert dashboard == json.loads((renderer.CHART_DIR / "dashboards" / "streamproc.json").read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}"
            assert promql_problems(variable["query"]["query"]) == [], variable["name"]
    expressions = {}
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert promql_problems(target["expr"]) == [], (panel["title"], target["expr"])
            expressions.setdefault(panel["title"], []).append(target["expr"])
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    everything = " ".join(e for exprs in expressions.values() for e in exprs)
    for series in (
        "rate(streamproc_readings_total",
        "streamproc_windows_scored_total",
        "streamproc_consumer_lag_messages",
        "streamproc_reading_to_score_seconds_bucket",
        "streamproc_reading_to_alert_seconds_bucket",
        "streamproc_dead_letters_total",
        "sum by (severity) (streamproc_open_alerts",
        "streamproc_channel_score_ratio",
        "sum by (sink, outcome) (rate(streamproc_forward_deliveries_total",
    ):
        assert series in everything, series
    assert everything.count("histogram_quantile(0.5,") >= 2 and everything.count("histogram_quantile(0.99,") >= 2
    (ratio,) = [exprs for exprs in expressions.values() if any("channel_score_ratio" in e for e in exprs)]
    assert "vector(1)" in ratio  # the threshold line


def test_dashboard_label_and_namespace_follow_the_values(render, minimal_values):
    values = _with(
        minimal_values,
        {"grafana": {"dashboards": {"enabled": True, "labelKey": "dashboards", "labelValue": "streamproc"}}},
    )
    (dashboard_map,) = [cm for cm in of_kind(render(values), "ConfigMap") if "streamproc.json" in cm["data"]]
    assert dashboard_map["metadata"]["labels"]["dashboards"] == "streamproc"
    assert dashboard_map["metadata"]["namespace"] == "streamproc"
    assert "annotations" not in dashboard_map["metadata"]


def test_long_release_names_keep_monitoring_names_distinct_and_valid(render, minimal_values):
    values = _with(
        minimal_values,
        {
            "fullnameOverride": "a" * 63,
            "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
            "grafana": {"dashboards": {"enabled": True}},
            "forwarder": {"enabled": True, "alertmanager": {"urlSecret": {"secretName": "am"}}},
        },
    )
    objects = render(values)
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names))
    services = {o["metadata"]["name"] for o in of_kind(objects, "Service")}
    assert len(services) == 2 and all(DNS_LABEL.match(n) and len(n) <= 63 for n in services)
    for deployment in of_kind(objects, "Deployment"):
        job = deployment["spec"]["template"]["metadata"]["labels"]["streamproc/scrape-job"]
        assert job in services and len(job) <= 63


# --- the alert forwarder -------------------------------------------------------------------------


def test_forwarder_runs_streamproc_alerts_forward_like_the_workers(rendered_example):
    objects = rendered_example("monitoring")
    forwarder = named(objects, "Deployment", "streamproc-forwarder")
    window = named(objects, "Deployment", "streamproc-window")
    pod, worker_pod = forwarder["spec"]["template"]["spec"], window["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (worker,) = worker_pod["containers"]
    assert forwarder["spec"]["replicas"] == 1
    assert container["args"] == ["alerts", "forward"]
    assert container["image"] == worker["image"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 6067, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["securityContext"] == worker["securityContext"]
    assert pod["securityContext"] == worker_pod["securityContext"]
    assert pod["volumes"] == worker_pod["volumes"]
    for name in ("KAFKA_BOOTSTRAP", "STREAMPROC_CONFIG"):
        assert env_of(container)[name] == env_of(worker)[name]
    assert config_toml(objects)["forward"] == {
        "metrics_port": 6067,
        "labels": {"site": "plant-7", "team": "reliability"},
        "link_template": "https://grafana.example.com/d/streamproc/streamproc?var-channel={channel}",
        "resend_interval_s": 60,
        "retries": 5,
    }


def test_forwarder_sink_urls_and_key_come_only_from_secret_key_refs(rendered_example):
    objects = rendered_example("monitoring")
    (container,) = named(objects, "Deployment", "streamproc-forwarder")["spec"]["template"]["spec"]["containers"]
    forward_env = {n: v for n, v in env_of(container).items() if n.startswith("STREAMPROC_FORWARD__")}
    assert {n: v["valueFrom"]["secretKeyRef"] for n, v in forward_env.items()} == {
        "STREAMPROC_FORWARD__ALERTMANAGER_URL": {"name": "alert-sinks", "key": "alertmanager-url"},
        "STREAMPROC_FORWARD__WEBHOOK_URL": {"name": "alert-sinks", "key": "webhook-url"},
        "STREAMPROC_FORWARD__WEBHOOK_SECRET": {"name": "alert-sinks", "key": "webhook-key"},
    }
    assert all(set(var) == {"name", "valueFrom"} for var in forward_env.values())
    assert not {"alertmanager_url", "webhook_url", "webhook_secret"} & set(config_toml(objects)["forward"])
    # Workers never see the sinks.
    for deployment in workers(objects):
        assert not any(
            n.startswith("STREAMPROC_FORWARD__")
            for n in env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        )


def test_forward_table_only_with_the_forwarder(render, minimal_values):
    assert "forward" not in config_toml(render(minimal_values))
    values = _with(
        minimal_values,
        {
            "forwarder": {
                "enabled": True,
                "webhook": {"urlSecret": {"secretName": "hooks"}},
                "metricsPort": 7071,
                "timeoutSeconds": 2.5,
            }
        },
    )
    objects = render(values)
    assert config_toml(objects)["forward"] == {"metrics_port": 7071, "timeout_s": 2.5}
    (container,) = named(objects, "Deployment", "streamproc-forwarder")["spec"]["template"]["spec"]["containers"]
    assert container["ports"][0]["containerPort"] == 7071
    assert set(n for n in env_of(container) if n.startswith("STREAMPROC_FORWARD__")) == {
        "STREAMPROC_FORWARD__WEBHOOK_URL"
    }
    service = named(objects, "Service", "streamproc-forwarder-metrics")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 7071, "targetPort": "metrics", "protocol": "TCP"}]
    assert selects(
        service["spec"]["selector"],
        named(objects, "Deployment", "streamproc-forwarder")["spec"]["template"]["metadata"]["labels"],
    )


# --- broken values ---------------------------------------------------------------------------


def _set(values: dict, dotted: str, value) -> dict:
    values = copy.deepcopy(values)
    *parents, leaf = dotted.split(".")
    node = values
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return values


# case -> (dotted key, bad value, what Helm's message must name)
SCHEMA_VIOLATIONS = {
    "unknown top-level key": ("replicaCount", 3, "'replicaCount' not allowed"),
    "unknown nested key": ("kafka.bootstrapServers", "kafka:9092", "'bootstrapServers' not allowed"),
    "mode typo": ("mode", "allinone", "/mode"),
    "security protocol": ("kafka.securityProtocol", "SASL", "/kafka/securityProtocol"),
    "SASL without credentials": ("kafka.securityProtocol", "SASL_SSL", "/kafka/sasl/secretName"),
    "zero partitions": ("topics.partitions", 0, "/topics/partitions"),
    "partitions as text": ("topics.partitions", "twelve", "/topics/partitions"),
    "detector name": ("detectors", [{"name": "Structure Aware"}], "/detectors/0/name"),
    "no detector": ("detectors", [], "/detectors"),
    "root user": ("podSecurityContext.runAsUser", 0, "/podSecurityContext/runAsUser"),
    "resources shape": ("window.resources", {"cpu": "1"}, "/window/resources"),
    "memory quantity": ("window.resources", {"limits": {"memory": "lots"}}, "/window/resources/limits/memory"),
    "web port": ("config.worker.webPort", 80, "/config/worker/webPort"),
    "image models without reference": ("models.source", "image", "/models/image/reference"),
    "strimzi without cluster": ("strimzi.enabled", True, "/strimzi/clusterName"),
    "strimzi api version": ("strimzi.apiVersion", "kafka.strimzi.io/v1alpha1", "/strimzi/apiVersion"),
    "training without data": ("training.enabled", True, "/training/data/existingClaim"),
    "run id with a slash": ("training.runId", "../x", "/training/runId"),
    "scrape interval": ("metrics.serviceMonitor.interval", "30 seconds", "/metrics/serviceMonitor/interval"),
    "negative threshold": (
        "metrics.prometheusRule.deadLetterRateThreshold",
        -1,
        "/metrics/prometheusRule/deadLetterRateThreshold",
    ),
    "dashboard label value": ("grafana.dashboards.labelValue", 1, "/grafana/dashboards/labelValue"),
    "inline sink URL": ("forwarder.alertmanager.url", "http://alertmanager:9093", "'url' not allowed"),
    "sink secret name": ("forwarder.webhook.urlSecret.secretName", "Hooks!", "/forwarder/webhook/urlSecret/secretName"),
    "forwarded label name": ("forwarder.labels", {"plant-site": "7"}, "/forwarder/labels"),
    "forwarder port": ("forwarder.metricsPort", 80, "/forwarder/metricsPort"),
}


@pytest.mark.parametrize("case", SCHEMA_VIOLATIONS)
def test_values_breaking_the_schema_are_refused(case, render, minimal_values):
    key, value, named_in_message = SCHEMA_VIOLATIONS[case]
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(named_in_message)):
        render(_set(minimal_values, key, value))


TEMPLATE_FAILURES = {
    "no bootstrap secret": ({"kafka.bootstrap.secretName": ""}, "kafka.bootstrap.secretName"),
    "KEDA in all-in-one mode": ({"mode": "all-in-one", "keda.enabled": True}, "mode=split"),
    "KEDA minimum above the partition cap": (
        {"keda.enabled": True, "keda.minReplicas": 5, "topics.partitions": 4},
        "keda.minReplicas",
    ),
    "training from an image": (
        {
            "training.enabled": True,
            "training.data.existingClaim": "history",
            "models.source": "image",
            "models.image.reference": "models:1",
        },
        "models.source=pvc",
    ),
    "service and pod monitor at once": (
        {"metrics.serviceMonitor.enabled": True, "metrics.podMonitor.enabled": True},
        "are exclusive",
    ),
    "service monitor without the services": (
        {"metrics.serviceMonitor.enabled": True, "metrics.service.enabled": False},
        "metrics.serviceMonitor.enabled needs metrics.service.enabled",
    ),
    "rules without a monitor": (
        {"metrics.prometheusRule.enabled": True},
        "metrics.prometheusRule.enabled needs metrics.serviceMonitor.enabled or metrics.podMonitor.enabled",
    ),
    "forwarder without a sink": ({"forwarder.enabled": True}, "forwarder.enabled needs a sink"),
    "signing key without a webhook": (
        {
            "forwarder.enabled": True,
            "forwarder.alertmanager.urlSecret.secretName": "am",
            "forwarder.webhook.signingKeySecret.secretName": "key",
        },
        "needs forwarder.webhook.urlSecret.secretName",
    ),
}


@pytest.mark.parametrize("case", TEMPLATE_FAILURES)
def test_values_the_templates_cannot_honour_are_refused(case, render, minimal_values):
    changes, message = TEMPLATE_FAILURES[case]
    values = minimal_values
    for key, value in changes.items():
        values = _set(values, key, value)
    with pytest.raises(helm_python.HelmRenderError, match=re.escape(message)):
        render(values)


def test_a_broken_values_file_fails_like_helm_install_f(renderer, tmp_path):
    broken = tmp_path / "values.yaml"
    broken.write_text("kafka:\n  bootstrap:\n    secretName: kafka\ntopics:\n  partitions: twelve\n")
    with pytest.raises(helm_python.HelmValuesError, match="partitions"):
        renderer.render_manifest(renderer.load_values(broken))


# --- the validators themselves ------------------------------------------------------------------


def test_strict_validation_catches_unknown_and_mistyped_fields(rendered_example, validation_errors):
    objects = rendered_example("keda")
    deployment = copy.deepcopy(of_kind(objects, "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFS"] = True
    scaled_object = copy.deepcopy(of_kind(objects, "ScaledObject")[0])
    scaled_object["spec"]["maxReplicas"] = 8
    trigger_auth = copy.deepcopy(of_kind(objects, "TriggerAuthentication")[0])
    del trigger_auth["spec"]["secretTargetRef"][0]["key"]
    topic = copy.deepcopy(of_kind(rendered_example("strimzi"), "KafkaTopic")[0])
    topic["spec"]["partitions"] = 0
    bad_name = copy.deepcopy(topic)
    bad_name["metadata"]["labels"]["strimzi.io/cluster"] = 7
    monitoring = rendered_example("monitoring")
    service_monitor = copy.deepcopy(of_kind(monitoring, "ServiceMonitor")[0])
    service_monitor["spec"]["endpoints"][0]["portName"] = "metrics"
    no_selector = copy.deepcopy(of_kind(monitoring, "ServiceMonitor")[0])
    del no_selector["spec"]["selector"]
    pod_monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "streamproc"},
        "spec": {"selector": {}, "podMetricsEndpoints": [{"port": "metrics", "interval": "30 seconds"}]},
    }
    rule = copy.deepcopy(of_kind(monitoring, "PrometheusRule")[0])
    del rule["spec"]["groups"][0]["rules"][0]["expr"]
    rule_for = copy.deepcopy(of_kind(monitoring, "PrometheusRule")[0])
    rule_for["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    for obj in (
        deployment,
        scaled_object,
        trigger_auth,
        topic,
        bad_name,
        service_monitor,
        no_selector,
        pod_monitor,
        rule,
        rule_for,
    ):
        assert validation_errors(obj), obj["kind"]
    pod_monitor["spec"]["podMetricsEndpoints"][0]["interval"] = "30s"
    assert validation_errors(pod_monitor) == []


def test_transcribed_crds_are_valid_custom_resource_definitions(validation_errors):
    crd_dir = Path(__file__).resolve().parent / "crds"
    crds = [yaml.safe_load(path.read_text()) for path in sorted(crd_dir.glob("*.yaml"))]
    assert {crd["spec"]["names"]["kind"] for crd in crds} == {
        "ScaledObject",
        "TriggerAuthentication",
        "KafkaTopic",
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
    }
    for crd in crds:
        assert validation_errors(crd) == []


def test_the_metrics_the_chart_queries_are_the_ones_the_code_exports():
    """CHART_METRICS, checked against the workers' and the forwarder's own registries."""
    from prometheus_client.parser import text_string_to_metric_families

    from streamproc.forward import ForwardMetrics
    from streamproc.observability import WorkerMetrics

    worker = WorkerMetrics()
    worker.track_open_alerts(lambda: {"HIGH": 1})
    worker.track_consumer_lag(lambda: {("readings", 0): 3})
    worker.channels.score("c", "pca", 1.0, 2.0)
    worker.channels.reading("c", 1.0)
    worker.channels.models("c", {"pca": "v1"})
    for counter, label in (
        (worker.readings, "accepted"),
        (worker.windows_scored, "pca"),
        (worker.alerts, "OPEN"),
        (worker.dead_letters, "malformed"),
        (worker.feedback, "applied"),
    ):
        counter.labels(label).inc()
    worker.dead_letters_repeated.inc()
    worker.scoring_seconds.labels("pca").observe(0.1)
    worker.reading_to_score_seconds.observe(0.1)
    worker.reading_to_alert_seconds.observe(0.1)
    worker.batch_messages.labels("readings").observe(1)
    forward = ForwardMetrics()
    forward.deliveries.labels("webhook", "delivered").inc()
    exported = {}
    for registry in (worker.registry, forward.registry):
        for family in text_string_to_metric_families(generate_latest(registry).decode()):
            for sample in family.samples:
                name = sample.name if family.type != "histogram" else family.name
                exported.setdefault(name, (family.type, set()))[1].update(set(sample.labels) - {"le"})
    for name, (kind, labels) in CHART_METRICS.items():
        if name == "up":
            continue  # Prometheus' own
        assert name in exported, f"{name} is not exported"
        assert exported[name][0] == kind and exported[name][1] == set(labels), (name, exported[name])
