//! A scheme of an application's own, written with the public API only (as a crate that
//! depends on this one would): its credentials, parse and verify, a builder method of its own
//! through an extension trait. It then works alone, in a `MultiAuth`, with roles, throttled,
//! and in both adapters, through the same path as the built-in schemes.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use httpauth::scheme::{AuthFuture, AuthRequest, Identity, Scheme};
use httpauth::{Auth, AuthError, BasicAuth, ConfigError, CurrentUser, MultiAuth, Throttle};

use crate::common::{basic, get_from, loopback, serve_with_peer};

/// `Authorization: Magic <user>.<secret>`: the secret is a word set with `.magic_word(..)`.
#[derive(Clone)]
struct Magic {
    word: Arc<str>,
    calls: Arc<AtomicUsize>,
}

/// The credentials it parses: the user and the word they sent.
struct MagicCredentials {
    user: String,
    word: String,
}

impl Scheme for Magic {
    type User = String;
    type Credentials = MagicCredentials;

    fn name(&self) -> &str {
        "Magic"
    }

    fn claims(&self, req: &AuthRequest<'_>) -> bool {
        req.authorization_scheme_is("Magic")
    }

    fn parse(&self, req: &AuthRequest<'_>) -> Result<MagicCredentials, AuthError> {
        req.authorization()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.strip_prefix("Magic "))
            .and_then(|v| v.split_once('.'))
            .map(|(user, word)| MagicCredentials {
                user: user.to_owned(),
                word: word.to_owned(),
            })
            .ok_or_else(|| AuthError::malformed("not magic"))
    }

    fn username<'c>(&self, creds: &'c MagicCredentials) -> Option<&'c str> {
        Some(&creds.user)
    }

    fn verify(
        &self,
        creds: MagicCredentials,
        username: Option<&str>,
        _req: &AuthRequest<'_>,
    ) -> AuthFuture<Result<Identity<String>, AuthError>> {
        self.calls.fetch_add(1, SeqCst);
        let user = username.unwrap_or(&creds.user).to_owned();
        // An async answer, as a verifier that asks a service would give.
        let ok = creds.word == *self.word;
        AuthFuture::new(async move {
            ok.then(|| Identity::new(user, None))
                .ok_or_else(AuthError::invalid)
        })
    }

    fn set_realm(&mut self, _realm: &str) -> Result<(), ConfigError> {
        Ok(())
    }

    fn challenge(&self, _err: &AuthError, headers: &mut http::HeaderMap) {
        headers.append("www-authenticate", http::HeaderValue::from_static("Magic"));
    }
}

/// The scheme's own builder methods, on `Auth<Magic>`.
trait MagicAuthExt: Sized {
    fn magic_word(self, word: &str) -> Self;
    fn try_magic_word(self, word: &str) -> Result<Self, ConfigError>;
}

impl MagicAuthExt for Auth<Magic> {
    fn magic_word(mut self, word: &str) -> Self {
        self.get_mut().word = Arc::from(word);
        self
    }

    fn try_magic_word(self, word: &str) -> Result<Self, ConfigError> {
        self.try_map_scheme(|magic| {
            if word.is_empty() {
                return Err(ConfigError::Invalid {
                    setting: "magic word",
                    reason: "must not be empty",
                });
            }
            magic.word = Arc::from(word);
            Ok(())
        })
    }
}

fn magic(calls: &Arc<AtomicUsize>) -> Auth<Magic> {
    Auth::from_scheme(Magic {
        word: Arc::from("abracadabra"),
        calls: calls.clone(),
    })
    .magic_word("please")
    .user_roles_sync(|user: &String| if user == "merlin" { "wizard" } else { "user" })
}

async fn hello(CurrentUser(user): CurrentUser<String>) -> String {
    format!("Hello, {user}!")
}

#[tokio::test]
async fn alone_with_roles_throttled_and_beside_basic() {
    let calls = Arc::new(AtomicUsize::new(0));
    let auth = magic(&calls).throttle(Throttle::new().max_failures_per_user(2));
    assert!(auth.clone().try_magic_word("").is_err());
    let passwords =
        BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then(|| u.to_owned()));
    let multi = MultiAuth::new(passwords).or(auth.clone());
    let base = serve_with_peer(
        Router::new()
            .route("/", get(hello).route_layer(auth.login_required()))
            .route(
                "/wizards",
                get(hello).route_layer(auth.login_required().role("wizard")),
            )
            .route("/multi", get(hello).route_layer(multi.login_required())),
    )
    .await;
    let client = loopback(1000);
    let ask = |path: &'static str, creds: String| {
        let url = format!("{base}{path}");
        async move { get_from(client, &url, &[("authorization", &creds)]).await }
    };
    // Alone.
    let (status, _, body) = ask("/", "Magic merlin.please".into()).await;
    assert_eq!((status, body.as_str()), (200, "Hello, merlin!"));
    let (status, challenges, _) = get_from(client, &format!("{base}/"), &[]).await;
    assert_eq!((status, challenges), (401, vec!["Magic".to_owned()]));
    // Malformed: refused by its parse.
    assert_eq!(ask("/", "Magic nonsense".into()).await.0, 401);
    // Roles.
    assert_eq!(ask("/wizards", "Magic merlin.please".into()).await.0, 200);
    assert_eq!(ask("/wizards", "Magic bob.please".into()).await.0, 403);
    // Beside Basic.
    assert_eq!(ask("/multi", basic("john", "hello")).await.0, 200);
    let (status, _, body) = ask("/multi", "Magic bob.please".into()).await;
    assert_eq!((status, body.as_str()), (200, "Hello, bob!"));
    // Throttled by the policy, between its parse and its verify: eve's third try is not
    // verified, even with the word.
    let before = calls.load(SeqCst);
    for _ in 0..2 {
        assert_eq!(ask("/", "Magic eve.guess".into()).await.0, 401);
    }
    let (status, _, _) = ask("/", "Magic eve.please".into()).await;
    assert_eq!(status, 429);
    assert_eq!(calls.load(SeqCst), before + 2);
}

#[cfg(feature = "actix")]
#[test]
fn in_actix_too() {
    use actix_web::{test, web, App};
    let calls = Arc::new(AtomicUsize::new(0));
    let auth = magic(&calls);
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(
            App::new().service(
                web::resource("/wizards")
                    .wrap(auth.login_required().role("wizard"))
                    .to(|CurrentUser(user): CurrentUser<String>| async move {
                        format!("Hello, {user}!")
                    }),
            ),
        )
        .await;
        let req = |creds: &str| {
            test::TestRequest::get()
                .uri("/wizards")
                .insert_header(("authorization", creds))
                .to_request()
        };
        let res = test::call_service(&app, req("Magic merlin.please")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(test::read_body(res).await, "Hello, merlin!");
        assert_eq!(
            test::call_service(&app, req("Magic bob.please"))
                .await
                .status(),
            403
        );
        assert_eq!(
            test::call_service(&app, req("Magic bob.nope"))
                .await
                .status(),
            401
        );
    });
}
