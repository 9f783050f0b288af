//! The demo binary started with `--htpasswd FILE` (a file written by Apache's `htpasswd -B`,
//! `-m`, `-s`, `-5`, `-2` plus a werkzeug `pbkdf2:sha256:600000` line), driven with `curl -u`
//! over real HTTP: each user gets in, wrong passwords and the built-in users get 401.
//!
//! Needs `target/<profile>/examples/demo` (`cargo build --examples`), `curl`, `htpasswd` and
//! werkzeug (all installed by `scripts/test.sh`).

use crate::common;

use std::io::Write as _;
use std::process::Command;

fn start_demo_with(args: &[&str]) -> (common::Running, String) {
    common::start_demo(args, Some("0"))
}

/// `curl -s -u user:pass url` → (status, body).
fn curl(credentials: &str, url: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-u", credentials, url])
        .output()
        .expect("curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.to_owned(), body.to_owned())
}

#[test]
fn demo_with_htpasswd_file() {
    let dir = std::env::temp_dir().join(format!("httpauth-demo-htpasswd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("htpasswd");
    let users = [
        ("bcrypt", "-B", "pw-b"),
        ("md5", "-m", "pw-m"),
        ("sha1", "-s", "pw-s"),
        ("sha512", "-5", "pw-5"),
        ("sha256", "-2", "pw-2"),
    ];
    for (i, (user, flag, password)) in users.iter().enumerate() {
        common::htpasswd(&path, i == 0, &[flag], user, password);
    }
    let flask = common::werkzeug("pbkdf2:sha256:600000", "pw-flask");
    assert!(flask.starts_with("pbkdf2:sha256:600000$"));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(format!("flask:{flask}\n").as_bytes())
        .unwrap();

    let (_demo, base) = start_demo_with(&["--htpasswd", path.to_str().unwrap()]);
    let all = users
        .iter()
        .map(|(u, _, p)| (*u, *p))
        .chain([("flask", "pw-flask")]);
    for (user, password) in all {
        let ok = curl(&format!("{user}:{password}"), &format!("{base}/basic"));
        assert_eq!(ok, ("200".to_owned(), format!("Hello, {user}!")), "{user}");
        // Again (from the cache).
        let ok = curl(&format!("{user}:{password}"), &format!("{base}/basic"));
        assert_eq!(ok.0, "200", "{user}");
        let wrong = curl(&format!("{user}:{password}x"), &format!("{base}/basic"));
        assert_eq!(wrong.0, "401", "{user}");
        // File users have no roles.
        let admin = curl(&format!("{user}:{password}"), &format!("{base}/admin"));
        assert_eq!(admin.0, "403", "{user}");
    }
    // The built-in users are not there.
    assert_eq!(curl("john:hello", &format!("{base}/basic")).0, "401");
    // Other Basic routes use the file too.
    assert_eq!(
        curl("md5:pw-m", &format!("{base}/optional")).1,
        "Hello, md5!"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_refuses_a_missing_htpasswd_file() {
    let out = Command::new(common::demo_binary())
        .args(["--htpasswd", "/nonexistent/htpasswd"])
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/htpasswd"));
}
