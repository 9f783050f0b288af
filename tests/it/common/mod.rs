//! Shared test helpers: serve a router on loopback, build credentials, talk raw HTTP.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;

/// Serves `router` on an ephemeral loopback port; returns `http://127.0.0.1:PORT`.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

/// Serves `router` with the peer address recorded (`ConnectInfo<SocketAddr>`, which the
/// throttle reads); returns `http://127.0.0.1:PORT`.
pub async fn serve_with_peer(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

/// A client whose connections come from `source` (any 127.0.0.0/8 address: an attacker's or a
/// user's own address, on loopback).
pub fn client_from(source: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .local_address(source)
        .build()
        .unwrap()
}

/// The loopback address `127.a.b.c` for `n` (distinct for every `n` below 2^24 - 1, never
/// 127.0.0.1).
pub fn loopback(n: u32) -> std::net::IpAddr {
    let n = n + 2;
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(
        127,
        (n >> 16) as u8,
        (n >> 8) as u8,
        n as u8,
    ))
}

/// GET `url` from `source` with these headers; returns (status, WWW-Authenticate lines, body).
pub async fn get_from(
    source: std::net::IpAddr,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<String>, String) {
    let mut req = client_from(source).get(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let challenges = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (status, challenges, res.text().await.unwrap())
}

/// `Basic base64(user:password)` over the given bytes (so tests can send Latin-1).
pub fn basic_bytes(raw: &[u8]) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    basic_bytes(format!("{user}:{password}").as_bytes())
}

/// A reqwest client (no redirects, short timeout).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// GET `url` with an optional `Authorization` value; returns (status, WWW-Authenticate lines, body).
pub async fn get(url: &str, authorization: Option<&str>) -> (u16, Vec<String>, String) {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    let (status, challenges, body, _) = get_with(url, &headers).await;
    (status, challenges, body)
}

/// GET `url` with these headers; returns (status, WWW-Authenticate lines, body, Cache-Control).
pub async fn get_with(
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<String>, String, Option<String>) {
    let mut req = client().get(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let challenges = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let cache = res
        .headers()
        .get("cache-control")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    (status, challenges, res.text().await.unwrap(), cache)
}

/// Sends raw bytes as one HTTP/1.1 request head to `base` (`http://host:port`) and returns the
/// whole response text (lossy). Used for bytes no client library will send.
pub fn raw_request(base: &str, head: &[u8]) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A GET request head to `path` with extra header lines (each without CRLF), `Connection: close`.
pub fn raw_get(path: &str, headers: &[&[u8]]) -> Vec<u8> {
    let mut head =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n").into_bytes();
    for h in headers {
        head.extend_from_slice(h);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// The status code of a raw response.
pub fn raw_status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The demo binary built next to the running test (`target/<profile>/examples/demo`).
pub fn demo_binary() -> std::path::PathBuf {
    example_binary("demo")
}

/// An example binary built next to the running test (`target/<profile>/examples/<name>`).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "build the examples first: cargo build --examples --all-features ({})",
        bin.display()
    );
    bin
}

/// A child process killed when dropped.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the demo binary with `args` (and `PORT` from `env_port`, when given) and returns it
/// with the address from its first stdout line.
pub fn start_demo(args: &[&str], env_port: Option<&str>) -> (Running, String) {
    start_example("demo", args, env_port)
}

/// Starts the example binary `name` as [`start_demo`] starts the demo.
pub fn start_example(name: &str, args: &[&str], env_port: Option<&str>) -> (Running, String) {
    use std::io::BufRead as _;
    let mut cmd = std::process::Command::new(example_binary(name));
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(port) = env_port {
        cmd.env("PORT", port);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(addr.starts_with("http://127.0.0.1:"), "{addr}");
    (Running(child), addr)
}

/// werkzeug's `generate_password_hash(password, method)` (Python's werkzeug, installed by
/// `scripts/test.sh`).
pub fn werkzeug(method: &str, password: &str) -> String {
    let script = "import sys; from werkzeug.security import generate_password_hash as g; \
                  print(g(sys.argv[1], method=sys.argv[2]))";
    let out = std::process::Command::new("python3")
        .args(["-c", script, password, method])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "werkzeug missing? pip install werkzeug: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Apache's own `htpasswd -b` (`-cb` to create the file) with `flags`, adding `user`.
pub fn htpasswd(file: &std::path::Path, create: bool, flags: &[&str], user: &str, password: &str) {
    let out = std::process::Command::new("htpasswd")
        .arg(if create { "-cb" } else { "-b" })
        .args(flags)
        .arg(file)
        .args([user, password])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("htpasswd not found ({e}): apt-get install apache2-utils"));
    assert!(
        out.status.success(),
        "htpasswd {flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A demo binary whose stdout and stderr lines are kept (the events: JSON lines on stdout
/// with `--log-format json`, text on stderr with `DEMO_LOG=info`).
pub struct LoggedDemo {
    pub running: Running,
    pub base: String,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl LoggedDemo {
    /// Starts the demo with `args` and `env`; returns once it listens.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::BufRead as _;
        use std::sync::{Arc, Mutex};
        let mut cmd = std::process::Command::new(demo_binary());
        cmd.args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let keep = |reader: Box<dyn std::io::BufRead + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            std::thread::spawn(move || {
                for line in reader.lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
            lines
        };
        let stdout = keep(Box::new(out));
        let stderr = keep(Box::new(err));
        Self {
            running: Running(child),
            base,
            stdout,
            stderr,
        }
    }

    /// The stdout lines so far, once at least `n` matching `keep` arrived (at most 10 s).
    pub fn stdout_lines(&self, n: usize, keep: impl Fn(&str) -> bool) -> Vec<String> {
        Self::wait(&self.stdout, n, keep)
    }

    /// The stderr lines so far, once at least `n` matching `keep` arrived (at most 10 s).
    pub fn stderr_lines(&self, n: usize, keep: impl Fn(&str) -> bool) -> Vec<String> {
        Self::wait(&self.stderr, n, keep)
    }

    fn wait(
        lines: &std::sync::Mutex<Vec<String>>,
        n: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let kept: Vec<String> = lines
                .lock()
                .unwrap()
                .iter()
                .filter(|l| keep(l))
                .cloned()
                .collect();
            if kept.len() >= n || std::time::Instant::now() > deadline {
                return kept;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
