//! The hostile-input catalogue for Basic: every entry is sent as raw bytes over a real TCP
//! connection and must be answered 400 or 401 with a challenge; the server must stay up. Then a
//! property test throws arbitrary bytes at the layer.

use crate::common;

use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use common::{raw_get, raw_request, raw_status, serve};
use httpauth::{BasicAuth, CurrentUser};
use proptest::prelude::*;

fn router() -> Router {
    let auth =
        BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()));
    Router::new().route(
        "/",
        get(|CurrentUser(u): CurrentUser<String>| async move { format!("Hello, {u}!") })
            .route_layer(auth.login_required()),
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// (name, Authorization header lines) → every one must get 400/401 + challenge.
fn catalogue() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let auth = |v: &[u8]| {
        let mut line = b"Authorization: ".to_vec();
        line.extend_from_slice(v);
        line
    };
    let huge = "A".repeat(9000);
    let huge_valid_b64 = b64(&[b'a'; 7000]);
    vec![
        ("malformed base64", vec![auth(b"Basic !!!notb64")]),
        ("base64 with a hole", vec![auth(b"Basic am9o bjpoZWxsbw==")]),
        ("unpadded", vec![auth(b"Basic am9objpoZWxsbw")]),
        ("padding only", vec![auth(b"Basic ====")]),
        (
            "no colon",
            vec![auth(format!("Basic {}", b64(b"johnhello")).as_bytes())],
        ),
        (
            "CR in user",
            vec![auth(format!("Basic {}", b64(b"jo\rhn:hello")).as_bytes())],
        ),
        (
            "LF in password",
            vec![auth(format!("Basic {}", b64(b"john:hel\nlo")).as_bytes())],
        ),
        (
            "NUL in password",
            vec![auth(format!("Basic {}", b64(b"john:hello\0")).as_bytes())],
        ),
        (
            "DEL in user",
            vec![auth(format!("Basic {}", b64(b"john\x7f:hello")).as_bytes())],
        ),
        (
            "C1 control (Latin-1)",
            vec![auth(format!("Basic {}", b64(b"john:\x85hello")).as_bytes())],
        ),
        (
            "ESC",
            vec![auth(
                format!("Basic {}", b64(b"\x1b[31mjohn:hello")).as_bytes(),
            )],
        ),
        (
            "oversized 9000 bytes",
            vec![auth(format!("Basic {huge}").as_bytes())],
        ),
        (
            "oversized valid base64",
            vec![auth(format!("Basic {huge_valid_b64}").as_bytes())],
        ),
        ("non-UTF-8 header bytes", vec![auth(b"Basic \xff\xfe\xfd")]),
        (
            "obs-text in scheme",
            vec![auth(b"B\xe4sic am9objpoZWxsbw==")],
        ),
        ("tab separator", vec![auth(b"Basic\tam9objpoZWxsbw==")]),
        (
            "tab inside credentials",
            vec![auth(b"Basic am9objpo\tZWxsbw==")],
        ),
        ("empty value", vec![auth(b"")]),
        ("scheme only", vec![auth(b"Basic")]),
        ("scheme and spaces", vec![auth(b"Basic      ")]),
        (
            "empty user and password",
            vec![auth(format!("Basic {}", b64(b":")).as_bytes())],
        ),
        (
            "empty password",
            vec![auth(format!("Basic {}", b64(b"john:")).as_bytes())],
        ),
        (
            "params instead of token68",
            vec![auth(b"Basic user=john, password=hello")],
        ),
        (
            "comma list",
            vec![auth(b"Basic am9objpoZWxsbw==, Basic am9objpoZWxsbw==")],
        ),
        ("wrong scheme", vec![auth(b"Bearer am9objpoZWxsbw==")]),
        ("no scheme", vec![auth(b"am9objpoZWxsbw==")]),
        ("quote in scheme", vec![auth(b"\"Basic\" am9objpoZWxsbw==")]),
        (
            "duplicated Authorization headers",
            vec![
                auth(b"Basic am9objpoZWxsbw=="),
                auth(b"Basic am9objpoZWxsbw=="),
            ],
        ),
        (
            "duplicated, one bad",
            vec![auth(b"Basic !!!"), auth(b"Basic am9objpoZWxsbw==")],
        ),
        (
            "unicode bomb in password",
            vec![auth(
                format!("Basic {}", b64("john:\u{202e}olleh".as_bytes())).as_bytes(),
            )],
        ),
    ]
}

#[tokio::test]
async fn every_hostile_input_is_400_or_401_with_a_challenge() {
    let base = serve(router()).await;
    for (name, lines) in catalogue() {
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let head = raw_get("/", &lines);
        let base2 = base.clone();
        let response = tokio::task::spawn_blocking(move || raw_request(&base2, &head))
            .await
            .unwrap();
        let status = raw_status(&response);
        assert!(
            status == 400 || status == 401,
            "{name}: expected 400/401, got {status}: {response}"
        );
        assert!(
            response
                .to_ascii_lowercase()
                .contains("www-authenticate: basic realm="),
            "{name}: no challenge: {response}"
        );
        if name.starts_with("duplicated") {
            assert_eq!(status, 400, "{name}: an ambiguous request is a 400");
        }
    }
    // The server is still up and still admits the right user.
    let ok = tokio::task::spawn_blocking(move || {
        raw_request(
            &base,
            &raw_get("/", &[b"Authorization: Basic am9objpoZWxsbw=="]),
        )
    })
    .await
    .unwrap();
    assert_eq!(raw_status(&ok), 200, "{ok}");
    assert!(ok.ends_with("Hello, john!"));
}

#[tokio::test]
async fn huge_header_is_refused_by_the_server_or_by_us() {
    // 200 KB: hyper's own header limit may answer 431 first; either way no 5xx and no hang.
    let base = serve(router()).await;
    let line = format!("Authorization: Basic {}", "A".repeat(200_000));
    let head = raw_get("/", &[line.as_bytes()]);
    let response = tokio::task::spawn_blocking(move || raw_request(&base, &head))
        .await
        .unwrap();
    let status = raw_status(&response);
    assert!(
        matches!(status, 400 | 401 | 431) || response.is_empty(),
        "got {status}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any header value at all: 400 or 401, never a panic, never a 5xx.
    #[test]
    fn arbitrary_authorization_values(value in proptest::collection::vec(any::<u8>(), 0..400)) {
        use tower::ServiceExt;
        let Ok(header) = http::HeaderValue::from_bytes(&value) else { return Ok(()) };
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let status = rt.block_on(async {
            let req = http::Request::get("/")
                .header("authorization", header)
                .body(axum::body::Body::empty())
                .unwrap();
            router().oneshot(req).await.unwrap().status()
        });
        prop_assert!(status == 400 || status == 401 || status == 200, "status {}", status);
    }

    /// Base64 of arbitrary bytes after `Basic `: decoding and splitting never panic.
    #[test]
    fn arbitrary_decoded_credentials(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        use tower::ServiceExt;
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let status = rt.block_on(async {
            let req = http::Request::get("/")
                .header("authorization", format!("Basic {}", b64(&raw)))
                .body(axum::body::Body::empty())
                .unwrap();
            router().oneshot(req).await.unwrap().status()
        });
        prop_assert!(status == 401 || (status == 200 && raw == b"john:hello"), "status {}", status);
    }
}
