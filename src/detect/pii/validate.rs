//! Checksums, format tables and boundary helpers for the PII scanners.

/// Character before byte `at`, if any.
pub(super) fn prev_char(text: &str, at: usize) -> Option<char> {
    text.get(..at)?.chars().next_back()
}

/// Character at byte `at`, if any.
pub(super) fn next_char(text: &str, at: usize) -> Option<char> {
    text.get(at..)?.chars().next()
}

/// Word character for PII boundaries (letters, digits, underscore).
pub(super) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Separators that continue a number: `1.2.3.4.5`, `12-4111...`, `1/2`.
pub(super) const NUMBER_JOINERS: &[char] = &['.', '-', '/'];

/// True when the candidate starting at `start` is not glued to what precedes
/// it: no word character right before it, and no joiner preceded by a digit.
pub(super) fn clear_before(text: &str, start: usize, joiners: &[char]) -> bool {
    match prev_char(text, start) {
        None => true,
        Some(p) if is_word(p) => false,
        Some(p) if joiners.contains(&p) => {
            !prev_char(text, start - p.len_utf8()).is_some_and(|q| q.is_ascii_digit())
        }
        Some(_) => true,
    }
}

/// True when the candidate ending at `end` is not glued to what follows it:
/// no word character right after it, and no joiner followed by a digit.
pub(super) fn clear_after(text: &str, end: usize, joiners: &[char]) -> bool {
    match next_char(text, end) {
        None => true,
        Some(n) if is_word(n) => false,
        Some(n) if joiners.contains(&n) => {
            !next_char(text, end + n.len_utf8()).is_some_and(|q| q.is_ascii_digit())
        }
        Some(_) => true,
    }
}

/// Luhn checksum over ASCII digits.
pub(super) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d.wrapping_sub(b'0'));
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// Value of the first `n` ASCII digits.
fn prefix(digits: &[u8], n: usize) -> u32 {
    digits
        .iter()
        .take(n)
        .fold(0, |acc, d| acc * 10 + u32::from(d.wrapping_sub(b'0')))
}

/// Card network for a digit string whose issuer prefix and length agree.
pub(super) fn card_network(digits: &[u8]) -> Option<&'static str> {
    let n = digits.len();
    let (p2, p3, p4) = (prefix(digits, 2), prefix(digits, 3), prefix(digits, 4));
    let (network, lengths): (&str, &[usize]) = if digits.first() == Some(&b'4') {
        ("visa", &[13, 16, 19])
    } else if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) {
        ("mastercard", &[16])
    } else if p2 == 34 || p2 == 37 {
        ("amex", &[15])
    } else if p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) {
        ("discover", &[16, 17, 18, 19])
    } else if (3528..=3589).contains(&p4) {
        ("jcb", &[16, 17, 18, 19])
    } else if p2 == 36 || p2 == 38 || (300..=305).contains(&p3) {
        ("diners", &[14, 15, 16, 17, 18, 19])
    } else if p2 == 62 {
        ("unionpay", &[16, 17, 18, 19])
    } else {
        return None;
    };
    lengths.contains(&n).then_some(network)
}

/// Network name when `digits` is a plausible, Luhn-valid card number.
pub(super) fn valid_card(digits: &[u8]) -> Option<&'static str> {
    if !(13..=19).contains(&digits.len()) || !luhn(digits) {
        return None;
    }
    card_network(digits)
}

/// IBAN length for a country code (ISO 13616 registry, common countries).
pub(super) fn iban_length(country: &[u8]) -> Option<usize> {
    let len = match country {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"XK" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" => 22,
        b"AE" | b"GI" | b"IL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"PT" => 25,
        b"IS" | b"TR" => 26,
        b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AZ" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"PL" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" => 30,
        b"MT" => 31,
        _ => return None,
    };
    Some(len)
}

/// ISO 7064 mod-97-10 check of a compact IBAN (uppercase letters, digits).
pub(super) fn iban_checksum_ok(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut rem = 0u32;
    for &b in tail.iter().chain(head) {
        rem = match b {
            b'0'..=b'9' => (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(b - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rem == 1
}

/// US SSN area/group/serial validity (SSA never issues these ranges).
pub(super) fn ssn_ok(area: u32, group: u32, serial: u32) -> bool {
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Decodes unpadded or padded base64url; `None` on any other character.
pub(super) fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// True when a JWT header segment decodes to a JSON object naming `alg`.
pub(super) fn jwt_header_ok(segment: &str) -> bool {
    if segment.len() > 4096 {
        return false;
    }
    let Some(json) = base64url_decode(segment) else {
        return false;
    };
    let body = json.trim_ascii_start();
    body.first() == Some(&b'{') && memchr::memmem::find(body, b"\"alg\"").is_some()
}
