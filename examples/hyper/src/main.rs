//! httpauth on hyper alone: one connection loop, `hyper::server::conn::http1`, the tower layer
//! turned into a hyper service with `hyper_util::service::TowerToHyperService`.
//!
//! ```text
//! cargo run -p example-hyper                     # PORT=3000 by default
//! curl -u john:hello http://127.0.0.1:3000/      # Hello, john!
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use httpauth::password::{generate_password_hash, HashedPasswords};
use httpauth::{BasicAuth, CurrentUser};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower::ServiceBuilder;

/// The handler: a plain async function over hyper's types.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // The layer ran first: the user is in the request extensions.
    let text = match CurrentUser::<String>::from_extensions(req.extensions()) {
        Ok(CurrentUser(user)) => format!("Hello, {user}!"),
        Err(missing) => missing.to_string(),
    };
    Ok(Response::new(Full::from(text)))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let users: HashedPasswords = [
        ("john", generate_password_hash("hello")),
        ("susan", generate_password_hash("bye")),
    ]
    .into_iter()
    .collect();
    let auth = BasicAuth::verify_password(users);
    let login_required = auth.login_required();

    let port = std::env::var("PORT")
        .map_or(Ok(3000), |port| port.parse())
        .expect("PORT");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let service = ServiceBuilder::new()
            // The client address, a plain `SocketAddr` in the request extensions: httpauth
            // reads it for the per-address throttle and the refusal events.
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert::<SocketAddr>(peer);
                req
            })
            .layer(login_required.clone())
            .service_fn(hello);
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(err) = conn.await {
                eprintln!("connection from {peer}: {err}");
            }
        });
    }
}
