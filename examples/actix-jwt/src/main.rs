//! httpauth on actix-web with JSON Web Tokens: one route takes Basic or a Bearer JWT
//! (`MultiAuth`), and the roles come from the user (Basic) or the token's claims (Bearer).
//!
//! ```text
//! JWT_SECRET=... cargo run -p example-actix-jwt            # PORT=3000 by default
//! curl -u susan:bye http://127.0.0.1:3000/token             # a JWT for susan (1 hour)
//! curl -H "Authorization: Bearer $JWT" http://127.0.0.1:3000/admin
//! ```
//!
//! - `/`: any user, with Basic (john:hello, susan:bye) or a JWT;
//! - `/admin`: role `admin` (susan), from either;
//! - `/token`: Basic only, answers a signed JWT (HS256) carrying the user's name and roles.
//!
//! A JWT is checked (signature, `exp`) by `jsonwebtoken`; a token that fails is a 401 with
//! the Bearer challenge.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpServer};
use httpauth::password::{generate_password_hash, HashedPasswords};
use httpauth::{BasicAuth, CurrentUser, MultiAuth, TokenAuth};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The application's user, from either scheme.
#[derive(Clone, Debug)]
struct User {
    name: String,
    roles: Vec<String>,
}

/// The claims of the tokens this server issues.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    roles: Vec<String>,
    exp: u64,
}

/// How long an issued token is valid.
const TOKEN_LIFETIME_SECS: u64 = 3600;

async fn hello(CurrentUser(user): CurrentUser<User>) -> String {
    format!("Hello, {}!", user.name)
}

async fn admin(CurrentUser(user): CurrentUser<User>) -> String {
    format!("Hello {}, you are an admin!", user.name)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| {
        eprintln!("JWT_SECRET is not set: using an example secret");
        "example secret, change me".to_owned()
    });
    let encoding = EncodingKey::from_secret(secret.as_bytes());
    let decoding = DecodingKey::from_secret(secret.as_bytes());

    let hashes: HashedPasswords = [
        ("john", generate_password_hash("hello")),
        ("susan", generate_password_hash("bye")),
    ]
    .into_iter()
    .collect();
    let roles = HashMap::from([("john", vec!["user"]), ("susan", vec!["user", "admin"])]);
    let basic = BasicAuth::verify_password(hashes.map_user(move |name| {
        Some(User {
            name: name.to_owned(),
            roles: roles.get(name)?.iter().map(|r| r.to_string()).collect(),
        })
    }));
    let validation = Validation::new(Algorithm::HS256);
    let bearer = TokenAuth::verify_token_sync(move |token| {
        let data = jsonwebtoken::decode::<Claims>(token, &decoding, &validation).ok()?;
        Some(User {
            name: data.claims.sub,
            roles: data.claims.roles,
        })
    });
    // One roles callback for both schemes: the user carries its roles either way.
    let either = MultiAuth::new(basic.clone())
        .or(bearer)
        .user_roles_sync(|u: &User| u.roles.clone());
    let basic = basic.user_roles_sync(|u: &User| u.roles.clone());

    let issue = move |CurrentUser(user): CurrentUser<User>| {
        let encoding = encoding.clone();
        async move {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let claims = Claims {
                sub: user.name,
                roles: user.roles,
                exp: now + TOKEN_LIFETIME_SECS,
            };
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &encoding)
                .map_err(actix_web::error::ErrorInternalServerError)
        }
    };

    let port = std::env::var("PORT")
        .map_or(Ok(3000), |port| port.parse())
        .expect("PORT");
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on http://{}", listener.local_addr()?);
    HttpServer::new(move || {
        App::new()
            .service(web::resource("/").wrap(either.login_required()).get(hello))
            .service(
                web::resource("/admin")
                    .wrap(either.login_required().role("admin"))
                    .get(admin),
            )
            .service(
                web::resource("/token")
                    .wrap(basic.login_required())
                    .get(issue.clone()),
            )
    })
    .workers(2)
    .listen(listener)?
    .run()
    .await
}
