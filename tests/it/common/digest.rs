//! Digest test helpers: a hand-rolled RFC 7616 client (to build exact, and wrong, headers), the
//! challenge parser, and the real clients (curl, Python requests/httpx) as subprocesses.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

use httpauth::digest::Algorithm;

pub const REALM: &str = "Authentication Required";

/// The parameters of one `WWW-Authenticate: Digest ...` line.
pub fn parse_challenge(line: &str) -> HashMap<String, String> {
    let (scheme, rest) = line.split_once(' ').expect("a scheme");
    assert!(!scheme.is_empty());
    let params = httpauth::scheme::header::parse_params(rest).expect("a valid challenge");
    params
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect()
}

/// GETs `url` without credentials; returns (every challenge line, the first's parameters).
pub async fn challenge(url: &str) -> (Vec<String>, HashMap<String, String>) {
    let (status, lines, _) = crate::common::get(url, None).await;
    assert_eq!(status, 401, "{url}");
    let first = parse_challenge(&lines[0]);
    (lines, first)
}

/// A client that computes responses exactly as RFC 7616 §3.4 says.
#[derive(Clone, Debug)]
pub struct Client {
    pub user: String,
    pub password: String,
    pub realm: String,
    pub algorithm: Algorithm,
    /// `None`: RFC 2069 (no qop, nc, cnonce).
    pub qop: Option<String>,
    pub method: String,
    pub uri: String,
    pub cnonce: String,
    pub body: Vec<u8>,
}

impl Client {
    pub fn new(user: &str, password: &str, uri: &str) -> Self {
        Self {
            user: user.to_owned(),
            password: password.to_owned(),
            realm: REALM.to_owned(),
            algorithm: Algorithm::Md5,
            qop: Some("auth".to_owned()),
            method: "GET".to_owned(),
            uri: uri.to_owned(),
            cnonce: "0a4f113b".to_owned(),
            body: Vec::new(),
        }
    }

    pub fn algorithm(mut self, a: Algorithm) -> Self {
        self.algorithm = a;
        self
    }

    pub fn qop(mut self, q: Option<&str>) -> Self {
        self.qop = q.map(str::to_owned);
        self
    }

    pub fn realm(mut self, r: &str) -> Self {
        self.realm = r.to_owned();
        self
    }

    fn h(&self, parts: &[&[u8]]) -> String {
        self.algorithm.hash(parts).as_str().to_owned()
    }

    /// The `response` for this nonce and nc.
    pub fn response(&self, nonce: &str, nc: &str) -> String {
        self.kd(&self.method, nonce, nc)
    }

    /// The `rspauth` the server must send back for this request (RFC 7616 §3.5): the response
    /// computed with an empty method, `A2 = ":" uri` (`":" uri ":" H(body)` for `auth-int`).
    pub fn rspauth(&self, nonce: &str, nc: &str) -> String {
        self.kd("", nonce, nc)
    }

    /// `KD(HA1, nonce:nc:cnonce:qop:H(A2))` (RFC 2069: `KD(HA1, nonce:H(A2))`) with `A2`
    /// built from `method`.
    fn kd(&self, method: &str, nonce: &str, nc: &str) -> String {
        let mut ha1 = self.h(&[
            self.user.as_bytes(),
            self.realm.as_bytes(),
            self.password.as_bytes(),
        ]);
        if self.algorithm.is_session() {
            ha1 = self.h(&[ha1.as_bytes(), nonce.as_bytes(), self.cnonce.as_bytes()]);
        }
        let ha2 = if self.qop.as_deref() == Some("auth-int") {
            let body = self.h(&[&self.body]);
            self.h(&[method.as_bytes(), self.uri.as_bytes(), body.as_bytes()])
        } else {
            self.h(&[method.as_bytes(), self.uri.as_bytes()])
        };
        match &self.qop {
            Some(q) => self.h(&[
                ha1.as_bytes(),
                nonce.as_bytes(),
                nc.as_bytes(),
                self.cnonce.as_bytes(),
                q.as_bytes(),
                ha2.as_bytes(),
            ]),
            None => self.h(&[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]),
        }
    }

    /// Checks an `Authentication-Info` value as a client that sent this request with `nonce`
    /// and `nc` must (RFC 7616 §3.5): `rspauth` proves the server knows the secret, and
    /// `qop`, `nc` and `cnonce` are the request's. Returns the parameters (with `nextnonce`
    /// when the server sent one), or what is wrong.
    pub fn check_authentication_info(
        &self,
        value: &str,
        nonce: &str,
        nc: &str,
    ) -> Result<HashMap<String, String>, String> {
        let params: HashMap<String, String> = httpauth::scheme::header::parse_params(value)
            .map_err(|e| format!("not an auth-param list: {e:?}: {value}"))?
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        let get = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| format!("no {name} in {value}"))
        };
        let expected = self.rspauth(nonce, nc);
        if !get("rspauth")?.eq_ignore_ascii_case(&expected) {
            return Err(format!("rspauth is not {expected}: {value}"));
        }
        let qop = self
            .qop
            .as_deref()
            .ok_or("no qop: no Authentication-Info expected")?;
        for (name, want) in [("qop", qop), ("nc", nc), ("cnonce", self.cnonce.as_str())] {
            if get(name)? != want {
                return Err(format!("{name} is not {want}: {value}"));
            }
        }
        let known = ["rspauth", "qop", "nc", "cnonce", "nextnonce"];
        if let Some(other) = params.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("unexpected parameter {other}: {value}"));
        }
        Ok(params)
    }

    /// The parameters of the `Authorization` value, in the order the seed's tests send them
    /// (so single ones can be removed or replaced).
    pub fn params(&self, nonce: &str, opaque: &str, nc: &str) -> Vec<(String, String)> {
        let q = |v: &str| format!("\"{v}\"");
        let mut p = vec![
            ("username".to_owned(), q(&self.user)),
            ("realm".to_owned(), q(&self.realm)),
            ("nonce".to_owned(), q(nonce)),
            ("uri".to_owned(), q(&self.uri)),
            ("algorithm".to_owned(), self.algorithm.name().to_owned()),
        ];
        if let Some(qop) = &self.qop {
            p.push(("qop".to_owned(), qop.clone()));
            p.push(("nc".to_owned(), nc.to_owned()));
            p.push(("cnonce".to_owned(), q(&self.cnonce)));
        } else if self.algorithm.is_session() {
            p.push(("cnonce".to_owned(), q(&self.cnonce)));
        }
        p.push(("response".to_owned(), q(&self.response(nonce, nc))));
        p.push(("opaque".to_owned(), q(opaque)));
        p
    }

    pub fn header(&self, nonce: &str, opaque: &str, nc: &str) -> String {
        join(&self.params(nonce, opaque, nc))
    }

    /// The header answering a parsed challenge.
    pub fn answer(&self, challenge: &HashMap<String, String>, nc: &str) -> String {
        self.header(&challenge["nonce"], &challenge["opaque"], nc)
    }
}

/// Sends `method url` with these headers and body; returns (status, every
/// `Authentication-Info` value, body).
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<String>, String) {
    let mut req = crate::common::client()
        .request(method.parse().unwrap(), url)
        .body(body.to_vec());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let info = res
        .headers()
        .get_all("authentication-info")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (status, info, res.text().await.unwrap())
}

/// `Digest k=v, k=v, ...`.
pub fn join(params: &[(String, String)]) -> String {
    let body: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("Digest {}", body.join(", "))
}

async fn run(program: &str, args: &[&str]) -> (String, String, bool) {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(program)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{program} timed out"))
    .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

/// `curl --digest -u user:password url` with no cookie jar; returns (status, body).
pub async fn curl_digest(url: &str, user: &str, password: &str, extra: &[&str]) -> (u16, String) {
    let userpass = format!("{user}:{password}");
    let mut args = vec![
        "-s",
        "--digest",
        "-u",
        &userpass,
        "-w",
        "\n%{http_code}",
        "--max-time",
        "20",
    ];
    args.extend_from_slice(extra);
    args.push(url);
    let (out, err, _) = run("curl", &args).await;
    let (body, code) = out
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("curl: {out} {err}"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Runs a Python snippet; returns its stdout (panics with stderr when it fails).
pub async fn python(script: &str) -> String {
    let (out, err, ok) = run("python3", &["-c", script]).await;
    assert!(ok, "python failed:\n{script}\n{err}");
    out
}

/// `curl --digest -v`: returns (the final status, curl's verbose log, where the response
/// headers are the lines starting with `< `).
pub async fn curl_digest_verbose(url: &str, user: &str, password: &str) -> (u16, String) {
    let userpass = format!("{user}:{password}");
    let args = [
        "-sv",
        "--digest",
        "-u",
        &userpass,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "20",
        url,
    ];
    let (out, err, _) = run("curl", &args).await;
    (out.trim().parse().unwrap_or(0), err)
}
