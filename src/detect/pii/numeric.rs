//! Scanners for number-shaped PII: cards, IBANs, SSNs, phones, IP addresses.
//!
//! Each regex only proposes candidates (the `regex` crate has no
//! look-around); boundaries, separators and checksums are checked here. A
//! rejected candidate is skipped whole, so nothing is found inside a longer
//! digit run.

use std::net::Ipv6Addr;
use std::ops::Range;

use regex::Regex;

use super::validate::{
    clear_after, clear_before, iban_checksum_ok, iban_length, next_char, prev_char, ssn_ok,
    valid_card, NUMBER_JOINERS,
};
use super::{PiiKind, PiiMatch};

/// 13-19 digits, single spaces or dashes allowed between any two.
pub(super) const CARD: &str = r"[0-9](?:[ \-]?[0-9]){12,18}";
/// Check digits, then BBAN characters with optional spaces; the country
/// code before them is checked in code (a regex starting with `[A-Z]` would
/// scan prose at automaton speed instead of skipping to digits).
pub(super) const IBAN: &str = r"[0-9]{2}(?: ?[A-Z0-9]){11,31}";
/// AAA-GG-SSSS or AAA GG SSSS.
pub(super) const SSN: &str = r"[0-9]{3}[ \-][0-9]{2}[ \-][0-9]{4}";
/// `+` then digits with separators and at most one parenthesised group.
pub(super) const PHONE_INTL: &str = r"\+[0-9][0-9 .\-()]{5,24}[0-9]";
/// North American: area code (maybe in parentheses), 3, 4 digits; an
/// optional leading `1-` is taken in code (same reason as [`IBAN`]).
pub(super) const PHONE_NANP: &str =
    r"(?:\([2-9][0-9]{2}\)[ .\-]?|[2-9][0-9]{2}[ .\-])[0-9]{3}[ .\-][0-9]{4}";
/// Dotted quad.
pub(super) const IPV4: &str = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}";
/// Hex groups and colons, optionally ending in a dotted IPv4 tail.
pub(super) const IPV6: &str = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}";

fn push(out: &mut Vec<PiiMatch>, kind: PiiKind, span: Range<usize>, detail: Option<&'static str>) {
    out.push(PiiMatch { kind, span, detail });
}

/// Records `span` when `ok`; returns where the search resumes.
fn accept(out: &mut Vec<PiiMatch>, ok: bool, kind: PiiKind, span: Range<usize>) -> Option<usize> {
    if !ok {
        return None;
    }
    let end = span.end;
    push(out, kind, span, None);
    Some(end)
}

/// Runs `re` over `text`; `check` returns where the search resumes (the end
/// of what it accepted), or `None` to resume after the candidate.
fn each_candidate(re: &Regex, text: &str, mut check: impl FnMut(Range<usize>) -> Option<usize>) {
    let mut at = 0;
    while let Some(m) = re.find_at(text, at) {
        let next = check(m.range()).unwrap_or(m.end());
        at = next.max(m.start() + 1);
        if at >= text.len() {
            break;
        }
        while !text.is_char_boundary(at) {
            at += 1;
        }
    }
}

/// Credit cards: Luhn, issuer prefix and length; a candidate that swallowed
/// a following number is cut back at a space between digit groups.
pub(super) fn cards(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    each_candidate(re, text, |r| {
        if !clear_before(text, r.start, NUMBER_JOINERS) {
            return None;
        }
        let cand = text.get(r.clone())?.as_bytes();
        let mut digits = [0u8; 19];
        let mut n = 0;
        // (end offset, digits so far) at each space: places to cut back to.
        let mut cuts = [(0usize, 0usize); 19];
        let mut ncuts = 0;
        for (i, &b) in cand.iter().enumerate() {
            if b.is_ascii_digit() {
                *digits.get_mut(n)? = b;
                n += 1;
            } else if b == b' ' {
                *cuts.get_mut(ncuts)? = (r.start + i, n);
                ncuts += 1;
            }
        }
        let whole = [(r.end, n)];
        let tries = whole.iter().chain(cuts.get(..ncuts)?.iter().rev());
        for &(end, count) in tries {
            if !clear_after(text, end, NUMBER_JOINERS) {
                continue;
            }
            if let Some(network) = valid_card(digits.get(..count)?) {
                push(out, PiiKind::CreditCard, r.start..end, Some(network));
                return Some(end);
            }
        }
        None
    });
}

/// IBANs: known country length, mod-97, and either no spaces or a space
/// after every group of four.
pub(super) fn ibans(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    // On rejection resume at the next "AA99" inside the candidate: it may
    // have started at digits before the real IBAN ("2023 GB82 WEST ...").
    each_candidate(re, text, |r| {
        iban_at(text, r.clone(), out).or_else(|| next_country_code(text.as_bytes(), r))
    });
}

/// Offset of the check digits of the first "AA99" (uppercase letters, then
/// digits) whose digits lie strictly inside `r`.
fn next_country_code(b: &[u8], r: Range<usize>) -> Option<usize> {
    (r.start + 1..r.end).find(|&i| {
        let at = |k: usize| b.get(k).copied().unwrap_or(0);
        i >= 2
            && at(i - 2).is_ascii_uppercase()
            && at(i - 1).is_ascii_uppercase()
            && at(i).is_ascii_digit()
            && at(i + 1).is_ascii_digit()
    })
}

/// Validates the IBAN whose check digits start `r`; returns its end.
fn iban_at(text: &str, r: Range<usize>, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let start = r.start.checked_sub(2)?;
    if !clear_before(text, start, &[]) {
        return None;
    }
    let cand = text.get(start..r.end)?.as_bytes();
    let expected = iban_length(cand.get(..2)?)?;
    let spaced = cand.get(4) == Some(&b' ');
    let mut compact = [0u8; 34];
    let mut n = 0;
    let mut end = None;
    for (i, &b) in cand.iter().enumerate() {
        if b == b' ' {
            if !spaced || n % 4 != 0 {
                return None;
            }
            continue;
        }
        if spaced && n > 0 && n % 4 == 0 && cand.get(i.wrapping_sub(1)) != Some(&b' ') {
            return None;
        }
        *compact.get_mut(n)? = b;
        n += 1;
        if n == expected {
            end = Some(start + i + 1);
            break;
        }
    }
    let end = end?;
    if !clear_after(text, end, &[]) || !iban_checksum_ok(compact.get(..n)?) {
        return None;
    }
    push(out, PiiKind::Iban, start..end, None);
    Some(end)
}

/// US SSNs: the same separator twice and no never-issued ranges.
pub(super) fn ssns(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    each_candidate(re, text, |r| {
        let s = text.get(r.clone())?;
        let b = s.as_bytes();
        let num = |range: Range<usize>| s.get(range).and_then(|d| d.parse::<u32>().ok());
        let ok = b.get(3) == b.get(6)
            && ssn_ok(num(0..3)?, num(4..6)?, num(7..11)?)
            && clear_before(text, r.start, NUMBER_JOINERS)
            && clear_after(text, r.end, NUMBER_JOINERS);
        accept(out, ok, PiiKind::UsSsn, r)
    });
}

/// Phones: E.164-style `+` numbers (8-15 digits) and North American
/// numbers with separators; never a valid card number.
pub(super) fn phones(intl: &Regex, nanp: Option<&Regex>, text: &str, out: &mut Vec<PiiMatch>) {
    let plausible = |r: &Range<usize>, s: &str| {
        let mut digits = [0u8; 19];
        let mut n = 0;
        for b in s.bytes().filter(u8::is_ascii_digit) {
            if let Some(slot) = digits.get_mut(n) {
                *slot = b;
            }
            n += 1;
        }
        clear_after(text, r.end, NUMBER_JOINERS)
            && digits.get(..n).is_none_or(|d| valid_card(d).is_none())
    };
    each_candidate(intl, text, |r| {
        let s = text.get(r.clone())?;
        let ok = clear_before(text, r.start, NUMBER_JOINERS)
            && !prev_char(text, r.start).is_some_and(|c| c == '+' || c == ')')
            && intl_shape_ok(s)
            && plausible(&r, s);
        accept(out, ok, PiiKind::Phone, r)
    });
    let Some(nanp) = nanp else { return };
    each_candidate(nanp, text, |r| {
        let s = text.get(r.clone())?;
        // Optional trunk prefix "1-", "1 " or "1." before the area code.
        let before = text.get(..r.start).unwrap_or_default();
        let start = if [b"1-", b"1 ", b"1."]
            .iter()
            .any(|p| before.as_bytes().ends_with(*p))
        {
            r.start - 2
        } else {
            r.start
        };
        let ok = clear_before(text, start, NUMBER_JOINERS)
            && prev_char(text, start) != Some('+')
            && nanp_separators_ok(s)
            && plausible(&r, s);
        accept(out, ok, PiiKind::Phone, start..r.end)
    });
}

/// `+` number: 8-15 digits, no doubled separators, at most one `(...)`
/// group of 1-4 digits.
fn intl_shape_ok(s: &str) -> bool {
    let (mut digits, mut last_sep, mut open, mut used, mut in_paren) = (0, false, false, false, 0);
    for c in s.chars().skip(1) {
        match c {
            '0'..='9' => {
                digits += 1;
                in_paren += usize::from(open);
                last_sep = false;
            }
            ' ' | '.' | '-' if last_sep => return false,
            ' ' | '.' | '-' => last_sep = true,
            '(' if used => return false,
            '(' => (open, used, in_paren, last_sep) = (true, true, 0, true),
            ')' if !open || in_paren == 0 || in_paren > 4 => return false,
            ')' => (open, last_sep) = (false, false),
            _ => return false,
        }
    }
    !open && (8..=15).contains(&digits)
}

/// Without parentheses the two separators must be the same character.
fn nanp_separators_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.first() == Some(&b'(') || b.get(3) == b.get(7)
}

/// IPv4: four octets 0-255, not part of a longer dotted sequence.
pub(super) fn ipv4s(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    each_candidate(re, text, |r| {
        let s = text.get(r.clone())?;
        let ok = s
            .split('.')
            .all(|o| o.parse::<u16>().is_ok_and(|v| v <= 255))
            && clear_before(text, r.start, &['.'])
            && clear_after(text, r.end, &['.']);
        accept(out, ok, PiiKind::Ipv4, r)
    });
}

/// IPv6: parses as [`Ipv6Addr`], has two colons and at least one decimal
/// digit (so `dead::beef`-like identifiers are skipped), free-standing.
pub(super) fn ipv6s(re: &Regex, text: &str, out: &mut Vec<PiiMatch>) {
    each_candidate(re, text, |r| {
        if prev_char(text, r.start).is_some_and(|c| super::validate::is_word(c) || c == ':') {
            return None;
        }
        let s = text.get(r.clone())?;
        let mut end = r.end;
        if s.len() > 2 && s.ends_with(':') && !s.ends_with("::") {
            end -= 1;
        }
        let addr = text.get(r.start..end)?;
        let ok = addr.bytes().any(|b| b.is_ascii_digit())
            && addr.bytes().filter(|&b| b == b':').count() >= 2
            && addr.parse::<Ipv6Addr>().is_ok()
            && !next_char(text, end).is_some_and(super::validate::is_word)
            && !(next_char(text, end) == Some(':')
                && next_char(text, end + 1).is_some_and(|c| c.is_ascii_hexdigit()));
        accept(out, ok, PiiKind::Ipv6, r.start..end)
    });
}
