//! PII and secret detectors, compiled once for a chosen set of kinds.
//!
//! Each kind has a candidate regex (ASCII classes only, no look-around)
//! followed by checks in code: boundaries, separators and checksums. The
//! rules, in short (details on the scanner functions):
//!
//! * `email`: pragmatic RFC 5322 subset: ASCII dot-atom local part of
//!   `A-Z a-z 0-9 . _ % + -` (no quoted local parts), a domain with at least
//!   one dot and an alphabetic TLD (no IP-literal domains).
//! * `phone`: `+` followed by 8-15 digits with single ` `, `.`, `-`
//!   separators and at most one parenthesised group (`+1 (415) 555-0132`,
//!   `+44 20 7946 0958`); or North American numbers with separators
//!   (`(555) 123-4567`, `555-123-4567`, `555.123.4567`, `1-800-555-0199`),
//!   area code 2-9xx, the two separators alike unless the area code is in
//!   parentheses. Bare digit runs (`4155550132`) are not phones: too many
//!   order numbers and ids look like that. Never inside a longer number
//!   (`12-555-123-4567`), never a valid card number.
//! * `credit_card`: 13-19 digits, optionally grouped by single spaces or
//!   dashes, Luhn-valid, with an issuer prefix whose length rule agrees
//!   (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay; the network is
//!   the match's `detail`).
//! * `iban`: uppercase country code with a known length, mod-97 == 1; compact
//!   or in groups of four separated by single spaces.
//! * `us_ssn`: `AAA-GG-SSSS` or `AAA GG SSSS` (same separator twice); area
//!   000, 666 and 900-999, group 00 and serial 0000 are never issued and are
//!   rejected. Bare nine-digit runs are not reported (they are mostly not
//!   SSNs).
//! * `ipv4`: four dotted octets 0-255, not part of a longer dotted run such
//!   as the version `1.2.3.4.5`.
//! * `ipv6`: full, compressed and IPv4-suffixed forms that parse as
//!   [`std::net::Ipv6Addr`] and contain a decimal digit.
//! * `api_key`: OpenAI, Anthropic, AWS access key ids, GitHub, Slack, Stripe,
//!   Google, GitLab and Hugging Face formats, plus `Bearer <token>`; the
//!   provider is the match's `detail`.
//! * `jwt`: three base64url segments whose header decodes to a JSON object
//!   with an `"alg"` member.
//! * `private_key`: a PEM `-----BEGIN ... PRIVATE KEY-----` block through its
//!   END line, as one span.
//!
//! Overlapping matches of different kinds are resolved by keeping the more
//! specific one: private key, JWT, provider API key, bearer token, email,
//! IBAN, card, SSN, IPv6, IPv4, phone (in that order), so a card number is
//! not also reported as a phone and a JWT after `Bearer` is a JWT.

mod numeric;
mod tokens;
mod validate;

use std::ops::Range;

use regex::Regex;

/// Kinds of personal data and secrets that [`PiiDetector`] finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    /// Email address.
    Email,
    /// Phone number (international `+` form or North American).
    Phone,
    /// Payment card number (Luhn-valid, known issuer).
    CreditCard,
    /// International bank account number (mod-97 valid).
    Iban,
    /// US social security number with separators.
    UsSsn,
    /// IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
    /// API key or bearer token; the provider is in [`PiiMatch::detail`].
    ApiKey,
    /// JSON Web Token.
    Jwt,
    /// PEM private key block.
    PrivateKey,
}

impl PiiKind {
    /// Every kind, in declaration order.
    pub const ALL: [PiiKind; 10] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::CreditCard,
        PiiKind::Iban,
        PiiKind::UsSsn,
        PiiKind::Ipv4,
        PiiKind::Ipv6,
        PiiKind::ApiKey,
        PiiKind::Jwt,
        PiiKind::PrivateKey,
    ];

    /// Stable snake_case name used in policies (`"credit_card"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::CreditCard => "credit_card",
            PiiKind::Iban => "iban",
            PiiKind::UsSsn => "us_ssn",
            PiiKind::Ipv4 => "ipv4",
            PiiKind::Ipv6 => "ipv6",
            PiiKind::ApiKey => "api_key",
            PiiKind::Jwt => "jwt",
            PiiKind::PrivateKey => "private_key",
        }
    }

    /// The kind whose [`Self::name`] is exactly `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        PiiKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Rank for overlap resolution: higher wins.
    fn rank(self, detail: Option<&str>) -> u8 {
        match self {
            PiiKind::PrivateKey => 10,
            PiiKind::Jwt => 9,
            PiiKind::ApiKey if detail == Some("bearer") => 7,
            PiiKind::ApiKey => 8,
            PiiKind::Email => 6,
            PiiKind::Iban => 5,
            PiiKind::CreditCard => 4,
            PiiKind::UsSsn => 3,
            PiiKind::Ipv6 => 2,
            PiiKind::Ipv4 => 1,
            PiiKind::Phone => 0,
        }
    }
}

/// One detected item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiMatch {
    /// What was found.
    pub kind: PiiKind,
    /// Byte range in the searched text.
    pub span: Range<usize>,
    /// Extra information: card network (`"visa"`, ...) for cards, provider
    /// (`"openai"`, `"aws"`, `"bearer"`, ...) for API keys, else `None`.
    pub detail: Option<&'static str>,
}

/// Compiled regexes for the enabled kinds (`None` when disabled).
#[derive(Debug, Clone, Default)]
struct Compiled {
    email: Option<Regex>,
    phone: Option<(Regex, Regex)>,
    card: Option<Regex>,
    iban: Option<Regex>,
    ssn: Option<Regex>,
    ipv4: Option<Regex>,
    ipv6: Option<Regex>,
    api_key: Option<(Regex, Regex)>,
    jwt: Option<Regex>,
    private_key: Option<Regex>,
}

/// Detector for a fixed set of kinds; build once, share, call
/// [`Self::find_all`] per text.
#[derive(Debug, Clone)]
pub struct PiiDetector {
    kinds: Vec<PiiKind>,
    re: Compiled,
}

/// Compiles a built-in pattern; they are all tested to compile, so failure
/// (which would disable that kind) cannot happen in practice.
fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

impl PiiDetector {
    /// Compiles the detectors for `kinds` (duplicates are ignored).
    pub fn new(kinds: &[PiiKind]) -> PiiDetector {
        let mut kinds = kinds.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        let mut re = Compiled::default();
        for &kind in &kinds {
            match kind {
                PiiKind::Email => re.email = compile(tokens::EMAIL),
                PiiKind::Phone => {
                    re.phone = compile(numeric::PHONE_INTL).zip(compile(numeric::PHONE_NANP))
                }
                PiiKind::CreditCard => re.card = compile(numeric::CARD),
                PiiKind::Iban => re.iban = compile(numeric::IBAN),
                PiiKind::UsSsn => re.ssn = compile(numeric::SSN),
                PiiKind::Ipv4 => re.ipv4 = compile(numeric::IPV4),
                PiiKind::Ipv6 => re.ipv6 = compile(numeric::IPV6),
                PiiKind::ApiKey => {
                    re.api_key = compile(tokens::API_KEY).zip(compile(tokens::BEARER))
                }
                PiiKind::Jwt => re.jwt = compile(tokens::JWT),
                PiiKind::PrivateKey => re.private_key = compile(tokens::PEM_BEGIN),
            }
        }
        PiiDetector { kinds, re }
    }

    /// The kinds this detector looks for, sorted.
    pub fn kinds(&self) -> &[PiiKind] {
        &self.kinds
    }

    /// Appends every match in `text` to `out`, sorted by position, with
    /// overlaps between kinds resolved (see the module docs).
    pub fn find_all(&self, text: &str, out: &mut Vec<PiiMatch>) {
        let base = out.len();
        let re = &self.re;
        if let Some(r) = &re.private_key {
            tokens::private_keys(r, text, out);
        }
        if let Some(r) = &re.jwt {
            tokens::jwts(r, text, out);
        }
        if let Some((keys, bearer)) = &re.api_key {
            tokens::api_keys(keys, text, out);
            tokens::bearer_tokens(bearer, text, out);
        }
        if let Some(r) = &re.email {
            tokens::emails(r, text, out);
        }
        // Number-shaped kinds need a minimum count of digits; prose rarely
        // has that many, and counting is much cheaper than scanning.
        let digits = count_digits(text.as_bytes());
        if let Some(r) = gate(&re.iban, digits >= 2) {
            numeric::ibans(r, text, out);
        }
        if let Some(r) = gate(&re.card, digits >= 13) {
            numeric::cards(r, text, out);
        }
        if let Some(r) = gate(&re.ssn, digits >= 9) {
            numeric::ssns(r, text, out);
        }
        if let Some(r) = gate(&re.ipv6, digits >= 1) {
            numeric::ipv6s(r, text, out);
        }
        if let Some(r) = gate(&re.ipv4, digits >= 4) {
            numeric::ipv4s(r, text, out);
        }
        if let Some((intl, nanp)) = re.phone.as_ref().filter(|_| digits >= 8) {
            numeric::phones(intl, Some(nanp).filter(|_| digits >= 10), text, out);
        }
        resolve_overlaps(out, base);
    }
}

/// Number of ASCII digits (branch-free so it vectorises).
fn count_digits(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|c| {
            let n: u8 = c.iter().map(|b| u8::from(b.wrapping_sub(b'0') < 10)).sum();
            usize::from(n)
        })
        .sum()
}

/// `re` when enabled and `ok`.
fn gate(re: &Option<Regex>, ok: bool) -> Option<&Regex> {
    re.as_ref().filter(|_| ok)
}

/// Sorts `out[base..]` by position and drops matches that overlap a kept
/// match of higher rank (ties keep the earlier, longer one).
fn resolve_overlaps(out: &mut Vec<PiiMatch>, base: usize) {
    let Some(found) = out.get_mut(base..) else {
        return;
    };
    if found.len() < 2 {
        return;
    }
    found.sort_unstable_by(|a, b| {
        (a.span.start, std::cmp::Reverse(a.span.end), a.kind).cmp(&(
            b.span.start,
            std::cmp::Reverse(b.span.end),
            b.kind,
        ))
    });
    // Kept matches are disjoint and sorted, so only the last kept one can
    // overlap the next candidate.
    let mut kept = base;
    for i in base..out.len() {
        let Some(cand) = out.get(i).cloned() else {
            break;
        };
        if kept > base {
            if let Some(last) = out.get_mut(kept - 1) {
                if cand.span.start < last.span.end {
                    if cand.kind.rank(cand.detail) > last.kind.rank(last.detail) {
                        *last = cand;
                    }
                    continue;
                }
            }
        }
        if let Some(slot) = out.get_mut(kept) {
            *slot = cand;
        }
        kept += 1;
    }
    out.truncate(kept);
}
