//! The example server against a real gRPC client (Python `grpcio`, `tests/client.py`), and
//! the layer on `Server::builder()` against tonic's own client.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use httpauth::TokenAuth;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// The example binary on a free port; killed when dropped.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example binary and reads the port from its first line.
fn start_example() -> (Example, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_example-grpc"))
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start example-grpc");
    let stdout = child.stdout.take().expect("stdout");
    let example = Example(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let port = line
        .trim()
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    (example, port)
}

#[test]
fn python_grpcio_client_sees_grpc_statuses() {
    let (_example, port) = start_example();
    let output = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/client.py"))
        .arg(port.to_string())
        .output()
        .expect("run python3 (grpcio and grpcio-health-checking installed by scripts/test.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("11th wrong token: RESOURCE_EXHAUSTED"),
        "{stdout}"
    );
}

/// The layer as `Server::builder().layer(..)` takes it, around every service of the server.
#[tokio::test]
async fn server_builder_layer_with_tonic_client() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let auth = TokenAuth::verify_token_sync(|token| (token == "secret-token-1").then_some(()));
    let server = Server::builder()
        .layer(auth.login_required().without_throttle().grpc())
        .add_service(health)
        .serve_with_incoming(TcpIncoming::from(listener));
    let server = tokio::spawn(server);

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("connect");
    let mut client = HealthClient::new(channel);
    let request = |token: Option<&str>| {
        let mut request = tonic::Request::new(HealthCheckRequest::default());
        if let Some(token) = token {
            let value = format!("Bearer {token}").parse().unwrap();
            request.metadata_mut().insert("authorization", value);
        }
        request.set_timeout(Duration::from_secs(10));
        request
    };

    let status = client.check(request(None)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "missing credentials");
    assert_eq!(
        status.metadata().get("www-authenticate").unwrap(),
        r#"Bearer realm="Authentication Required""#
    );

    let status = client.check(request(Some("nope"))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "invalid credentials");

    let reply = client.check(request(Some("secret-token-1"))).await.unwrap();
    assert_eq!(reply.into_inner().status(), ServingStatus::Serving);
    server.abort();
}
