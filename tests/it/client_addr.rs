//! The client address from any stack, over real HTTP: a `SocketAddr` in the extensions (what
//! a hyper server inserts), an application's function over the extensions (tonic's
//! `TcpConnectInfo`, or any type), and one warning when per-address limits are on and no
//! address is found.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use httpauth::{BasicAuth, Throttle};

use crate::common::{basic, client};

/// A type of the application's own that holds the peer (as tonic's `TcpConnectInfo` does).
#[derive(Clone)]
struct Peer(IpAddr);

/// Serves `router`, its requests carrying the peer as `put` puts it (axum's `ConnectInfo` is
/// removed first); `put: None` serves without any address.
async fn serve(router: Router, put: Option<fn(&mut http::Extensions, SocketAddr)>) -> String {
    let router = router.layer(axum::middleware::map_request(
        move |mut req: axum::extract::Request| async move {
            let info = req.extensions_mut().remove::<ConnectInfo<SocketAddr>>();
            if let (Some(put), Some(ConnectInfo(addr))) = (put, info) {
                put(req.extensions_mut(), addr);
            }
            req
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

fn app(throttle: Throttle) -> Router {
    let auth =
        BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()));
    Router::new()
        .route("/", get(|| async { "hi" }))
        .route_layer(auth.login_required().throttle(throttle))
}

async fn status(url: &str, user: &str, password: &str) -> u16 {
    client()
        .get(url)
        .header("authorization", basic(user, password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Two wrong passwords under rotating usernames trip the address limit of 2.
async fn the_address_is_limited(url: &str) {
    assert_eq!(status(url, "ana", "x").await, 401);
    assert_eq!(status(url, "bob", "x").await, 401);
    assert_eq!(status(url, "john", "hello").await, 429);
}

fn per_addr(n: u32) -> Throttle {
    Throttle::new()
        .max_failures_per_user(0)
        .max_failures_per_addr(n)
}

#[tokio::test]
async fn a_socket_addr_or_ip_addr_in_the_extensions_is_the_peer() {
    let url = serve(
        app(per_addr(2)),
        Some(|ext, addr| {
            ext.insert(addr);
        }),
    )
    .await;
    the_address_is_limited(&url).await;
    let url = serve(
        app(per_addr(2)),
        Some(|ext, addr| {
            ext.insert(addr.ip());
        }),
    )
    .await;
    the_address_is_limited(&url).await;
}

#[tokio::test]
async fn an_applications_function_finds_the_peer() {
    let throttle = per_addr(2).client_addr_fn(|ext| ext.get::<Peer>().map(|p| p.0));
    let url = serve(
        app(throttle),
        Some(|ext, addr| {
            ext.insert(Peer(addr.ip()));
        }),
    )
    .await;
    the_address_is_limited(&url).await;
}

/// Captured log output.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn without_an_address_one_warning_says_so() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // This runtime has one thread: the server's tasks log through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let url = serve(app(per_addr(2)), None).await;
    // No address: nothing is limited per address, and it is said once.
    for user in ["ana", "bob", "carl", "dave"] {
        assert_eq!(status(&url, user, "x").await, 401);
    }
    assert_eq!(status(&url, "john", "hello").await, 200);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.matches("no client address").count(), 1, "{text}");
    // With the per-address limit off, no warning at all.
    let before = text.len();
    let url = serve(app(per_addr(0)), None).await;
    assert_eq!(status(&url, "ana", "x").await, 401);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!text[before..].contains("no client address"), "{text}");
}
