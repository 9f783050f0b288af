//! The audit events over real HTTP against the demo binary: one event per decision, successes
//! included, with the documented fields (`--log-format json`: JSON lines on stdout), and the
//! fail2ban filters of docs/deployment.md run by fail2ban's own `fail2ban-regex` against
//! that output (JSON and text), including a username and a path written to frame another
//! address.

use std::net::IpAddr;

use crate::common::{basic, get_from, loopback, LoggedDemo};

/// The demo with 2 failures per client address (none per username), so the third is a 429.
fn demo(extra: &[&str], env: &[(&str, &str)]) -> LoggedDemo {
    let mut args = vec![
        "--port",
        "0",
        "--max-failures-per-user",
        "0",
        "--max-failures-per-addr",
        "2",
    ];
    args.extend(extra);
    LoggedDemo::start(&args, env)
}

/// The requests both formats are checked with; returns the addresses that failed, once per
/// failure (the ones fail2ban must count).
async fn traffic(base: &str) -> Vec<IpAddr> {
    let (guesser, framer, user) = (loopback(201), loopback(202), loopback(203));
    let wrong = basic("john", "wrong");
    for expected in [401, 401, 429] {
        let (status, ..) = get_from(
            guesser,
            &format!("{base}/basic"),
            &[("authorization", &wrong)],
        )
        .await;
        assert_eq!(status, expected);
    }
    // A username and a path that try to name another client in the log line.
    let forged = basic("x\" client=\"198.51.100.66", "wrong");
    let url = format!("{base}/basic/client=%22198.51.100.66%22");
    let (status, ..) = get_from(framer, &url, &[("authorization", &forged)]).await;
    assert_eq!(status, 404, "no such route: no authentication, no event");
    let (status, ..) = get_from(
        framer,
        &format!("{base}/token"),
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, ..) = get_from(
        framer,
        &format!("{base}/basic"),
        &[("authorization", &forged)],
    )
    .await;
    assert_eq!(status, 401);
    let hello = basic("john", "hello");
    let (status, ..) = get_from(
        user,
        &format!("{base}/basic?token=do-not-log"),
        &[("authorization", &hello)],
    )
    .await;
    assert_eq!(status, 200);
    let (status, ..) = get_from(user, &format!("{base}/admin"), &[("authorization", &hello)]).await;
    assert_eq!(status, 403);
    let (status, ..) = get_from(user, &format!("{base}/public"), &[]).await;
    assert_eq!(status, 200);
    vec![guesser, guesser, guesser, framer, framer]
}

/// The `[Definition]` filter of docs/deployment.md whose first line names `file`.
fn filter(file: &str) -> String {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deployment.md"))
        .unwrap();
    page.split("```ini\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.lines().next().is_some_and(|l| l.contains(file)))
        .unwrap_or_else(|| panic!("docs/deployment.md has no ```ini block for {file}"))
        .to_owned()
}

/// The addresses fail2ban's `fail2ban-regex` finds in `lines` with the documented filter
/// `file`.
fn fail2ban(lines: &[String], file: &str) -> Vec<IpAddr> {
    let dir = std::env::temp_dir().join(format!("httpauth-f2b-{}-{file}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (log, conf) = (dir.join("events.log"), dir.join(file));
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    std::fs::write(&conf, filter(file)).unwrap();
    let out = std::process::Command::new("fail2ban-regex")
        .args(["--out", "ip"])
        .arg(&log)
        .arg(&conf)
        .output()
        .expect("fail2ban-regex (apt-get install fail2ban; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    let mut ips: Vec<IpAddr> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.trim()
                .parse()
                .unwrap_or_else(|_| panic!("not an address: {l:?}"))
        })
        .collect();
    ips.sort();
    ips
}

#[tokio::test]
async fn every_decision_is_one_json_event_with_the_documented_fields() {
    let demo = demo(&["--log-format", "json"], &[]);
    let mut failed = traffic(&demo.base).await;
    failed.sort();
    let lines = demo.stdout_lines(7, |l| l.contains("\"target\":\"httpauth\""));
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events.len(), 7, "{lines:#?}");
    let field = |e: &serde_json::Value, name: &str| e[name].as_str().unwrap_or("").to_owned();
    let summary: Vec<[String; 6]> = events
        .iter()
        .map(|e| {
            [
                field(e, "message"),
                field(e, "outcome"),
                field(e, "scheme"),
                field(e, "user"),
                field(e, "client"),
                field(e, "url.path"),
            ]
        })
        .collect();
    let row = |m: &str, o: &str, s: &str, u: &str, c: IpAddr, p: &str| {
        [m, o, s, u, &c.to_string(), p].map(str::to_owned)
    };
    let (guesser, framer, user) = (loopback(201), loopback(202), loopback(203));
    let refused = "authentication refused";
    assert_eq!(
        summary,
        [
            row(refused, "refused", "Basic", "john", guesser, "/basic"),
            row(refused, "refused", "Basic", "john", guesser, "/basic"),
            row(refused, "throttled", "Basic", "john", guesser, "/basic"),
            row(refused, "refused", "Bearer", "", framer, "/token"),
            row(
                refused,
                "refused",
                "Basic",
                "x\\\" client=\\\"198.51.100.66",
                framer,
                "/basic"
            ),
            // The query (which may hold a token) is not logged.
            row(
                "authentication succeeded",
                "allowed",
                "Basic",
                "john",
                user,
                "/basic"
            ),
            row(refused, "forbidden", "Basic", "john", user, "/admin"),
        ]
    );
    assert_eq!(events[0]["status"], 401);
    assert_eq!(events[0]["error.type"], "invalid_credentials");
    assert_eq!(events[2]["status"], 429);
    assert_eq!(events[2]["error.type"], "too_many_attempts");
    assert_eq!(events[6]["error.type"], "forbidden");
    // The user is on the request's span (the demo declares `enduser.id`), so every event of
    // the request names them.
    assert_eq!(events[5]["span"]["enduser.id"], "john");
    assert!(lines
        .iter()
        .all(|l| !l.contains("do-not-log") && !l.contains("hello")));

    assert_eq!(fail2ban(&lines, "httpauth-json.conf"), failed);
}

#[tokio::test]
async fn the_text_filter_bans_the_same_addresses() {
    let demo = demo(&[], &[("DEMO_LOG", "info")]);
    let mut failed = traffic(&demo.base).await;
    failed.sort();
    let lines = demo.stderr_lines(7, |l| l.contains(" httpauth: "));
    assert_eq!(lines.len(), 7, "{lines:#?}");
    // The stable line, extended after the client.
    let stable = format!(
        "authentication refused status=401 reason=\"invalid credentials\" detail=\"\" \
         scheme=\"Basic\" user=\"john\" client=\"{}\" outcome=\"refused\"",
        loopback(201)
    );
    assert!(lines[0].contains(&stable), "{}", lines[0]);
    assert_eq!(fail2ban(&lines, "httpauth.conf"), failed);
}
