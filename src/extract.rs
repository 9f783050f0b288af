//! The current user, for handlers: [`CurrentUser<U>`] and [`Username`].
//!
//! After a successful authentication the request extensions hold the user your verify callback
//! returned and, for schemes with a username (Basic, Digest), the username, in one entry of
//! httpauth's own. With the `axum` feature [`CurrentUser<U>`] and [`Username`] are extractors
//! (elsewhere [`CurrentUser::from_extensions`] and [`Username::from_extensions`] read them),
//! and `Option<CurrentUser<U>>` is the extractor for
//! [optional](crate::LoginRequired::optional) routes (`None` for anonymous requests). The extractors run after the auth layer, so a route's role check always comes
//! before them.
//!
//! ```
//! use axum::{routing::get, Router};
//! use httpauth::{BasicAuth, CurrentUser, Username};
//! # use tower::ServiceExt;
//!
//! let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(42_u32));
//! let app: Router = Router::new()
//!     .route("/id", get(|CurrentUser(id): CurrentUser<u32>, Username(name): Username| async move {
//!         format!("{name} is {id}")
//!     }))
//!     .route("/maybe", get(|user: Option<CurrentUser<u32>>| async move {
//!         format!("{:?}", user.map(|u| u.0))
//!     }))
//!     .route_layer(auth.login_required().optional());
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let res = app.oneshot(http::Request::get("/maybe").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 200);
//! let body = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
//! assert_eq!(body, "None");
//! # });
//! ```

#![cfg_attr(not(any(feature = "tower", feature = "actix")), allow(dead_code))]

use http::{Extensions, HeaderMap};

use crate::scheme::Identity;

/// The authenticated user, as returned by the verify callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser<U>(pub U);

/// The username from the credentials (Basic, Digest), also when the callback returned no
/// user object of its own (Flask-HTTPAuth's `auth.username()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(pub String);

/// The one request-extension entry a successful authentication leaves, in every adapter: the
/// user and the username. Generic, so [`CurrentUser<U>`] is one map lookup and a clone; one
/// entry, not one per extractor: each entry is an allocation and a map insert, and a second
/// one makes axum's extension map grow on every request.
#[derive(Clone)]
pub(crate) struct Authenticated<U> {
    user: U,
    username: Option<String>,
}

impl<U> std::fmt::Debug for Authenticated<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("user_type", &std::any::type_name::<U>())
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A request-extension map of either adapter (`http::Extensions`, actix-web's `Extensions`).
pub(crate) trait EntryMap {
    /// The entry for user type `U`.
    fn entry<U: Clone + Send + Sync + 'static>(&self) -> Option<&Authenticated<U>>;
    /// The username of the entry of the user type `t` describes, if the map holds one.
    fn username_of<'a>(&'a self, t: &UserType) -> Option<Option<&'a str>>;
}

impl EntryMap for Extensions {
    fn entry<U: Clone + Send + Sync + 'static>(&self) -> Option<&Authenticated<U>> {
        self.get()
    }

    fn username_of<'a>(&'a self, t: &UserType) -> Option<Option<&'a str>> {
        (t.http)(self)
    }
}

#[cfg(feature = "actix")]
impl EntryMap for actix_web::dev::Extensions {
    fn entry<U: Clone + Send + Sync + 'static>(&self) -> Option<&Authenticated<U>> {
        self.get()
    }

    fn username_of<'a>(&'a self, t: &UserType) -> Option<Option<&'a str>> {
        (t.actix)(self)
    }
}

/// A user type some [`LoginRequired`](crate::LoginRequired) authenticates: how to find its
/// entry without naming the type, for [`Username`] and the [`MissingAuthLayer`] message.
pub(crate) struct UserType {
    name: &'static str,
    id: std::any::TypeId,
    http: for<'a> fn(&'a Extensions) -> Option<Option<&'a str>>,
    #[cfg(feature = "actix")]
    actix: for<'a> fn(&'a actix_web::dev::Extensions) -> Option<Option<&'a str>>,
}

/// Every user type a `LoginRequired` was built for in this process (a handful: one per user
/// type, registered at configuration time, never per request). Read without a lock: a
/// `Username` extraction loads the filled slots and writes nothing shared; types beyond the
/// slots (an unusual program) go to `MORE_USER_TYPES`.
static USER_TYPES: [std::sync::OnceLock<UserType>; 32] = [const { std::sync::OnceLock::new() }; 32];
static MORE_USER_TYPES: std::sync::RwLock<Vec<UserType>> = std::sync::RwLock::new(Vec::new());
/// Serializes registrations (readers never take it).
static REGISTERING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn username_in<U: Clone + Send + Sync + 'static, M: EntryMap>(map: &M) -> Option<Option<&str>> {
    map.entry::<U>().map(|entry| entry.username.as_deref())
}

/// Makes the entries of user type `U` findable by [`Username`] and the diagnostics. Called
/// when a `LoginRequired` is built.
pub(crate) fn register_user_type<U: Clone + Send + Sync + 'static>() {
    let id = std::any::TypeId::of::<U>();
    let _registering = REGISTERING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut more = MORE_USER_TYPES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let filled = || USER_TYPES.iter().map_while(std::sync::OnceLock::get);
    if filled().chain(more.iter()).any(|t| t.id == id) {
        return;
    }
    let user_type = UserType {
        name: std::any::type_name::<U>(),
        id,
        http: username_in::<U, Extensions>,
        #[cfg(feature = "actix")]
        actix: username_in::<U, actix_web::dev::Extensions>,
    };
    match USER_TYPES.iter().find(|slot| slot.get().is_none()) {
        Some(slot) => {
            let _ = slot.set(user_type);
        }
        None => more.push(user_type),
    }
}

/// The entry of whichever registered user type the map holds: its username and type name.
fn any_entry<M: EntryMap>(map: &M) -> Option<(Option<&str>, &'static str)> {
    let found = |t: &UserType| map.username_of(t).map(|username| (username, t.name));
    let mut filled = 0;
    for t in USER_TYPES.iter().map_while(std::sync::OnceLock::get) {
        filled += 1;
        if let Some(hit) = found(t) {
            return Some(hit);
        }
    }
    if filled < USER_TYPES.len() {
        return None;
    }
    let more = MORE_USER_TYPES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    more.iter().find_map(found)
}

/// What an identity becomes in the request extensions (the same entry in every adapter), and
/// the headers the scheme adds to the successful response.
pub(crate) fn identity_entry<U>(
    identity: Identity<U>,
) -> (Authenticated<U>, Option<Box<HeaderMap>>) {
    let entry = Authenticated {
        user: identity.user,
        username: identity.username,
    };
    (entry, identity.response_headers)
}

/// Puts an identity into `http` request extensions; returns the headers for the response.
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) fn insert_identity<U: Clone + Send + Sync + 'static>(
    extensions: &mut Extensions,
    identity: Identity<U>,
) -> Option<Box<HeaderMap>> {
    let (entry, headers) = identity_entry(identity);
    extensions.insert(entry);
    headers
}

/// The current user of type `U`, or why it is not there.
pub(crate) fn current_user<U: Clone + Send + Sync + 'static, M: EntryMap>(
    map: &M,
) -> Result<CurrentUser<U>, MissingAuthLayer> {
    match map.entry::<U>() {
        Some(entry) => Ok(CurrentUser(entry.user.clone())),
        None => Err(MissingAuthLayer::new(std::any::type_name::<U>(), map)),
    }
}

/// The username, or why it is not there.
pub(crate) fn username<M: EntryMap>(map: &M) -> Result<Username, MissingAuthLayer> {
    match any_entry(map) {
        Some((Some(username), _)) => Ok(Username(username.to_owned())),
        _ => Err(MissingAuthLayer::new("Username", map)),
    }
}

impl<U: Clone + Send + Sync + 'static> CurrentUser<U> {
    /// The current user in `http` request extensions, for code that is not an axum handler (a
    /// tower service behind the layer, a hyper `service_fn`); handlers take `CurrentUser<U>`
    /// as an extractor instead.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use bytes::Bytes;
    /// use http_body_util::{BodyExt, Full};
    /// use httpauth::{BasicAuth, CurrentUser};
    /// use tower::{service_fn, ServiceBuilder, ServiceExt};
    ///
    /// let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(7_u32));
    /// let svc = ServiceBuilder::new().layer(auth.login_required()).service(service_fn(
    ///     |req: http::Request<Full<Bytes>>| async move {
    ///         let text = match CurrentUser::<u32>::from_extensions(req.extensions()) {
    ///             Ok(CurrentUser(id)) => format!("user {id}"),
    ///             Err(missing) => missing.to_string(),
    ///         };
    ///         Ok::<_, Infallible>(http::Response::new(Full::<Bytes>::from(text)))
    ///     },
    /// ));
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let req = http::Request::get("/")
    ///     .header("authorization", "Basic am9objpoZWxsbw==")
    ///     .body(Full::default())
    ///     .unwrap();
    /// let res = svc.oneshot(req).await.unwrap();
    /// assert_eq!(res.status(), 200);
    /// assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "user 7");
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`MissingAuthLayer`] when no httpauth layer authenticated the request, or one did with
    /// another user type.
    pub fn from_extensions(extensions: &Extensions) -> Result<Self, MissingAuthLayer> {
        current_user(extensions)
    }
}

impl Username {
    /// The username in `http` request extensions (see [`CurrentUser::from_extensions`]).
    ///
    /// # Errors
    ///
    /// [`MissingAuthLayer`] when no httpauth layer authenticated the request, or its scheme
    /// has no usernames (tokens).
    pub fn from_extensions(extensions: &Extensions) -> Result<Self, MissingAuthLayer> {
        username(extensions)
    }
}

/// The handler asked for something the request does not carry: a programming error (no
/// httpauth layer on the route, another user type, a `Username` on a token route, or a plain
/// `CurrentUser<U>` on an optional route). As an axum or actix-web rejection it answers `500`
/// with its message as the body (the type asked for and the one the route has, as axum's own
/// rejections do, so it shows without a log subscriber), and logs it at ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingAuthLayer {
    wanted: &'static str,
    found: Option<&'static str>,
}

impl MissingAuthLayer {
    /// Cold: only a misconfigured route gets here.
    #[cold]
    fn new<M: EntryMap>(wanted: &'static str, map: &M) -> Self {
        Self {
            wanted,
            found: any_entry(map).map(|(_, name)| name),
        }
    }

    /// The type the handler asked for (`CurrentUser<this>`, or `Username`).
    #[must_use]
    pub fn wanted(&self) -> &'static str {
        self.wanted
    }

    /// The user type the request was authenticated with, when it was.
    #[must_use]
    pub fn found(&self) -> Option<&'static str> {
        self.found
    }
}

impl std::fmt::Display for MissingAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.found {
            Some(found) if self.wanted == "Username" => write!(
                f,
                "the handler asked for the Username, but the request was authenticated by a scheme without usernames (user type {found})"
            ),
            Some(found) => write!(
                f,
                "the handler asked for CurrentUser<{}>, but the route's httpauth layer authenticates CurrentUser<{found}>",
                self.wanted
            ),
            None => write!(
                f,
                "the handler asked for {}, but no httpauth layer authenticated this request: none protects the route, or it is optional or an OPTIONS request (use Option<CurrentUser<U>>)",
                if self.wanted == "Username" { "the Username".to_owned() } else { format!("CurrentUser<{}>", self.wanted) }
            ),
        }
    }
}

impl std::error::Error for MissingAuthLayer {}

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::axum_impls::IntoResponseHandler;

#[cfg(feature = "axum")]
mod axum_impls {
    use std::convert::Infallible;

    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum_core::response::{IntoResponse, Response};
    use http::request::Parts;
    use http::StatusCode;

    use super::{CurrentUser, MissingAuthLayer, Username};

    /// `500`, the [message](MissingAuthLayer#impl-Display-for-MissingAuthLayer) as the
    /// plain-text body (as axum's own rejections answer), and an error event.
    impl IntoResponse for MissingAuthLayer {
        fn into_response(self) -> Response {
            tracing::error!(target: "httpauth", "{self}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                self.to_string(),
            )
                .into_response()
        }
    }

    impl<S: Send + Sync, U: Clone + Send + Sync + 'static> FromRequestParts<S> for CurrentUser<U> {
        type Rejection = MissingAuthLayer;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Self, Self::Rejection> {
            super::current_user(&parts.extensions)
        }
    }

    impl<S: Send + Sync, U: Clone + Send + Sync + 'static> OptionalFromRequestParts<S>
        for CurrentUser<U>
    {
        type Rejection = Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(super::current_user(&parts.extensions).ok())
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for Username {
        type Rejection = MissingAuthLayer;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Self, Self::Rejection> {
            super::username(&parts.extensions)
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for Username {
        type Rejection = Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(super::username(&parts.extensions).ok())
        }
    }

    /// An error handler written with axum's types: a closure `Fn(&AuthError) -> impl
    /// IntoResponse` (`Json(...)`, `(StatusCode, String)`, a whole `Response`...). Pass it to
    /// [`error_handler`](crate::Auth::error_handler). The response's body is read at once
    /// (error bodies are in memory; a body that is streamed, or larger than 64 KiB, is a
    /// programming error answered 500 and logged).
    ///
    /// ```
    /// use axum::{routing::get, Json, Router};
    /// use httpauth::{AuthError, BasicAuth, IntoResponseHandler};
    /// # use tower::ServiceExt;
    ///
    /// let auth = BasicAuth::verify_password_sync(|u, p| (u == "john" && p == "hello").then_some(()))
    ///     .error_handler(IntoResponseHandler(|err: &AuthError| {
    ///         (err.status(), Json(serde_json::json!({ "error": err.status().canonical_reason() })))
    ///     }));
    /// let app: Router = Router::new().route("/", get(|| async { "hi" })).route_layer(auth.login_required());
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let res = app.oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
    /// assert_eq!(res.status(), 401);
    /// assert_eq!(res.headers()["content-type"], "application/json");
    /// assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="Authentication Required""#);
    /// # });
    /// ```
    #[derive(Clone, Copy, Debug)]
    pub struct IntoResponseHandler<F>(pub F);

    impl<F, R> crate::ErrorHandler for IntoResponseHandler<F>
    where
        F: Fn(&crate::AuthError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        fn error_response(&self, err: &crate::AuthError) -> http::Response<bytes::Bytes> {
            in_memory((self.0)(err).into_response())
        }
    }

    /// The largest error body an [`IntoResponseHandler`] may produce.
    const MAX_ERROR_BODY: usize = 64 * 1024;

    /// An axum response with its (in-memory) body read out, without waiting.
    fn in_memory(response: Response) -> http::Response<bytes::Bytes> {
        use http_body::Body as _;
        let (parts, mut body) = response.into_parts();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut buf = bytes::BytesMut::new();
        loop {
            match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
                std::task::Poll::Ready(None) => break,
                std::task::Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        buf.extend_from_slice(&data);
                        if buf.len() <= MAX_ERROR_BODY {
                            continue;
                        }
                    } else {
                        continue;
                    }
                }
                std::task::Poll::Ready(Some(Err(_))) | std::task::Poll::Pending => {}
            }
            tracing::error!(target: "httpauth", "the error handler's response body is streamed, failed or is larger than 64 KiB; answering 500");
            let mut response =
                http::Response::new(bytes::Bytes::from_static(b"Internal Server Error"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return response;
        }
        http::Response::from_parts(parts, buf.freeze())
    }

    /// An [`AuthError`](crate::AuthError) answers with its status and the default body (no
    /// challenge: use it for errors raised after the layer, e.g. in a handler).
    impl IntoResponse for crate::AuthError {
        fn into_response(self) -> Response {
            let response = crate::scheme::default_error_response(&self);
            let (mut parts, body) = response.into_parts();
            parts.extensions.insert(self);
            Response::from_parts(parts, axum_core::body::Body::from(body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_holds_the_user_and_the_username() {
        register_user_type::<u64>();
        let mut extensions = Extensions::new();
        let headers = insert_identity(&mut extensions, Identity::new(7_u64, Some("john".into())));
        assert!(headers.is_none());
        let cloned = extensions.clone();
        for ext in [&extensions, &cloned] {
            assert_eq!(CurrentUser::<u64>::from_extensions(ext), Ok(CurrentUser(7)));
            assert_eq!(
                Username::from_extensions(ext),
                Ok(Username("john".to_owned()))
            );
            let err = CurrentUser::<u32>::from_extensions(ext).unwrap_err();
            assert_eq!((err.wanted(), err.found()), ("u32", Some("u64")));
        }
        // The user itself is never printed (it may hold secrets); its type and the username are.
        let debug = format!("{:?}", extensions.get::<Authenticated<u64>>().unwrap());
        assert!(
            debug.contains("\"john\"") && debug.contains("u64") && !debug.contains('7'),
            "{debug}"
        );

        let empty = Extensions::new();
        let err = Username::from_extensions(&empty).unwrap_err();
        assert_eq!((err.wanted(), err.found()), ("Username", None));
    }

    #[derive(Clone)]
    struct Kind<const N: usize>;

    #[test]
    fn more_user_types_than_slots_are_found_too() {
        macro_rules! register {
            ($($n:literal)*) => { $(register_user_type::<Kind<$n>>();)* };
        }
        register!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39);
        // Registering again adds nothing.
        register_user_type::<Kind<3>>();
        register_user_type::<Kind<39>>();
        let more = MORE_USER_TYPES.read().unwrap().len();
        assert!(more >= 8, "{more}");
        let mut ext = Extensions::new();
        insert_identity(&mut ext, Identity::new(Kind::<2>, Some("early".into())));
        assert_eq!(
            Username::from_extensions(&ext),
            Ok(Username("early".to_owned()))
        );
        let mut ext = Extensions::new();
        insert_identity(&mut ext, Identity::new(Kind::<39>, Some("late".into())));
        assert_eq!(
            Username::from_extensions(&ext),
            Ok(Username("late".to_owned()))
        );
        let err = CurrentUser::<u8>::from_extensions(&ext).unwrap_err();
        assert!(
            err.found().is_some_and(|t| t.ends_with("Kind<39>")),
            "{err}"
        );
    }
}
