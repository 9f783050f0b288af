//! The RFC 9110 credentials grammar on arbitrary bytes: never panics, and what it accepts is
//! consistent (a token68 has no spaces, params have unique names).
#![no_main]

use httpauth::scheme::header::{parse, Payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(creds) = parse(data) {
        assert!(!creds.scheme().is_empty());
        match creds.payload() {
            Payload::Token68(t) => {
                assert!(!t.contains(' ') && httpauth::scheme::header::is_token68(t))
            }
            Payload::Params(p) => {
                let names: Vec<String> = p.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
                let mut unique = names.clone();
                unique.sort();
                unique.dedup();
                assert_eq!(unique.len(), names.len(), "duplicate parameter accepted");
            }
            Payload::Empty => {}
        }
    }
});
