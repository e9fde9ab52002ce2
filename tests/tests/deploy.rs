//! Checks the deployment files: the Kubernetes manifests parse, name the kinds and fields a
//! cluster needs, use only flags `sluice` accepts, probe ports that exist, and give workers a
//! termination grace period longer than their drain timeout.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use serde::Deserialize;
use serde_json::Value;
use sluice_e2e::sluice_binary;
use std::path::PathBuf;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn documents(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(deploy_dir().join(file)).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| {
            Value::deserialize(document).unwrap_or_else(|error| panic!("{file}: {error}"))
        })
        .collect()
}

fn find<'a>(all: &'a [Value], kind: &str, name: &str) -> &'a Value {
    all.iter()
        .find(|doc| doc["kind"] == kind && doc["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn seconds(text: &str) -> u64 {
    text.trim_end_matches('s').parse().unwrap()
}

/// Every `--flag` of a container's args is one `sluice <command> --help` documents.
fn assert_flags_exist(container: &Value) {
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let help = std::process::Command::new(sluice_binary())
        .arg(args[0])
        .arg("--help")
        .output()
        .unwrap();
    let help_text = String::from_utf8_lossy(&help.stdout);
    for flag in args.iter().skip(1) {
        let name = flag.split('=').next().unwrap();
        assert!(
            help_text.contains(name),
            "`sluice {}` has no flag {name}:\n{help_text}",
            args[0]
        );
    }
}

fn port_names(container: &Value) -> Vec<String> {
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn kubernetes_manifests_are_complete_and_consistent() {
    let all: Vec<Value> = ["k8s/sluice.yaml", "k8s/etcd.yaml"]
        .iter()
        .flat_map(|file| documents(file))
        .collect();
    for document in &all {
        assert!(
            document["apiVersion"].is_string() && document["kind"].is_string(),
            "{document}"
        );
        assert!(document["metadata"]["name"].is_string(), "{document}");
    }
    let coordinator = find(&all, "Deployment", "sluice-coordinator");
    assert_eq!(
        coordinator["spec"]["replicas"], 2,
        "one leader and one standby"
    );
    let coordinator_container = &coordinator["spec"]["template"]["spec"]["containers"][0];
    assert_flags_exist(coordinator_container);
    assert_eq!(
        coordinator_container["readinessProbe"]["grpc"]["port"],
        7070
    );
    assert_eq!(
        coordinator_container["readinessProbe"]["grpc"]["service"],
        "sluice.v1.WorkerService"
    );
    assert!(port_names(coordinator_container).contains(&"grpc".to_string()));

    let worker = find(&all, "Deployment", "sluice-worker");
    let worker_spec = &worker["spec"]["template"]["spec"];
    let worker_container = &worker_spec["containers"][0];
    assert_flags_exist(worker_container);
    let drain = worker_container["args"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a.as_str().unwrap().strip_prefix("--drain-timeout="))
        .expect("workers set --drain-timeout");
    let grace = worker_spec["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(
        grace > seconds(drain),
        "grace {grace}s must exceed the drain timeout {drain}"
    );
    assert_eq!(
        worker_container["livenessProbe"]["httpGet"]["port"],
        "metrics"
    );
    assert!(port_names(worker_container).contains(&"metrics".to_string()));

    let service = find(&all, "Service", "sluice-coordinator");
    assert_eq!(
        service["spec"]["selector"],
        coordinator["spec"]["selector"]["matchLabels"]
    );
    let etcd_service = find(&all, "Service", "sluice-etcd");
    assert_eq!(etcd_service["spec"]["ports"][0]["port"], 2379);
    let etcd_flag = coordinator_container["args"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "--etcd=http://sluice-etcd:2379");
    assert!(etcd_flag, "the coordinator points at the etcd Service");
}

#[test]
fn prometheus_config_scrapes_coordinator_and_workers() {
    let config = documents("prometheus.yml");
    let jobs: Vec<&str> = config[0]["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_name"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, vec!["sluice-coordinator", "sluice-worker"]);
}
