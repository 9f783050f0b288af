//! httpauth in front of a tonic gRPC server: the standard health service
//! (`grpc.health.v1.Health`), Bearer tokens, a role for one method.
//!
//! ```text
//! cargo run -p example-grpc                      # PORT=50051 by default
//! grpcurl -plaintext -H 'authorization: Bearer secret-token-1' \
//!     127.0.0.1:50051 grpc.health.v1.Health/Check
//! ```
//!
//! - `secret-token-1` is john (role `user`), `secret-token-2` is susan (role `admin`).
//! - `Check` needs any user; `Watch` needs `admin`. tonic's router is an axum router, so each
//!   method path gets its own layer: `/grpc.health.v1.Health/Watch` the admin one, every other
//!   method of the service the any-user one.
//! - Refusals are gRPC statuses ([`httpauth::grpc`]): no or a wrong token `UNAUTHENTICATED`,
//!   john on `Watch` `PERMISSION_DENIED`, more than 10 failures from one address in 15 minutes
//!   `RESOURCE_EXHAUSTED`.
//! - The throttle counts failures per client address, so it needs the address: tonic puts it
//!   in the request extensions as its own `TcpConnectInfo`, which `Throttle::client_addr_fn`
//!   reads.

use httpauth::{Throttle, TokenAuth};
use tonic::service::Routes;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming};
use tonic::transport::Server;
use tower::Layer as _;

/// The application's user, as the token callback returns it.
#[derive(Clone, Debug)]
struct User {
    #[allow(dead_code)] // shown by Debug; a real service reads it in its handlers
    name: &'static str,
    role: &'static str,
}

/// The tokens this server knows (a real one would look them up in a store).
fn user_for_token(token: &str) -> Option<User> {
    match token {
        "secret-token-1" => Some(User {
            name: "john",
            role: "user",
        }),
        "secret-token-2" => Some(User {
            name: "susan",
            role: "admin",
        }),
        _ => None,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 50051,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);

    let (_reporter, health) = tonic_health::server::health_reporter();
    // 10 failures per address (the default is 100): low, so the example shows it. The
    // address is tonic's.
    let throttle = Throttle::new()
        .max_failures_per_addr(10)
        .client_addr_fn(|extensions| {
            let info = extensions.get::<TcpConnectInfo>()?;
            info.remote_addr().map(|addr| addr.ip())
        });
    let auth = TokenAuth::verify_token_sync(user_for_token)
        .user_roles_sync(|user: &User| user.role)
        .throttle(throttle);
    let any_user = auth.login_required().grpc();
    let admin = auth.login_required().role("admin").grpc();

    let router = axum::Router::new()
        .route_service("/grpc.health.v1.Health/Watch", admin.layer(health.clone()))
        .route_service("/grpc.health.v1.Health/{*method}", any_user.layer(health));

    Server::builder()
        .add_routes(Routes::from(router))
        .serve_with_incoming(TcpIncoming::from(listener))
        .await?;
    Ok(())
}
