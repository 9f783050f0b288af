//! The example binary on a free port, driven by reqwest: Basic and JWT Bearer on one route,
//! roles from the claims, tokens the example issues and tokens the test signs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

const SECRET: &str = "the test's secret";

/// The example binary; killed when dropped.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    roles: &'a [&'a str],
    exp: u64,
}

/// A token signed with `secret`, valid for `lifetime` seconds (negative: expired).
fn token(secret: &str, sub: &str, roles: &[&str], lifetime: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = now.saturating_add_signed(lifetime);
    let claims = Claims { sub, roles, exp };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn basic_or_jwt_with_roles_from_claims() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_example-actix-jwt"))
        .env("PORT", "0")
        .env("JWT_SECRET", SECRET)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start example-actix-jwt");
    let stdout = child.stdout.take().unwrap();
    let _example = Example(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let get = |path: &str, auth: Auth<'_>| {
        let mut req = client.get(format!("{base}{path}"));
        req = match auth {
            Auth::None => req,
            Auth::Basic(user, password) => req.basic_auth(user, Some(password)),
            Auth::Bearer(token) => req.bearer_auth(token),
        };
        async move {
            let res = req.send().await.unwrap();
            let challenges: Vec<String> = res
                .headers()
                .get_all("www-authenticate")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            (res.status().as_u16(), challenges, res.text().await.unwrap())
        }
    };

    let (status, challenges, _) = get("/", Auth::None).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenges,
        [
            r#"Basic realm="Authentication Required""#,
            r#"Bearer realm="Authentication Required""#
        ]
    );
    assert_eq!(
        get("/", Auth::Basic("john", "hello")).await.2,
        "Hello, john!"
    );
    assert_eq!(get("/admin", Auth::Basic("john", "hello")).await.0, 403);
    assert_eq!(
        get("/admin", Auth::Basic("susan", "bye")).await.2,
        "Hello susan, you are an admin!"
    );

    // A token the example issues, used as a Bearer token.
    let (status, _, issued) = get("/token", Auth::Basic("susan", "bye")).await;
    assert_eq!(status, 200);
    assert_eq!(get("/", Auth::Bearer(&issued)).await.2, "Hello, susan!");
    assert_eq!(
        get("/admin", Auth::Bearer(&issued)).await.2,
        "Hello susan, you are an admin!"
    );
    // /token takes Basic only.
    assert_eq!(get("/token", Auth::Bearer(&issued)).await.0, 401);

    // The roles are the claims': a token saying john is an admin makes him one.
    let john_admin = token(SECRET, "john", &["admin"], 600);
    assert_eq!(
        get("/admin", Auth::Bearer(&john_admin)).await.2,
        "Hello john, you are an admin!"
    );
    let john_user = token(SECRET, "john", &["user"], 600);
    assert_eq!(get("/", Auth::Bearer(&john_user)).await.2, "Hello, john!");
    assert_eq!(get("/admin", Auth::Bearer(&john_user)).await.0, 403);

    // Expired, or signed with another secret: refused with the Bearer challenge only.
    for bad in [
        token(SECRET, "susan", &["admin"], -600),
        token("another secret", "susan", &["admin"], 600),
    ] {
        let (status, challenges, _) = get("/admin", Auth::Bearer(&bad)).await;
        assert_eq!(
            (status, challenges),
            (
                401,
                vec![r#"Bearer realm="Authentication Required""#.to_owned()]
            )
        );
    }
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Basic(&'a str, &'a str),
    Bearer(&'a str),
}
