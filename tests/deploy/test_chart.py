"""The Helm chart, rendered offline: valid objects, locked-down pods, and the deployment it
promises (roles, GPUs, secrets, probes, KEDA, Strimzi, training)."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import helm_python
import pytest
import yaml

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
EXPECTED_KINDS = {
    "minimal": {"ConfigMap", "Deployment", "PersistentVolumeClaim", "PodDisruptionBudget",
                "ServiceAccount"},
    "gpu": {"ConfigMap", "Deployment", "Job", "PersistentVolumeClaim", "PodDisruptionBudget",
            "ServiceAccount"},
    "keda": {"ConfigMap", "Deployment", "PodDisruptionBudget", "ScaledObject", "ServiceAccount",
             "TriggerAuthentication"},
    "strimzi": {"ConfigMap", "Deployment", "KafkaTopic", "PersistentVolumeClaim",
                "PodDisruptionBudget", "ServiceAccount"},
}


def of_kind(objects, kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects, kind: str, name: str) -> dict:
    (obj,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return obj


def pod_specs(objects) -> list[tuple[str, dict]]:
    """(owner name, pod spec) of every Deployment and Job."""
    return [(obj["metadata"]["name"], obj["spec"]["template"]["spec"])
            for obj in objects if obj["kind"] in ("Deployment", "Job")]


def env_of(container: dict) -> dict[str, dict]:
    return {var["name"]: var for var in container.get("env", [])}


def config_toml(objects) -> dict:
    (config_map,) = of_kind(objects, "ConfigMap")
    return tomllib.loads(config_map["data"]["streamproc.toml"])


# --- every example: valid, in sync, locked down ---------------------------------------------

def test_example_objects_validate_strictly(example, rendered_example, validation_errors):
    objects = rendered_example(example)
    assert {obj["kind"] for obj in objects} == EXPECTED_KINDS[example]
    errors = [f"{obj['kind']}/{obj['metadata']['name']}: {error}"
              for obj in objects for error in validation_errors(obj)]
    assert errors == []


def test_example_manifest_is_the_chart_output(example, renderer):
    committed = (renderer.EXAMPLES_DIR / example / "manifest.yaml").read_text()
    assert committed == renderer.render_example(example), (
        "stale example: run python deploy/k8s/render_examples.py")


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


def test_workers_probe_the_worker_endpoints_and_set_resources(example, rendered_example):
    objects = rendered_example(example)
    port = config_toml(objects)["worker"]["web_port"]
    for deployment in of_kind(objects, "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["resources"]["requests"] and container["resources"]["limits"]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"


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
            if name == "KAFKA_BOOTSTRAP" or name.startswith("STREAMPROC_KAFKA__"):
                assert set(var) == {"name", "valueFrom"}, f"{owner}: {name} is inline"
                assert "secretKeyRef" in var["valueFrom"]
    kafka = config_toml(objects)["kafka"]
    assert not {"bootstrap", "sasl_username", "sasl_password"} & set(kafka)


def test_configuration_is_toml_the_worker_reads(example, rendered_example, renderer):
    objects = rendered_example(example)
    values = renderer.effective_values(
        renderer.load_values(renderer.EXAMPLES_DIR / example / "values.yaml"))
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
    values.update({
        "fullnameOverride": "anomalies",
        "image": {"repository": "registry.example.com/streamproc", "tag": "1.2.3",
                  "pullSecrets": ["registry-credentials"]},
        "kafka": {"bootstrap": {"secretName": "kafka", "key": "servers"},
                  "securityProtocol": "SASL_SSL",
                  "sasl": {"mechanism": "PLAIN", "secretName": "sasl", "usernameKey": "user",
                           "passwordKey": "pass"},
                  "tls": {"caSecretName": "ca", "clientSecretName": "client"},
                  "schemaRegistryUrl": "https://registry.example.com"},
        "config": {"window": {"size": 128, "stride": 16},
                   "fusion": {"policy": "k_of_n", "openAfter": 2, "resolveAfter": 4, "feedbackStep": 0,
                              "feedbackMaxScale": 2.5},
                   "worker": {"webPort": 7070, "batchSize": 512},
                   "extraToml": "[detectors.config.pca]\ncomponents = 0.9\n"},
        "detectors": [{"name": "pca", "replicas": 3, "nodeSelector": {"pool": "cpu"},
                       "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml",
                                        "effect": "NoSchedule"}],
                       "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                           {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                               "labelSelector": {"matchLabels": {"streamproc/detector": "pca"}}}}]}}},
                      {"name": "usad", "gpu": True}],
        "models": {"pvc": {"existingClaim": "models"}, "version": "7"},
        "training": {"enabled": True, "runId": 8, "data": {"existingClaim": "history"},
                     "args": ["--force"], "activeDeadlineSeconds": 3600},
        "keda": {"enabled": True, "minReplicas": 0, "topic": "streamproc-windows"},
        "strimzi": {"enabled": True, "clusterName": "events", "apiVersion": "kafka.strimzi.io/v1beta2",
                    "keepOnUninstall": False},
        "metrics": {"podAnnotations": False},
        "podDisruptionBudget": {"enabled": False},
        "podSecurityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None},
        "serviceAccount": {"create": False, "name": "workers"},
        "extraEnv": [{"name": "STREAMPROC_WORKER__TIMESTAMP_GRACE_MS", "value": "5000"}],
        "podAnnotations": {"team": "reliability"},
        "podLabels": {"cost-center": "plant-7"},
        "priorityClassName": "streaming",
    })
    objects = render(values)
    assert [f"{o['kind']}/{o['metadata']['name']}: {e}" for o in objects for e in validation_errors(o)] == []
    assert {o["kind"] for o in objects} == {"ConfigMap", "Deployment", "Job", "KafkaTopic", "ScaledObject",
                                            "TriggerAuthentication"}
    config = config_toml(objects)
    assert config["detectors"]["config"] == {"pca": {"components": 0.9}}
    assert config["worker"] == {"web_port": 7070, "batch_size": 512}
    # A step of 0 (feedback counted, nothing tuned) is a value, not an absent one.
    assert config["fusion"] == {"policy": "k_of_n", "open_after": 2, "resolve_after": 4, "feedback_step": 0.0,
                                "feedback_max_scale": 2.5}
    pod = named(objects, "Deployment", "anomalies-detect-pca")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["serviceAccountName"] == "workers" and pod["priorityClassName"] == "streaming"
    assert pod["containers"][0]["ports"][0]["containerPort"] == 7070
    assert {job["metadata"]["name"] for job in of_kind(objects, "Job")} == {
        "anomalies-train-pca-8", "anomalies-train-usad-8"}


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
    commands = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["args"]
                for d in of_kind(objects, "Deployment")}
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
    assert config_toml(objects)["kafka"] == {"security_protocol": "SASL_SSL",
                                             "sasl_mechanism": "SCRAM-SHA-512"}
    for deployment in of_kind(objects, "Deployment"):
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        assert env["STREAMPROC_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "kafka-credentials", "key": "password"}


def test_mutual_tls_files_are_mounted_where_the_configuration_points(rendered_example):
    objects = rendered_example("strimzi")
    kafka = config_toml(objects)["kafka"]
    assert kafka["ssl_cafile"] == "/etc/streamproc/tls/ca.crt"
    assert kafka["ssl_certfile"] == "/etc/streamproc/tls/client.crt"
    assert kafka["ssl_keyfile"] == "/etc/streamproc/tls/client.key"
    pod = of_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]
    (tls,) = [v for v in pod["volumes"] if v["name"] == "kafka-tls"]
    files = {item["path"]: (source["secret"]["name"], item["key"])
             for source in tls["projected"]["sources"] for item in source["secret"]["items"]}
    assert files == {"ca.crt": ("events-cluster-ca-cert", "ca.crt"),
                     "client.crt": ("streamproc", "user.crt"),
                     "client.key": ("streamproc", "user.key")}


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
    assert refs == {"username": ("kafka-credentials", "username"),
                    "password": ("kafka-credentials", "password"),
                    "ca": ("kafka-ca", "ca.crt")}


def test_keda_consumer_groups_follow_the_app_id(render, minimal_values):
    values = {**minimal_values, "appId": "plant-7", "keda": {"enabled": True}}
    (scaled_object,) = of_kind(render(values), "ScaledObject")
    assert scaled_object["spec"]["triggers"][0]["metadata"]["consumerGroup"] == "plant-7-detect-pca"


def test_strimzi_declares_every_topic(rendered_example):
    topics = of_kind(rendered_example("strimzi"), "KafkaTopic")
    assert sorted(t["spec"]["topicName"] for t in topics) == sorted(
        ["sensors.readings", "scores", "alerts", "readings.dlq", "alerts.feedback"])
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
    assert topics == {"sensors.readings", "scores", "alerts", "readings.dlq", "alerts.feedback",
                      "streamproc-windows"}


def test_training_job_runs_streamproc_train_into_the_models_volume(rendered_example):
    objects = rendered_example("gpu")
    (job,) = of_kind(objects, "Job")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["train", "--detector", "structure_aware", "--data", "/data/smap",
                                 "--out", "/models/2025-06-01"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert not mounts["/models"].get("readOnly") and mounts["/data"]["readOnly"] is True
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
              for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"models": "streamproc-models", "training-data": "sensor-history"}
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["restartPolicy"] == "Never"
    assert "KAFKA_BOOTSTRAP" not in env_of(container)


def test_training_passes_further_arguments_through(render, renderer):
    values = renderer.load_values(renderer.EXAMPLES_DIR / "gpu" / "values.yaml")
    values["training"]["args"] = ["--channels", "P-1,P-2"]
    (job,) = of_kind(render(values), "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["--channels", "P-1,P-2"]


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
    assert (before["spec"]["template"]["metadata"]["annotations"][annotation]
            != after["spec"]["template"]["metadata"]["annotations"][annotation])


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
    "memory quantity": ("window.resources", {"limits": {"memory": "lots"}},
                        "/window/resources/limits/memory"),
    "web port": ("config.worker.webPort", 80, "/config/worker/webPort"),
    "image models without reference": ("models.source", "image", "/models/image/reference"),
    "strimzi without cluster": ("strimzi.enabled", True, "/strimzi/clusterName"),
    "strimzi api version": ("strimzi.apiVersion", "kafka.strimzi.io/v1alpha1", "/strimzi/apiVersion"),
    "training without data": ("training.enabled", True, "/training/data/existingClaim"),
    "run id with a slash": ("training.runId", "../x", "/training/runId"),
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
        {"keda.enabled": True, "keda.minReplicas": 5, "topics.partitions": 4}, "keda.minReplicas"),
    "training from an image": (
        {"training.enabled": True, "training.data.existingClaim": "history",
         "models.source": "image", "models.image.reference": "models:1"}, "models.source=pvc"),
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
    for obj in (deployment, scaled_object, trigger_auth, topic, bad_name):
        assert validation_errors(obj), obj["kind"]


def test_transcribed_crds_are_valid_custom_resource_definitions(validation_errors):
    crd_dir = Path(__file__).resolve().parent / "crds"
    crds = [yaml.safe_load(path.read_text()) for path in sorted(crd_dir.glob("*.yaml"))]
    assert {crd["spec"]["names"]["kind"] for crd in crds} == {
        "ScaledObject", "TriggerAuthentication", "KafkaTopic"}
    for crd in crds:
        assert validation_errors(crd) == []
