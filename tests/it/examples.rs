//! The small examples (`examples/basic.rs`, `digest.rs`, `token.rs`, `multi.rs`, `roles.rs`),
//! each started as its built binary on a free port and driven by reqwest or curl.

use std::process::Command;

use crate::common::{basic, get, start_example};

const BASIC_CHALLENGE: &str = r#"Basic realm="Authentication Required""#;
const BEARER_CHALLENGE: &str = r#"Bearer realm="Authentication Required""#;

#[tokio::test]
async fn basic_example() {
    let (_server, base) = start_example("basic", &[], Some("0"));
    let (status, challenges, _) = get(&base, None).await;
    assert_eq!(
        (status, challenges),
        (401, vec![BASIC_CHALLENGE.to_owned()])
    );
    assert_eq!(get(&base, Some(&basic("john", "bye"))).await.0, 401);
    let (status, _, body) = get(&base, Some(&basic("john", "hello"))).await;
    assert_eq!((status, body.as_str()), (200, "Hello, john!"));
    let (status, _, body) = get(&base, Some(&basic("susan", "bye"))).await;
    assert_eq!((status, body.as_str()), (200, "Hello, susan!"));
}

#[test]
fn digest_example_with_curl() {
    let (_server, base) = start_example("digest", &[], Some("0"));
    let curl = |user: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "20",
                "--digest",
                "-u",
                user,
                "-w",
                " %{http_code}",
            ])
            .arg(&base)
            .output()
            .expect("curl is installed");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(curl("john:hello"), "Hello, john! 200");
    assert_eq!(curl("susan:bye"), "Hello, susan! 200");
    assert!(curl("john:bye").ends_with(" 401"));
}

#[tokio::test]
async fn token_example() {
    let (_server, base) = start_example("token", &[], Some("0"));
    let (status, challenges, _) = get(&base, None).await;
    assert_eq!(
        (status, challenges),
        (401, vec![BEARER_CHALLENGE.to_owned()])
    );
    assert_eq!(get(&base, Some("Bearer secret-token-3")).await.0, 401);
    let (status, _, body) = get(&base, Some("Bearer secret-token-2")).await;
    assert_eq!((status, body.as_str()), (200, "Hello, susan!"));
}

#[tokio::test]
async fn multi_example() {
    let (_server, base) = start_example("multi", &[], Some("0"));
    let (status, challenges, _) = get(&base, None).await;
    assert_eq!(status, 401);
    assert_eq!(challenges, [BASIC_CHALLENGE, BEARER_CHALLENGE]);
    let (status, _, body) = get(&base, Some(&basic("john", "hello"))).await;
    assert_eq!((status, body.as_str()), (200, "Hello, john!"));
    let (status, _, body) = get(&base, Some("Bearer secret-token-2")).await;
    assert_eq!((status, body.as_str()), (200, "Hello, susan!"));
    // A wrong token is refused by the token scheme: its challenge only.
    let (status, challenges, _) = get(&base, Some("Bearer nope")).await;
    assert_eq!(
        (status, challenges),
        (401, vec![BEARER_CHALLENGE.to_owned()])
    );
}

#[tokio::test]
async fn roles_example() {
    let (_server, base) = start_example("roles", &[], Some("0"));
    let ask = |path: &'static str, user: &'static str, password: &'static str| {
        let url = format!("{base}{path}");
        async move { get(&url, Some(&basic(user, password))).await }
    };
    let (john, susan, ana) = (("john", "hello"), ("susan", "bye"), ("ana", "hola"));
    for (path, (user, password), expected) in [
        ("/", john, (200, "Hello, john!")),
        ("/admin", john, (403, "Unauthorized Access")),
        ("/admin", susan, (200, "Hello susan, you are an admin!")),
        ("/staff", john, (403, "Unauthorized Access")),
        (
            "/staff",
            ana,
            (200, "Hello ana, you are an admin or a moderator!"),
        ),
        (
            "/contrib",
            john,
            (
                200,
                "Hello john, you are a user or a moderator/contributor!",
            ),
        ),
        (
            "/contrib",
            ana,
            (200, "Hello ana, you are a user or a moderator/contributor!"),
        ),
        ("/admin", ana, (403, "Unauthorized Access")),
    ] {
        let (status, _, body) = ask(path, user, password).await;
        assert_eq!((status, body.as_str()), expected, "{user} on {path}");
    }
}
