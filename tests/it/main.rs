//! The integration tests, one binary (it links once): real HTTP against real servers and
//! clients. Each module is one former test file.

mod common;
#[path = "common/digest.rs"]
mod digest_client;

// The demo's own modules, so its router is tested in-process.
#[allow(dead_code)]
#[path = "../../examples/demo/app.rs"]
mod app;
#[allow(dead_code)]
#[path = "../../examples/demo/digest.rs"]
mod digest;
#[allow(dead_code)]
#[path = "../../examples/demo/users.rs"]
mod users;

mod accounting;
#[cfg(feature = "actix")]
mod actix_parity;
mod audit_events;
mod client_addr;
mod conformance_basic;
mod demo;
mod digest_auth_info;
mod digest_clients;
mod digest_nest;
mod digest_replay;
#[cfg(feature = "redis")]
mod digest_rotation;
mod digest_seed;
mod digest_wire;
mod examples;
mod fallible;
mod grpc;
mod hostile_basic;
mod hostile_policy;
mod htpasswd_demo;
mod htpasswd_files;
#[cfg(feature = "metrics")]
mod metrics_scrape;
mod own_scheme;
mod password_cache;
mod password_hashes;
mod policy_settings;
mod proxy_chains;
#[cfg(feature = "redis")]
mod redis_admission;
#[cfg(feature = "redis")]
mod redis_clocks;
#[cfg(feature = "redis")]
mod redis_tls_cluster;
#[cfg(feature = "redis")]
mod redis_two_instances;
mod seed_basic;
mod seed_multi;
mod seed_token;
mod slow_clients;
mod smart_lockout;
mod throttle;
