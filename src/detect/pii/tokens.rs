//! Scanners for token-shaped PII: emails, API keys, JWTs, PEM private keys.

use std::ops::Range;

use memchr::memmem;
use regex::Regex;

use super::validate::{is_word, jwt_header_ok, next_char, prev_char};
use super::{PiiKind, PiiMatch};

/// Dot-atom-ish local part (common characters only), `@`, dotted domain.
pub(super) const EMAIL: &str = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*";

/// Provider key formats; the provider is told by the prefix (see [`provider`]).
pub(super) const API_KEY: &str = concat!(
    r"sk-ant-[A-Za-z0-9_\-]{32,}",
    r"|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{32,}",
    r"|sk-[A-Za-z0-9]{32,}",
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
    r"|A(?:KIA|SIA)[A-Z0-9]{16}",
    r"|gh[pousr]_[A-Za-z0-9]{36,}",
    r"|github_pat_[A-Za-z0-9_]{40,}",
    r"|xox[baprs]-[A-Za-z0-9\-]{10,}",
    r"|AIza[A-Za-z0-9_\-]{35}",
    r"|glpat-[A-Za-z0-9_\-]{20,}",
    r"|hf_[A-Za-z0-9]{30,}",
);

/// `Bearer <token>` as in an Authorization header; group 1 is the token.
pub(super) const BEARER: &str = r"(?i:bearer)[ \t]+([A-Za-z0-9._~+/\-]{20,}=*)";

/// Three base64url segments, the header starting with `{"` (`eyJ`).
pub(super) const JWT: &str = r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]*";

/// PEM private key header line (PKCS#1/#8, EC, OpenSSH, encrypted, PGP).
pub(super) const PEM_BEGIN: &str = r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----";

fn push(out: &mut Vec<PiiMatch>, kind: PiiKind, span: Range<usize>, detail: Option<&'static str>) {
    out.push(PiiMatch { kind, span, detail });
}

/// Emails: local part without leading/trailing/double dots (at most 64
/// bytes), domain of at least two labels ending in an alphabetic TLD. A
/// trailing non-alphabetic label (`a@b.com.123`) is cut off.
pub(super) fn emails(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    if memchr::memchr(b'@', text.as_bytes()).is_none() {
        return;
    }
    for m in re.find_iter(text) {
        let s = m.as_str();
        let Some(at) = s.find('@') else { continue };
        let (local, domain) = (
            s.get(..at).unwrap_or_default(),
            s.get(at + 1..).unwrap_or_default(),
        );
        let trimmed = local.trim_start_matches(['.', '+', '%', '-']);
        let start = m.start() + (local.len() - trimmed.len());
        if trimmed.is_empty()
            || trimmed.len() > 64
            || trimmed.ends_with('.')
            || trimmed.contains("..")
        {
            continue;
        }
        let Some(domain_len) = domain_extent(domain) else {
            continue;
        };
        push(
            out,
            PiiKind::Email,
            start..m.start() + at + 1 + domain_len,
            None,
        );
    }
}

/// Length of the longest prefix of `domain` that ends with an alphabetic
/// TLD of 2-63 letters after at least one dot.
fn domain_extent(domain: &str) -> Option<usize> {
    if domain.len() > 253 {
        return None;
    }
    let mut end = domain.len();
    loop {
        let head = domain.get(..end)?;
        let dot = head.rfind('.')?;
        let tld = head.get(dot + 1..)?;
        if (2..=63).contains(&tld.len()) && tld.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Some(end);
        }
        end = dot;
    }
}

/// Provider name for a key matched by [`API_KEY`].
fn provider(key: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("sk-ant-", "anthropic"),
        ("sk-", "openai"),
        ("sk_", "stripe"),
        ("rk_", "stripe"),
        ("AKIA", "aws"),
        ("ASIA", "aws"),
        ("gh", "github"),
        ("github_pat_", "github"),
        ("xox", "slack"),
        ("AIza", "google"),
        ("glpat-", "gitlab"),
        ("hf_", "huggingface"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| key.starts_with(p))
        .map_or("unknown", |&(_, name)| name)
}

/// API keys of known providers, not glued to surrounding alphanumerics;
/// Slack tokens must contain a digit.
pub(super) fn api_keys(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    for m in re.find_iter(text) {
        let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if glued(prev_char(text, m.start())) || glued(next_char(text, m.end())) {
            continue;
        }
        let name = provider(m.as_str());
        if name == "slack" && !m.as_str().bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        push(out, PiiKind::ApiKey, m.range(), Some(name));
    }
}

/// `Bearer` tokens (detail `"bearer"`): the span is the token, which must
/// mix letters and digits.
pub(super) fn bearer_tokens(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    for caps in re.captures_iter(text) {
        let (Some(all), Some(token)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let t = token.as_str().as_bytes();
        if prev_char(text, all.start()).is_some_and(is_word)
            || !t.iter().any(u8::is_ascii_digit)
            || !t.iter().any(u8::is_ascii_alphabetic)
        {
            continue;
        }
        push(out, PiiKind::ApiKey, token.range(), Some("bearer"));
    }
}

/// JWTs whose header decodes to a JSON object with an `alg` member.
pub(super) fn jwts(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    if memmem::find(text.as_bytes(), b"eyJ").is_none() {
        return;
    }
    for m in re.find_iter(text) {
        if prev_char(text, m.start()).is_some_and(|c| is_word(c) || c == '-' || c == '.') {
            continue;
        }
        let header = m.as_str().split('.').next().unwrap_or_default();
        if jwt_header_ok(header) {
            push(out, PiiKind::Jwt, m.range(), None);
        }
    }
}

/// PEM private keys: from the BEGIN line through the matching END line.
/// Without an END line (text cut mid-key, e.g. a streamed chunk) the span
/// runs over the following base64 body (base64 characters, whitespace,
/// header lines' `:`/`,`/`-` and escaped `\n`) so the key material is still
/// covered.
pub(super) fn private_keys(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    let bytes = text.as_bytes();
    if memmem::find(bytes, b"-----BEGIN").is_none() {
        return;
    }
    let mut at = 0;
    while let Some(m) = re.find_at(text, at) {
        let body = bytes.get(m.end()..).unwrap_or_default();
        let end = match memmem::find(body, b"-----END ") {
            Some(i) => {
                let after = m.end() + i + 9;
                let tail = bytes.get(after..).unwrap_or_default();
                let close = tail.iter().take(80).position(|&b| b == b'\n');
                let line = tail
                    .get(..close.unwrap_or(tail.len().min(80)))
                    .unwrap_or_default();
                match memmem::find(line, b"-----") {
                    Some(j) => after + j + 5,
                    None => after + line.len(),
                }
            }
            None => {
                let is_body = |b: &u8| {
                    b.is_ascii_alphanumeric() || b.is_ascii_whitespace() || b"+/=:,-\\".contains(b)
                };
                m.end() + body.iter().position(|b| !is_body(b)).unwrap_or(body.len())
            }
        };
        let mut end = end.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let end = trim_trailing_ws(text, m.start(), end);
        push(out, PiiKind::PrivateKey, m.start()..end, None);
        at = end.max(m.end());
    }
}

/// Moves `end` back over trailing whitespace, not before `start`.
fn trim_trailing_ws(text: &str, start: usize, end: usize) -> usize {
    let s = text.get(start..end).unwrap_or_default();
    start + s.trim_end().len()
}
