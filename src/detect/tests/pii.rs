use crate::detect::{PiiDetector, PiiKind, PiiMatch};

fn all() -> PiiDetector {
    PiiDetector::new(&PiiKind::ALL)
}

fn find(d: &PiiDetector, text: &str) -> Vec<PiiMatch> {
    let mut out = Vec::new();
    d.find_all(text, &mut out);
    out
}

/// (kind name, matched text) pairs found by all detectors.
fn found(text: &str) -> Vec<(&'static str, &str)> {
    find(&all(), text)
        .into_iter()
        .map(|m| (m.kind.name(), &text[m.span]))
        .collect()
}

/// Asserts `text` yields exactly one match of `kind` covering `expected`.
fn assert_one(kind: &str, text: &str, expected: &str) {
    assert_eq!(found(text), vec![(kind, expected)], "in {text:?}");
}

fn assert_none(text: &str) {
    assert_eq!(found(text), vec![], "in {text:?}");
}

#[test]
fn names_round_trip() {
    let names: Vec<&str> = PiiKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        [
            "email",
            "phone",
            "credit_card",
            "iban",
            "us_ssn",
            "ipv4",
            "ipv6",
            "api_key",
            "jwt",
            "private_key"
        ]
    );
    for k in PiiKind::ALL {
        assert_eq!(PiiKind::from_name(k.name()), Some(k));
    }
    assert_eq!(PiiKind::from_name("Email"), None);
    assert_eq!(PiiKind::from_name("ssn"), None);
}

#[test]
fn every_builtin_pattern_compiles() {
    let d = all();
    assert_eq!(d.kinds(), &PiiKind::ALL);
    // Each kind must actually find its own example (a silently disabled
    // kind would find nothing).
    let samples = [
        "a@example.com",
        "+44 20 7946 0958",
        "4111 1111 1111 1111",
        "DE89370400440532013000",
        "123-45-6789",
        "10.1.2.3",
        "2001:db8::1",
        "AKIAIOSFODNN7EXAMPLE",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
        "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
    ];
    for (kind, sample) in PiiKind::ALL.iter().zip(samples) {
        let got = find(&PiiDetector::new(&[*kind]), sample);
        assert_eq!(got.len(), 1, "{kind:?} on {sample:?}: {got:?}");
        assert_eq!(got[0].kind, *kind);
    }
}

#[test]
fn emails() {
    assert_one(
        "email",
        "mail john.doe+tag@example.co.uk now",
        "john.doe+tag@example.co.uk",
    );
    assert_one("email", "<A_B-1@sub.Example.IO>.", "A_B-1@sub.Example.IO");
    assert_one("email", "mailto:.x@a.org", "x@a.org");
    assert_one("email", "x@mail.example.com.123 ", "x@mail.example.com");
    assert_none("user@localhost and @example.com and john..doe@example.com");
    assert_none("name@domain.c and trailing.@example.com");
    assert_eq!(found("x@1.2.3.4"), vec![("ipv4", "1.2.3.4")]);
}

#[test]
fn credit_cards() {
    for (text, network) in [
        ("4111 1111 1111 1111", "visa"),
        ("4111-1111-1111-1111", "visa"),
        ("4012888888881881", "visa"),
        ("5555 5555 5555 4444", "mastercard"),
        ("2223 0031 2200 3222", "mastercard"),
        ("3782 822463 10005", "amex"),
        ("6011 1111 1111 1117", "discover"),
        ("3530 1113 3330 0000", "jcb"),
        ("3056 9309 0259 04", "diners"),
        ("6200 0000 0000 0005", "unionpay"),
    ] {
        let got = find(&all(), &format!("card: {text}, exp 12/25"));
        assert_eq!(got.len(), 1, "{text}: {got:?}");
        assert_eq!(
            (got[0].kind, got[0].detail),
            (PiiKind::CreditCard, Some(network))
        );
        assert_eq!(got[0].span, 6..6 + text.len());
    }
    assert_none("card 4111 1111 1111 1112");
    // Luhn-valid but no known issuer prefix / wrong length for the issuer.
    assert_none("id 1234 5678 9012 3452 and 3782 8224 6310 0052");
    // Inside a longer digit run or glued to letters.
    assert_none("tx 994111111111111111 and 41111111111111119 and x4111111111111111");
    assert_none("v1.4111111111111111 and 12-4111-1111-1111-1111");
    // Two cards in a row: both found, the first cut back at its group.
    let got = found("4111 1111 1111 1111 5555 5555 5555 4444");
    assert_eq!(
        got,
        vec![
            ("credit_card", "4111 1111 1111 1111"),
            ("credit_card", "5555 5555 5555 4444")
        ]
    );
}

#[test]
fn ibans() {
    assert_one(
        "iban",
        "IBAN: DE89 3704 0044 0532 0130 00 EUR",
        "DE89 3704 0044 0532 0130 00",
    );
    assert_one(
        "iban",
        "GB82 WEST 1234 5698 7654 32.",
        "GB82 WEST 1234 5698 7654 32",
    );
    assert_one(
        "iban",
        "pay DE89370400440532013000",
        "DE89370400440532013000",
    );
    assert_one(
        "iban",
        "FR14 2004 1010 0505 0001 3M02 606",
        "FR14 2004 1010 0505 0001 3M02 606",
    );
    assert_one("iban", "NL91ABNA0417164300", "NL91ABNA0417164300");
    assert_none("DE88 3704 0044 0532 0130 00");
    assert_none("GB82 WEST 1234 5698 7654 33");
    // Wrong grouping, unknown country, too long.
    assert_none("DE89 37040 044 0532 0130 00 and ZZ89370400440532013000");
    assert_none("DE8937040044053201300099");
}

#[test]
fn us_ssns() {
    assert_one("us_ssn", "SSN 123-45-6789.", "123-45-6789");
    assert_one("us_ssn", "ssn: 078 05 1120", "078 05 1120");
    for bad in [
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "123-00-4567",
        "123-45-0000",
    ] {
        assert_none(&format!("ssn {bad}"));
    }
    // Mixed separators, bare digits, part of a longer number.
    assert_none("123-45 6789 and 123456789 and 1-123-45-6789 and 123-45-6789-1");
}

#[test]
fn ipv4() {
    assert_one("ipv4", "host 192.168.1.1 up", "192.168.1.1");
    assert_one("ipv4", "10.0.0.1:8080", "10.0.0.1");
    assert_one("ipv4", "route 10.0.0.0/8", "10.0.0.0");
    assert_one("ipv4", "end 255.255.255.255.", "255.255.255.255");
    assert_none("999.1.1.1 and 1.2.3.256");
    assert_none("version 1.2.3.4.5 and v1.2.3.4 and 1.2.3.4.5.6.7.8");
}

#[test]
fn ipv6() {
    for addr in [
        "2001:db8::1",
        "::1",
        "fe80::1ff:fe23:4567:890a",
        "::ffff:192.0.2.1",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    ] {
        assert_one("ipv6", &format!("addr {addr}, ok"), addr);
    }
    assert_one("ipv6", "[2001:db8::1]:443", "2001:db8::1");
    assert_none("std::vector and dead::beef and 12:30:45 and 00:1A:2B:3C:4D:5E");
    assert_none("1:2:3:4:5:6:7:8:9 and 2001:db8:::1");
}

#[test]
fn phones() {
    assert_one("phone", "call +1 (415) 555-0132 today", "+1 (415) 555-0132");
    assert_one("phone", "London: +44 20 7946 0958.", "+44 20 7946 0958");
    assert_one("phone", "+14155550132", "+14155550132");
    assert_one("phone", "(555) 123-4567", "(555) 123-4567");
    assert_one("phone", "tel 555-123-4567", "555-123-4567");
    assert_one("phone", "tel 555.123.4567", "555.123.4567");
    assert_one("phone", "1-800-555-0199", "1-800-555-0199");
    // Dates, order numbers and other digit strings are not phones.
    assert_none("on 2024-01-15 at 10:30, order #20240115-0042, ref 2024-555-0142");
    assert_none("order number 1234567890 and 555-123.4567 and 055-123-4567");
    assert_none("12-555-123-4567 and 555-123-4567-89 and 2+12345678");
    assert_none("+1234567 and +1 (((415) 555 and +44  20 7946 0958");
    // A card number is a card, not a phone.
    assert_eq!(
        found("+4111111111111111"),
        vec![("credit_card", "4111111111111111")]
    );
}

#[test]
fn api_keys() {
    let cases = [
        (format!("sk-proj-{}", "aB3_x-".repeat(8)), "openai"),
        (format!("sk-{}", "Ab1".repeat(16)), "openai"),
        (format!("sk-ant-api03-{}", "Zz9_".repeat(20)), "anthropic"),
        ("AKIAIOSFODNN7EXAMPLE".to_string(), "aws"),
        ("ASIAY34FZKBOKMUTVV7A".to_string(), "aws"),
        (format!("ghp_{}", "a1B2".repeat(9)), "github"),
        (format!("gho_{}", "a1B2".repeat(9)), "github"),
        (
            format!(
                "github_pat_11ABCDEFG0{}_{}",
                "x".repeat(12),
                "Yz1".repeat(20)
            ),
            "github",
        ),
        (
            "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx".to_string(),
            "slack",
        ),
        (format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc"), "stripe"),
        (format!("rk_live_{}", "51H".repeat(8)), "stripe"),
        (format!("AIza{}", &"SyD-4_q".repeat(5)), "google"),
        (format!("glpat-{}", "xY1-".repeat(5)), "gitlab"),
        (
            format!("hf_{}", "AbCdEfGhIj".repeat(3) + "KlMn"),
            "huggingface",
        ),
    ];
    for (key, provider) in &cases {
        let text = format!("KEY=\"{key}\"\n");
        let got = find(&all(), &text);
        assert_eq!(got.len(), 1, "{key}: {got:?}");
        assert_eq!(
            (got[0].kind, got[0].detail),
            (PiiKind::ApiKey, Some(*provider)),
            "{key}"
        );
        assert_eq!(&text[got[0].span.clone()], key);
    }
    assert_none("sk-short and task-abcdefghijklmnopqrstuvwxyz0123456789ABCD");
    assert_none("AKIAIOSFODNN7EXAMPL and AKIAIOSFODNN7EXAMPLEX and xoxb-not-a-real-token-here");
    assert_none("ghp_tooShort123 and hf_hub_download");
}

#[test]
fn bearer_tokens() {
    let text = "Authorization: Bearer abc123def456ghi789jkl0==\r\n";
    let got = find(&all(), text);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].kind, got[0].detail),
        (PiiKind::ApiKey, Some("bearer"))
    );
    assert_eq!(&text[got[0].span.clone()], "abc123def456ghi789jkl0==");
    assert_none("Bearer tokens-are-commonly-used-everywhere");
    // A provider key after Bearer keeps its provider.
    let text = "bearer AKIAIOSFODNN7EXAMPLE";
    assert_eq!(find(&all(), text)[0].detail, Some("aws"));
}

#[test]
fn jwts() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    assert_one("jwt", &format!("token={jwt}&x=1"), jwt);
    // After "Bearer" it is still reported once, as a JWT.
    assert_one("jwt", &format!("Authorization: Bearer {jwt}"), jwt);
    // Header without "alg", or not base64url JSON.
    assert_none("eyJub3QiOiJqd3QifQ.eyJhIjoxfQ.c2ln");
    assert_none("eyJ!!!notbase64.eyJhIjoxfQ.c2ln and eyJhbGciOiJIUzI1NiJ9");
}

#[test]
fn private_keys() {
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HecdW9\n2t0WFzAVL6rMtNtgRvkkjxC6fpk1PsxMEqDpAC/JxiQ==\n-----END RSA PRIVATE KEY-----";
    assert_one("private_key", &format!("key:\n{pem}\nthanks"), pem);
    let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    assert_one("private_key", openssh, openssh);
    // Cut off mid-key (a streamed chunk): the body is still covered.
    let cut = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\nAwEHoUQDQgAE";
    assert_one("private_key", &format!("{cut}\n\n"), cut);
    // Emails, cards etc. inside the block are not reported separately.
    let inner =
        "-----BEGIN PRIVATE KEY-----\na@example.com 4111111111111111\n-----END PRIVATE KEY-----";
    assert_one("private_key", inner, inner);
    assert_none("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----");
}

#[test]
fn subset_detector_and_ordering() {
    let d = PiiDetector::new(&[PiiKind::Email, PiiKind::Email, PiiKind::Ipv4]);
    assert_eq!(d.kinds(), &[PiiKind::Email, PiiKind::Ipv4]);
    let text = "10.0.0.1 4111 1111 1111 1111 bob@example.org";
    let got = find(&d, text);
    let kinds: Vec<PiiKind> = got.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, vec![PiiKind::Ipv4, PiiKind::Email]);
    // Results are appended after existing content.
    let mut out = vec![got[0].clone()];
    d.find_all(text, &mut out);
    assert_eq!(out.len(), 3);
}

#[test]
fn mixed_document() {
    let text = "Hi, I'm Jane (jane@corp.example.com, +1 415-555-0132). Card 5555-5555-5555-4444, \
                SSN 219-09-9999, server 172.16.254.1 / 2001:db8:85a3::8a2e:370:7334. IBAN GB82WEST12345698765432.";
    let kinds: Vec<&str> = found(text).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            "email",
            "phone",
            "credit_card",
            "us_ssn",
            "ipv4",
            "ipv6",
            "iban"
        ]
    );
}

#[test]
fn emails_in_urls_and_prose() {
    assert_one(
        "email",
        "https://x.test/?email=john@x.com&y=1",
        "john@x.com",
    );
    assert_one(
        "email",
        "(see: \"Bob\" <bob.smith@mail.example.org>)",
        "bob.smith@mail.example.org",
    );
}

#[test]
fn ordinary_prose_has_no_pii() {
    assert_none(
        "Revenue grew 12% in 2024 (Q3: 1,250 tickets; v2.3.1 released 2024-01-15 at 10:30). \
         Call me maybe, version 1.2.3, pi is 3.14159265, ratio 16:9, 100-200 items, ISO 8601.",
    );
}

#[test]
fn pii_in_normalised_text_maps_back() {
    use crate::detect::Normalized;
    let original = "mail ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ or jo\u{200B}e@exam\u{200B}ple.com";
    let n = Normalized::new(original);
    let got = find(&all(), &n.text);
    let back: Vec<&str> = got
        .iter()
        .map(|m| &original[n.to_original(m.span.clone())])
        .collect();
    assert_eq!(
        back,
        [
            "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",
            "jo\u{200B}e@exam\u{200B}ple.com"
        ]
    );
}
