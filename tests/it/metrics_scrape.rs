//! The metrics over real HTTP: the demo binary with `--metrics`, known requests, then a scrape
//! of `/metrics` (Prometheus text) whose counters, histograms and gauges say exactly what
//! happened, and never name a user or an address.

use crate::common::{basic, get_from, loopback, start_demo};

/// The value of the sample `name{labels}` in a scrape (0 when absent).
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_scrape_counts_each_decision_by_outcome_scheme_and_reason() {
    let (_demo, base) = start_demo(
        &[
            "--port",
            "0",
            "--metrics",
            "--max-failures-per-user",
            "2",
            "--max-failures-per-addr",
            "0",
        ],
        None,
    );
    let (a, b) = (loopback(301), loopback(302));
    let get = |from, path: &'static str, auth: Option<String>| {
        let url = format!("{base}{path}");
        async move {
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|v| vec![("authorization", v)])
                .unwrap_or_default();
            get_from(from, &url, &headers).await.0
        }
    };
    let (hello, wrong) = (Some(basic("john", "hello")), Some(basic("susan", "wrong")));
    assert_eq!(get(a, "/basic", hello.clone()).await, 200);
    assert_eq!(get(a, "/basic", hello.clone()).await, 200);
    assert_eq!(get(a, "/admin", hello.clone()).await, 403);
    assert_eq!(get(a, "/basic", None).await, 401);
    assert_eq!(
        get(a, "/token", Some("Bearer secret-token-2".into())).await,
        200
    );
    assert_eq!(get(a, "/token", Some("Bearer nope".into())).await, 401);
    // susan: two wrong passwords, then her username is blocked (429), from any address.
    assert_eq!(get(a, "/basic", wrong.clone()).await, 401);
    assert_eq!(get(b, "/basic", wrong.clone()).await, 401);
    assert_eq!(get(b, "/basic", wrong.clone()).await, 429);
    assert_eq!(get(a, "/public", None).await, 200);

    let scrape = get(a, "/metrics", None).await;
    assert_eq!(scrape, 200);
    let (_, _, text) = get_from(a, &format!("{base}/metrics"), &[]).await;
    let counter = |labels: &str| sample(&text, &format!("httpauth_decisions_total{{{labels}}}"));
    assert_eq!(
        counter(r#"outcome="allowed",scheme="Basic",reason="none""#),
        2.0
    );
    assert_eq!(
        counter(r#"outcome="allowed",scheme="Bearer",reason="none""#),
        1.0
    );
    assert_eq!(
        counter(r#"outcome="forbidden",scheme="Basic",reason="forbidden""#),
        1.0
    );
    assert_eq!(
        counter(r#"outcome="refused",scheme="",reason="missing_credentials""#),
        1.0
    );
    assert_eq!(
        counter(r#"outcome="refused",scheme="Bearer",reason="invalid_credentials""#),
        1.0
    );
    assert_eq!(
        counter(r#"outcome="refused",scheme="Basic",reason="invalid_credentials""#),
        2.0
    );
    assert_eq!(
        counter(r#"outcome="throttled",scheme="Basic",reason="too_many_attempts""#),
        1.0
    );
    let decisions: f64 = text
        .lines()
        .filter(|l| l.starts_with("httpauth_decisions_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(
        decisions, 9.0,
        "one per decision, none for /public:\n{text}"
    );

    // Verification time: every verified request (not the 401 without credentials, not the 429).
    let verified = sample(
        &text,
        r#"httpauth_verify_duration_seconds_count{scheme="Basic"}"#,
    ) + sample(
        &text,
        r#"httpauth_verify_duration_seconds_count{scheme="Bearer"}"#,
    );
    assert_eq!(verified, 7.0, "{text}");
    assert!(text.contains(r#"httpauth_verify_duration_seconds_bucket{scheme="Basic",le="+Inf"} 5"#));
    // The hashing pool: john's first check and susan's two wrong ones hashed (the rest were
    // cache hits or tokens).
    assert_eq!(
        sample(&text, "httpauth_hash_pool_wait_seconds_count"),
        3.0,
        "{text}"
    );
    assert_eq!(sample(&text, "httpauth_hash_pool_queue_depth"), 0.0);
    // The cache: john hit twice (/basic, /admin) after one miss; susan missed twice.
    assert_eq!(
        sample(&text, r#"httpauth_cache_lookups_total{result="hit"}"#),
        2.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"httpauth_cache_lookups_total{result="miss"}"#),
        3.0
    );
    assert_eq!(sample(&text, "httpauth_cache_entries"), 1.0);
    assert_eq!(sample(&text, "httpauth_cache_hit_ratio"), 0.4);
    // susan's username is blocked; no address is.
    assert_eq!(
        sample(&text, r#"httpauth_throttle_blocked_keys{key="user"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"httpauth_throttle_blocked_keys{key="addr"}"#),
        0.0
    );
    // Never a user or an address in a label.
    for secret in ["john", "susan", "127.0.", "secret-token"] {
        assert!(!text.contains(secret), "{secret} in\n{text}");
    }
}
