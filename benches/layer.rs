//! One GET through a real router, with and without authentication, httpauth beside its peers in
//! the same run: an axum 0.8 `Router` with `.route("/", get(handler)).route_layer(..)` and an
//! actix-web 4 `App` with `web::resource("/").wrap(..).route(..)`, a static handler, valid
//! credentials, requests driven in-process (the router's own `Service::call`, no socket).
//!
//! ```sh
//! cargo bench --bench layer --features actix          # criterion per case, then the table
//! scripts/callgrind.sh                                # instructions per request (valgrind)
//! ```
//!
//! The table at the end comes from interleaved rounds (every case once per round, so a noisy
//! neighbour slows all cases alike): median ns per request, the median over rounds of the
//! difference to the same framework's no-auth route in the same round, and the ratio; then
//! httpauth's overhead beside that of `minimal-*`, a layer written by hand here that does only
//! the job (the floor: the user to the handler, nothing else). `httpauth-basic-throttle-records`
//! is a route whose throttle holds a failure record, as a live server's nearly always does.
//!
//! `HTTPAUTH_BENCH_CASES="axum/httpauth-bearer actix/httpauth-bearer"` runs only these cases
//! (with their framework's no-auth route and their target's peer); `HTTPAUTH_BENCH_ROUNDS`
//! sets the number of rounds (default 21).
//!
//! `HTTPAUTH_BENCH_CALLGRIND=<case> HTTPAUTH_BENCH_N=<n>` builds one case, sends it `n` requests
//! and exits, without criterion (`HTTPAUTH_BENCH_CALLGRIND=list` prints the cases); the
//! callgrind script runs that for `n` and `2n` so the setup cancels out.
//!
//! Everything that depends on httpauth's API is in the first section (`httpauth_*`, the
//! handlers' `CurrentUser`), so the bench is easy to port when that API changes.

#![allow(missing_docs)]

use std::collections::HashMap;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Service as _, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, HttpMessage as _};
use axum::routing::get;
use axum::Router;
use criterion::Criterion;
use subtle::ConstantTimeEq;
use tower::Service as _;

// ---------------------------------------------------------------------------------------------
// httpauth: construction and handlers (the only part that uses httpauth's API).

use httpauth::password::{HashedPasswords, Params};
use httpauth::{BasicAuth, CurrentUser, TokenAuth};

/// What an application's verify callback returns (as in the README).
#[derive(Clone, Debug)]
struct User {
    name: String,
    #[allow(dead_code)]
    admin: bool,
}

/// Basic with a sync callback over a map: lookup, constant-time compare, the user cloned out.
fn httpauth_basic() -> BasicAuth<User> {
    let users = Arc::new(password_table());
    BasicAuth::verify_password_sync(move |username, password| {
        let (stored, user) = users.get(username)?;
        bool::from(stored.as_bytes().ct_eq(password.as_bytes())).then(|| user.clone())
    })
}

/// Bearer with a sync callback over a map.
fn httpauth_bearer() -> TokenAuth<User> {
    let tokens = Arc::new(token_table());
    TokenAuth::verify_token_sync(move |token| tokens.get(token).cloned())
}

/// The user type `httpauth_basic_hashed` gives the handler.
type HashedUser = String;

/// Basic over argon2id hashes (`HashedPasswords`), answered by the verified-credential cache
/// once the first request has verified the hash. Cheap argon2 parameters keep the setup short;
/// a cache hit costs the same whatever the parameters.
fn httpauth_basic_hashed() -> BasicAuth<HashedUser> {
    let params = Params::new(1024, 1, 1).expect("valid argon2 parameters");
    let users = HashedPasswords::new().dummy_params(params);
    for (name, (password, _)) in password_table() {
        users
            .insert(name, params.hash(&password))
            .expect("a valid hash");
    }
    BasicAuth::verify_password(users)
}

async fn axum_user_handler<U: Clone + Send + Sync + 'static>(
    CurrentUser(user): CurrentUser<U>,
) -> &'static str {
    black_box(&user);
    "hello"
}

async fn actix_user_handler<U: Clone + Send + Sync + 'static>(
    CurrentUser(user): CurrentUser<U>,
) -> &'static str {
    black_box(&user);
    "hello"
}

fn axum_httpauth_basic() -> Router {
    Router::new()
        .route("/", get(axum_user_handler::<User>))
        .route_layer(httpauth_basic().login_required())
}

/// The same layer, a handler that does not read the user: separates the layer's cost from the
/// extractor's (a diagnostic, not a target).
fn axum_httpauth_basic_no_extractor() -> Router {
    Router::new()
        .route("/", get(static_handler))
        .route_layer(httpauth_basic().login_required())
}

/// A route whose throttle holds a failure record (another user's wrong password), as a live
/// server's throttle nearly always does: every request then takes the throttle's checked path
/// (the claimed username and the blocked check before, the count reset after a success). A
/// throttle of its own, so the other cases keep the process-wide one without records. (A
/// token route records failures per client address only, which an in-process request has
/// not: it has no such case.)
fn axum_httpauth_basic_with_records() -> Router {
    let throttle = httpauth::Throttle::new();
    let router = Router::new()
        .route("/", get(axum_user_handler::<User>))
        .route_layer(httpauth_basic().login_required().throttle(throttle));
    record_a_failure(router, "Basic bWFsbG9yeTp3cm9uZw==") // mallory:wrong
}

/// Sends one request with wrong credentials (checked: 401), so the route's throttle has a record.
fn record_a_failure(mut router: Router, authorization: &'static str) -> Router {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let authorization = http::HeaderValue::from_static(authorization);
    let res = rt
        .block_on(router.call(axum_request(&authorization)))
        .expect("infallible");
    assert_eq!(res.status(), 401, "the wrong credentials must be refused");
    router
}

fn axum_httpauth_bearer() -> Router {
    Router::new()
        .route("/", get(axum_user_handler::<User>))
        .route_layer(httpauth_bearer().login_required())
}

fn axum_httpauth_basic_hashed() -> Router {
    Router::new()
        .route("/", get(axum_user_handler::<HashedUser>))
        .route_layer(httpauth_basic_hashed().login_required())
}

fn actix_httpauth_basic(d: &Drivers) -> Runner {
    actix_runner(
        d,
        actix_web::App::new().service(
            web::resource("/")
                .wrap(httpauth_basic().login_required())
                .route(web::get().to(actix_user_handler::<User>)),
        ),
        BASIC,
    )
}

fn actix_httpauth_basic_no_extractor(d: &Drivers) -> Runner {
    actix_runner(
        d,
        actix_web::App::new().service(
            web::resource("/")
                .wrap(httpauth_basic().login_required())
                .route(web::get().to(static_handler)),
        ),
        BASIC,
    )
}

fn actix_httpauth_bearer(d: &Drivers) -> Runner {
    actix_runner(
        d,
        actix_web::App::new().service(
            web::resource("/")
                .wrap(httpauth_bearer().login_required())
                .route(web::get().to(actix_user_handler::<User>)),
        ),
        BEARER,
    )
}

fn actix_httpauth_basic_hashed(d: &Drivers) -> Runner {
    actix_runner(
        d,
        actix_web::App::new().service(
            web::resource("/")
                .wrap(httpauth_basic_hashed().login_required())
                .route(web::get().to(actix_user_handler::<HashedUser>)),
        ),
        BASIC,
    )
}

// ---------------------------------------------------------------------------------------------
// Users, credentials, peers.

const BASIC: &str = "Basic am9objpoZWxsbw=="; // john:hello
const BEARER: &str = "Bearer secret-token-1";

fn user(name: &str, admin: bool) -> User {
    User {
        name: name.to_owned(),
        admin,
    }
}

fn password_table() -> HashMap<String, (String, User)> {
    HashMap::from([
        ("john".to_owned(), ("hello".to_owned(), user("john", false))),
        ("susan".to_owned(), ("bye".to_owned(), user("susan", true))),
    ])
}

fn token_table() -> HashMap<String, User> {
    HashMap::from([
        ("secret-token-1".to_owned(), user("john", false)),
        ("secret-token-2".to_owned(), user("susan", true)),
    ])
}

async fn static_handler() -> &'static str {
    "hello"
}

fn axum_none() -> Router {
    Router::new().route("/", get(static_handler))
}

// tower-http's `ValidateRequestHeaderLayer::basic`/`bearer`: one fixed credential, compared with
// `==`, no user for the handler (deprecated since tower-http 0.6.7, still what many use).
#[allow(deprecated)]
fn axum_tower_http_basic() -> Router {
    use tower_http::validate_request::ValidateRequestHeaderLayer;
    Router::new()
        .route("/", get(static_handler))
        .route_layer(ValidateRequestHeaderLayer::<
            tower_http::auth::require_authorization::Basic<axum::body::Body>,
        >::basic("john", "hello"))
}

#[allow(deprecated)]
fn axum_tower_http_bearer() -> Router {
    use tower_http::validate_request::ValidateRequestHeaderLayer;
    Router::new()
        .route("/", get(static_handler))
        .route_layer(ValidateRequestHeaderLayer::<
            tower_http::auth::require_authorization::Bearer<axum::body::Body>,
        >::bearer("secret-token-1"))
}

// The least a layer can do for the job httpauth does here, written by hand for this bench (not
// a peer, a floor): the `Authorization` value looked up, the scheme word stripped, the same map
// lookup as httpauth's callbacks (Basic: base64 decoded on the stack, constant-time compare),
// the user cloned into the request extensions and read by the handler with axum's own
// `Extension<User>`. No challenge, no throttle, no error handler, no duplicate-header check.
mod minimal {
    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use axum::body::Body;
    use axum::response::{IntoResponse, Response};
    use http::Request;

    use super::User;

    type Check = Arc<dyn Fn(&[u8]) -> Option<User> + Send + Sync>;

    #[derive(Clone)]
    pub(crate) struct MinimalLayer(pub(crate) Check);

    impl<S> tower::Layer<S> for MinimalLayer {
        type Service = Minimal<S>;
        fn layer(&self, inner: S) -> Minimal<S> {
            Minimal {
                inner,
                check: self.0.clone(),
            }
        }
    }

    #[derive(Clone)]
    pub(crate) struct Minimal<S> {
        inner: S,
        check: Check,
    }

    pin_project_lite::pin_project! {
        #[project = Proj]
        pub(crate) enum MinimalFuture<F> {
            Inner { #[pin] future: F },
            Unauthorized,
        }
    }

    impl<F: Future<Output = Result<Response, Infallible>>> Future for MinimalFuture<F> {
        type Output = F::Output;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            match self.project() {
                Proj::Inner { future } => future.poll(cx),
                Proj::Unauthorized => {
                    Poll::Ready(Ok(http::StatusCode::UNAUTHORIZED.into_response()))
                }
            }
        }
    }

    impl<S> tower::Service<Request<Body>> for Minimal<S>
    where
        S: tower::Service<Request<Body>, Response = Response, Error = Infallible>,
    {
        type Response = Response;
        type Error = Infallible;
        type Future = MinimalFuture<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, mut req: Request<Body>) -> Self::Future {
            let user = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|value| (self.check)(value.as_bytes()));
            match user {
                Some(user) => {
                    req.extensions_mut().insert(user);
                    MinimalFuture::Inner {
                        future: self.inner.call(req),
                    }
                }
                None => MinimalFuture::Unauthorized,
            }
        }
    }
}

fn minimal_basic() -> minimal::MinimalLayer {
    use base64::Engine as _;
    let users = Arc::new(password_table());
    minimal::MinimalLayer(Arc::new(move |value: &[u8]| {
        let token = value.strip_prefix(b"Basic ")?;
        let mut buf = [0_u8; 256];
        let len = base64::engine::general_purpose::STANDARD
            .decode_slice(token, &mut buf)
            .ok()?;
        let decoded = &buf[..len];
        let colon = decoded.iter().position(|&b| b == b':')?;
        let username = std::str::from_utf8(&decoded[..colon]).ok()?;
        let password = std::str::from_utf8(&decoded[colon + 1..]).ok()?;
        let (stored, user) = users.get(username)?;
        bool::from(stored.as_bytes().ct_eq(password.as_bytes())).then(|| user.clone())
    }))
}

fn minimal_bearer() -> minimal::MinimalLayer {
    let tokens = Arc::new(token_table());
    minimal::MinimalLayer(Arc::new(move |value: &[u8]| {
        let token = std::str::from_utf8(value.strip_prefix(b"Bearer ")?).ok()?;
        tokens.get(token).cloned()
    }))
}

async fn axum_extension_handler(axum::Extension(user): axum::Extension<User>) -> &'static str {
    black_box(&user);
    "hello"
}

fn axum_minimal(layer: minimal::MinimalLayer) -> Router {
    Router::new()
        .route("/", get(axum_extension_handler))
        .route_layer(layer)
}

fn actix_none(d: &Drivers) -> Runner {
    actix_runner(
        d,
        actix_web::App::new().service(web::resource("/").route(web::get().to(static_handler))),
        BASIC,
    )
}

async fn actix_reqdata_handler(user: web::ReqData<User>) -> &'static str {
    black_box(&user.name);
    "hello"
}

type ValidatorResult = Result<ServiceRequest, (actix_web::Error, ServiceRequest)>;

/// The user (or a 401) back into the request, as actix-web-httpauth's validators do it.
fn into_request(req: ServiceRequest, user: Option<User>) -> ValidatorResult {
    match user {
        Some(user) => {
            req.extensions_mut().insert(user);
            Ok(req)
        }
        None => Err((
            actix_web::error::ErrorUnauthorized("invalid credentials"),
            req,
        )),
    }
}

// actix-web-httpauth 0.8: a validator doing the same map lookup and putting the user in the
// request extensions; the handler reads it with `web::ReqData<User>`.
fn actix_awh_basic(d: &Drivers) -> Runner {
    use actix_web_httpauth::extractors::basic::BasicAuth as AwhBasic;
    use actix_web_httpauth::middleware::HttpAuthentication;
    let users = Arc::new(password_table());
    let auth = HttpAuthentication::basic(move |req: ServiceRequest, credentials: AwhBasic| {
        let password = credentials.password().unwrap_or_default();
        let user = users
            .get(credentials.user_id())
            .filter(|(stored, _)| bool::from(stored.as_bytes().ct_eq(password.as_bytes())))
            .map(|(_, user)| user.clone());
        async move { into_request(req, user) }
    });
    actix_runner(
        d,
        actix_web::App::new().service(
            web::resource("/")
                .wrap(auth)
                .route(web::get().to(actix_reqdata_handler)),
        ),
        BASIC,
    )
}

fn actix_awh_bearer(d: &Drivers) -> Runner {
    use actix_web_httpauth::extractors::bearer::BearerAuth;
    use actix_web_httpauth::middleware::HttpAuthentication;
    let tokens = Arc::new(token_table());
    let auth = HttpAuthentication::bearer(move |req: ServiceRequest, credentials: BearerAuth| {
        let user = tokens.get(credentials.token()).cloned();
        async move { into_request(req, user) }
    });
    actix_runner(
        d,
        actix_web::App::new().service(
            web::resource("/")
                .wrap(auth)
                .route(web::get().to(actix_reqdata_handler)),
        ),
        BEARER,
    )
}

// ---------------------------------------------------------------------------------------------
// Cases.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Framework {
    Axum,
    Actix,
}

struct Case {
    id: &'static str,
    framework: Framework,
    /// The issue's target for this case, shown beside the figure.
    target: Target,
    build: fn(&Drivers) -> Runner,
}

#[derive(Clone, Copy)]
enum Target {
    None,
    /// At most this many ns over the framework's no-auth route.
    OverheadNs(f64),
    /// No costlier than this case.
    NoCostlierThan(&'static str),
}

const CASES: &[Case] = &[
    Case {
        id: "axum/no-auth",
        framework: Framework::Axum,
        target: Target::None,
        build: |d| axum_runner(d, axum_none(), BASIC),
    },
    Case {
        id: "axum/tower-http-basic",
        framework: Framework::Axum,
        target: Target::None,
        build: |d| axum_runner(d, axum_tower_http_basic(), BASIC),
    },
    Case {
        id: "axum/tower-http-bearer",
        framework: Framework::Axum,
        target: Target::None,
        build: |d| axum_runner(d, axum_tower_http_bearer(), BEARER),
    },
    Case {
        id: "axum/minimal-basic",
        framework: Framework::Axum,
        target: Target::None,
        build: |d| axum_runner(d, axum_minimal(minimal_basic()), BASIC),
    },
    Case {
        id: "axum/minimal-bearer",
        framework: Framework::Axum,
        target: Target::None,
        build: |d| axum_runner(d, axum_minimal(minimal_bearer()), BEARER),
    },
    Case {
        id: "axum/httpauth-basic",
        framework: Framework::Axum,
        target: Target::OverheadNs(300.0),
        build: |d| axum_runner(d, axum_httpauth_basic(), BASIC),
    },
    Case {
        id: "axum/httpauth-basic-no-extractor",
        framework: Framework::Axum,
        target: Target::None,
        build: |d| axum_runner(d, axum_httpauth_basic_no_extractor(), BASIC),
    },
    Case {
        id: "axum/httpauth-bearer",
        framework: Framework::Axum,
        target: Target::OverheadNs(200.0),
        build: |d| axum_runner(d, axum_httpauth_bearer(), BEARER),
    },
    Case {
        id: "axum/httpauth-basic-throttle-records",
        framework: Framework::Axum,
        target: Target::None,
        build: |d| axum_runner(d, axum_httpauth_basic_with_records(), BASIC),
    },
    Case {
        id: "axum/httpauth-basic-argon2id-cached",
        framework: Framework::Axum,
        target: Target::None,
        build: |d| axum_runner(d, axum_httpauth_basic_hashed(), BASIC),
    },
    Case {
        id: "actix/no-auth",
        framework: Framework::Actix,
        target: Target::None,
        build: actix_none,
    },
    Case {
        id: "actix/actix-web-httpauth-basic",
        framework: Framework::Actix,
        target: Target::None,
        build: actix_awh_basic,
    },
    Case {
        id: "actix/actix-web-httpauth-bearer",
        framework: Framework::Actix,
        target: Target::None,
        build: actix_awh_bearer,
    },
    Case {
        id: "actix/httpauth-basic",
        framework: Framework::Actix,
        target: Target::NoCostlierThan("actix/actix-web-httpauth-basic"),
        build: actix_httpauth_basic,
    },
    Case {
        id: "actix/httpauth-basic-no-extractor",
        framework: Framework::Actix,
        target: Target::None,
        build: actix_httpauth_basic_no_extractor,
    },
    Case {
        id: "actix/httpauth-bearer",
        framework: Framework::Actix,
        target: Target::NoCostlierThan("actix/actix-web-httpauth-bearer"),
        build: actix_httpauth_bearer,
    },
    Case {
        id: "actix/httpauth-basic-argon2id-cached",
        framework: Framework::Actix,
        target: Target::None,
        build: actix_httpauth_basic_hashed,
    },
];

// ---------------------------------------------------------------------------------------------
// Drivers: each case becomes a closure that sends `n` requests and returns the time they took.

/// Sends `n` requests through one case's router; the time they took.
type Runner = Box<dyn FnMut(u64) -> Duration>;

/// One runtime per framework, shared by its cases, on this thread.
struct Drivers {
    tokio: Rc<tokio::runtime::Runtime>,
    actix: Rc<actix_web::rt::SystemRunner>,
}

impl Drivers {
    fn new() -> Self {
        Self {
            tokio: Rc::new(
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("a tokio runtime"),
            ),
            actix: Rc::new(actix_web::rt::System::new()),
        }
    }
}

/// Two warm-up requests: each must answer 200 (the second one is a cache hit for the hashed
/// cases).
const CHECKS: usize = 2;

fn axum_request(authorization: &http::HeaderValue) -> http::Request<axum::body::Body> {
    // `Request::new` is a GET of "/"; only the header is added.
    let mut req = http::Request::new(axum::body::Body::empty());
    req.headers_mut()
        .insert(http::header::AUTHORIZATION, authorization.clone());
    req
}

fn axum_runner(d: &Drivers, mut router: Router, authorization: &'static str) -> Runner {
    let rt = d.tokio.clone();
    let authorization = http::HeaderValue::from_static(authorization);
    for _ in 0..CHECKS {
        let res = rt
            .block_on(router.call(axum_request(&authorization)))
            .expect("infallible");
        assert_eq!(res.status(), 200, "the credentials must be accepted");
    }
    Box::new(move |n| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..n {
                let res = router.call(axum_request(&authorization)).await;
                black_box(res.expect("infallible"));
            }
            start.elapsed()
        })
    })
}

/// A GET of "/" with the header (a macro: actix-web does not name its `Request` type).
macro_rules! actix_request {
    ($authorization:expr) => {
        actix_web::test::TestRequest::default()
            .insert_header((
                actix_web::http::header::AUTHORIZATION,
                $authorization.clone(),
            ))
            .to_request()
    };
}

fn actix_runner<T, B>(d: &Drivers, app: actix_web::App<T>, authorization: &'static str) -> Runner
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let rt = d.actix.clone();
    let authorization = actix_web::http::header::HeaderValue::from_static(authorization);
    let app = rt.block_on(actix_web::test::init_service(app));
    for _ in 0..CHECKS {
        let res = rt.block_on(app.call(actix_request!(authorization)));
        let status = res.map(|res| res.status().as_u16()).unwrap_or(0);
        assert_eq!(status, 200, "the credentials must be accepted");
    }
    Box::new(move |n| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..n {
                let res = app.call(actix_request!(authorization)).await;
                black_box(res.expect("a response"));
            }
            start.elapsed()
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Main: criterion per case, then the side-by-side table from interleaved rounds.

fn main() {
    if let Ok(case) = std::env::var("HTTPAUTH_BENCH_CALLGRIND") {
        callgrind_mode(&case);
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--test" || a == "--list");

    let drivers = Drivers::new();
    let mut runners: Vec<(&Case, Runner)> = selected_cases()
        .into_iter()
        .map(|c| (c, (c.build)(&drivers)))
        .collect();

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args();
    {
        let mut group = criterion.benchmark_group("layer");
        for (case, run) in &mut runners {
            group.bench_function(case.id, |b| b.iter_custom(&mut *run));
        }
        group.finish();
    }
    criterion.final_summary();
    if !quick {
        table(&mut runners);
    }
}

/// The cases to run: all, or those named in `HTTPAUTH_BENCH_CASES` (space-separated ids), with
/// the no-auth route of their framework and the peer of their target added.
fn selected_cases() -> Vec<&'static Case> {
    let Ok(list) = std::env::var("HTTPAUTH_BENCH_CASES") else {
        return CASES.iter().collect();
    };
    let named: Vec<&str> = list.split_whitespace().collect();
    let wanted = |c: &Case| {
        named.contains(&c.id)
            || CASES.iter().any(|n| {
                named.contains(&n.id)
                    && ((n.framework == c.framework && c.id.ends_with("/no-auth"))
                        || matches!(n.target, Target::NoCostlierThan(peer) if peer == c.id))
            })
    };
    let cases: Vec<&Case> = CASES.iter().filter(|c| wanted(c)).collect();
    assert!(
        cases.len() > 1 || named.iter().all(|n| n.ends_with("/no-auth")),
        "HTTPAUTH_BENCH_CASES names no known case (HTTPAUTH_BENCH_CALLGRIND=list prints them)"
    );
    cases
}

/// Runs each case for about `ROUND` per round, every case once per round, `ROUNDS` rounds.
const ROUND: Duration = Duration::from_millis(25);
const ROUNDS: usize = 21;

fn table(runners: &mut [(&Case, Runner)]) {
    let rounds = std::env::var("HTTPAUTH_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS);
    // Requests per round for each case, from a short calibration run.
    let counts: Vec<u64> = runners
        .iter_mut()
        .map(|(_, run)| {
            let t = run(2_000);
            let per = t.as_secs_f64() / 2_000.0;
            ((ROUND.as_secs_f64() / per) as u64).max(1_000)
        })
        .collect();
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); runners.len()];
    for _ in 0..rounds {
        for (i, (_, run)) in runners.iter_mut().enumerate() {
            let t = run(counts[i]);
            ns[i].push(t.as_secs_f64() * 1e9 / counts[i] as f64);
        }
    }
    let baseline = |framework: Framework| {
        runners
            .iter()
            .position(|(c, _)| c.framework == framework && c.id.ends_with("/no-auth"))
            .expect("a baseline per framework")
    };
    let median_ns: Vec<f64> = ns.iter().map(|v| median(v.clone())).collect();
    // The overhead: the median over rounds of (case − its baseline in the same round).
    let over: Vec<f64> = runners
        .iter()
        .enumerate()
        .map(|(i, (c, _))| {
            let b = baseline(c.framework);
            median(ns[i].iter().zip(&ns[b]).map(|(x, y)| x - y).collect())
        })
        .collect();

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nOne GET through the router, valid credentials, in-process; {rounds} interleaved rounds \
         of ~{} ms per case.\nns/request: median over rounds; +ns: median over rounds of (case - \
         no-auth route of its framework, same round); load average at the end: {}",
        ROUND.as_millis(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<38} {:>11} {:>12} {:>7}  target",
        "case", "ns/request", "+ns vs base", "ratio"
    );
    for (i, (c, _)) in runners.iter().enumerate() {
        let b = baseline(c.framework);
        let verdict = match c.target {
            Target::None => String::new(),
            Target::OverheadNs(max) => format!(
                "≤ +{max:.0} ns: {}",
                if over[i] <= max { "met" } else { "missed" }
            ),
            Target::NoCostlierThan(peer) => {
                let p = runners
                    .iter()
                    .position(|(c, _)| c.id == peer)
                    .expect("the peer case");
                format!(
                    "≤ {peer} (+{:.0}): {}",
                    over[p],
                    if over[i] <= over[p] { "met" } else { "missed" }
                )
            }
        };
        println!(
            "{:<38} {:>11.0} {:>12} {:>6.2}x  {verdict}",
            c.id,
            median_ns[i],
            if i == b {
                "–".to_owned()
            } else {
                format!("{:+.0}", over[i])
            },
            median_ns[i] / median_ns[b],
        );
    }
    // httpauth beside the hand-written minimum for the same job (the floor).
    let find = |id: &str| runners.iter().position(|(c, _)| c.id == id);
    for (case, floor) in [
        ("axum/httpauth-basic", "axum/minimal-basic"),
        ("axum/httpauth-bearer", "axum/minimal-bearer"),
    ] {
        if let (Some(i), Some(f)) = (find(case), find(floor)) {
            println!(
                "{case}: {:.2}x the overhead of {floor} (+{:.0} ns vs +{:.0} ns)",
                over[i] / over[f],
                over[i],
                over[f]
            );
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `HTTPAUTH_BENCH_CALLGRIND=<case>`: build that case (its two checked requests included) and
/// send it `HTTPAUTH_BENCH_N` requests (default 1000), nothing else.
fn callgrind_mode(id: &str) {
    if id == "list" {
        for c in CASES {
            println!("{}", c.id);
        }
        return;
    }
    let case = CASES.iter().find(|c| c.id == id).unwrap_or_else(|| {
        eprintln!("unknown case {id:?}; HTTPAUTH_BENCH_CALLGRIND=list prints the cases");
        std::process::exit(2)
    });
    let n = std::env::var("HTTPAUTH_BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let drivers = Drivers::new();
    let mut run = (case.build)(&drivers);
    black_box(run(n));
}
