//! A short string kept inline: credentials of ordinary size are parsed without allocating.

/// Text of at most [`INLINE`] bytes kept inline; longer text on the heap.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SmallText(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Inline([u8; INLINE], u8),
    Heap(Box<str>),
}

/// Text of at most this many bytes is kept inline.
const INLINE: usize = 94;

impl SmallText {
    /// The parts, one after the other.
    pub(crate) fn concat(parts: &[&str]) -> Self {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        match u8::try_from(len) {
            Ok(short) if len <= INLINE => {
                let mut buf = [0_u8; INLINE];
                let mut at = 0;
                for part in parts {
                    buf[at..at + part.len()].copy_from_slice(part.as_bytes());
                    at += part.len();
                }
                Self(Repr::Inline(buf, short))
            }
            _ => Self(Repr::Heap(parts.concat().into_boxed_str())),
        }
    }

    /// The text.
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        match &self.0 {
            // Only ever filled from whole `&str`s, so always UTF-8.
            Repr::Inline(buf, len) => std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or(""),
            Repr::Heap(text) => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SmallText;

    #[test]
    fn inline_and_heap() {
        assert_eq!(
            SmallText::concat(&["john", ":", "hello"]).as_str(),
            "john:hello"
        );
        let long = "é".repeat(60);
        assert_eq!(
            SmallText::concat(&[&long, ":x"]).as_str(),
            format!("{long}:x")
        );
        assert_eq!(SmallText::concat(&[]).as_str(), "");
    }
}
