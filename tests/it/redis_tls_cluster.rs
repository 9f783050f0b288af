//! Two demo instances sharing Redis over TLS (a `redis-server` with a certificate of a CA the
//! test makes with the `openssl` CLI) and on a three-node Redis Cluster (made with
//! `redis-cli --cluster create`): replays refused across instances and the shared throttle,
//! as over plain Redis.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::redis_two_instances::{
    a_flood_trips_the_shared_throttle, demo_args, free_port, replays_are_refused_across, send,
    two_demos, Redis, Scratch, THROTTLE_ARGS,
};

/// Runs a command, panicking with its stderr when it fails.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("{program}: {err} (scripts/test.sh installs it)"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A CA (`ca.pem`) and a server certificate it signed for 127.0.0.1 (`server.pem`,
/// `server.key`), in `scratch`.
fn make_certificates(scratch: &Scratch) {
    let p = |name| scratch.path(name);
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=httpauth test CA",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
        ],
    );
    run(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
        ],
    );
    std::fs::write(p("ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-days",
            "1",
            "-in",
            &p("server.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-extfile",
            &p("ext"),
            "-out",
            &p("server.pem"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn over_tls_with_a_ca_of_its_own() {
    let scratch = Scratch::new("redis-tls");
    make_certificates(&scratch);
    let port = free_port();
    let (cert, key, ca) = (
        scratch.path("server.pem"),
        scratch.path("server.key"),
        scratch.path("ca.pem"),
    );
    // TLS only: the plain port is off.
    let _redis = Redis::with_args(
        port,
        &[
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ],
    );
    let url = format!("rediss://127.0.0.1:{port}/");
    let redis = ["--redis", url.as_str(), "--redis-ca-file", ca.as_str()];
    let (_demos, [a, b]) = two_demos(&demo_args(&scratch, &redis, &THROTTLE_ARGS));
    replays_are_refused_across(&a, &b).await;
    a_flood_trips_the_shared_throttle(&a, &b).await;

    // Without the CA the server's certificate is not trusted (the system's roots do not
    // hold it): nothing is accepted unchecked, the Digest route fails closed.
    let (_c, c) = crate::common::start_demo(
        &demo_args(&scratch, &["--redis", &url], &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        None,
    );
    let john = crate::digest_client::Client::new("john", "hello", "/digest");
    let (_, ch) = crate::digest_client::challenge(&format!("{c}/digest")).await;
    let (status, _, retry) = send(&format!("{c}/digest"), &john.answer(&ch, "00000001")).await;
    assert_eq!((status, retry.as_deref()), (503, Some("1")));
}

/// Three cluster nodes on loopback ports, their slots assigned by `redis-cli --cluster
/// create`; returns the nodes (killed when dropped) and their URLs.
fn start_cluster(scratch: &Scratch) -> (Vec<Redis>, Vec<String>) {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let nodes = ports
        .iter()
        .map(|port| {
            let (port, bus) = (port.to_string(), free_port().to_string());
            Redis::with_args(
                port.parse().unwrap(),
                &[
                    "--port",
                    &port,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    &bus,
                    "--cluster-config-file",
                    &scratch.path(&format!("nodes-{port}.conf")),
                    "--cluster-node-timeout",
                    "5000",
                ],
            )
        })
        .collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
    run("redis-cli", &args);
    // Every node agrees that all slots are served, within a bound.
    let started = Instant::now();
    for port in &ports {
        loop {
            let info = run("redis-cli", &["-p", &port.to_string(), "cluster", "info"]);
            if info.contains("cluster_state:ok") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "cluster not ready: {info}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    (
        nodes,
        ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_three_node_cluster() {
    let scratch = Scratch::new("redis-cluster");
    let (nodes, urls) = start_cluster(&scratch);
    let ports: Vec<String> = urls
        .iter()
        .map(|u| {
            u.trim_start_matches("redis://127.0.0.1:")
                .trim_end_matches('/')
                .to_owned()
        })
        .collect();
    let urls = urls.join(",");
    let (_demos, [a, b]) = two_demos(&demo_args(
        &scratch,
        &["--redis-cluster", &urls],
        &THROTTLE_ARGS,
    ));
    replays_are_refused_across(&a, &b).await;
    a_flood_trips_the_shared_throttle(&a, &b).await;
    // Every attempt was settled: the failures counted, the successes taken out of flight
    // (one pipelined call per success, in the background), on whichever node holds them.
    let started = Instant::now();
    loop {
        let left: usize = ports
            .iter()
            .map(|port| {
                run(
                    "redis-cli",
                    &["-p", port, "--scan", "--pattern", "*{throttle}:f:*"],
                )
                .lines()
                .count()
            })
            .sum();
        if left == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{left} attempts left in flight on the cluster"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(nodes);
}
