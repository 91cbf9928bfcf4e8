//! Hand-written fold of common look-alikes of ASCII letters and digits.
//!
//! Scope: single characters from the Cyrillic, Greek, Armenian and
//! Latin-extended/small-capital blocks whose usual glyph is indistinguishable
//! (or nearly so) from an ASCII letter or digit, taken from the single-letter
//! prototypes of Unicode UTS #39 `confusables.txt`. Case is preserved
//! (Cyrillic `А` folds to `A`, `а` to `a`). Fullwidth forms, mathematical
//! alphanumerics, circled, superscript and ligature forms are not listed:
//! NFKC already maps them to ASCII before this table is consulted.
//! Characters that only resemble a *sequence* of letters (e.g. `ш` ≈ `w`,
//! `м` ≈ `m` in some fonts) and accented look-alikes are out of scope.
//!
//! A side effect is that genuine Cyrillic/Greek words are partly latinised in
//! the normalised copy (`сор` becomes `cop`); word-mode keyword matching still
//! needs a boundary, so a folded letter inside a longer non-Latin word does not
//! produce a whole-word match.

/// ASCII look-alike of `c`, if `c` is in the table.
pub(crate) fn fold(c: char) -> Option<char> {
    let folded = match c {
        // Cyrillic lowercase
        '\u{0430}' => 'a', // а
        '\u{0435}' => 'e', // е
        '\u{043E}' => 'o', // о
        '\u{0440}' => 'p', // р
        '\u{0441}' => 'c', // с
        '\u{0443}' => 'y', // у
        '\u{0445}' => 'x', // х
        '\u{0455}' => 's', // ѕ
        '\u{0456}' => 'i', // і
        '\u{0458}' => 'j', // ј
        '\u{04AF}' => 'y', // ү
        '\u{04BB}' => 'h', // һ
        '\u{04CF}' => 'l', // ӏ
        '\u{0501}' => 'd', // ԁ
        '\u{051B}' => 'q', // ԛ
        '\u{051D}' => 'w', // ԝ
        // Cyrillic uppercase
        '\u{0405}' => 'S', // Ѕ
        '\u{0406}' => 'I', // І
        '\u{0408}' => 'J', // Ј
        '\u{0410}' => 'A', // А
        '\u{0412}' => 'B', // В
        '\u{0415}' => 'E', // Е
        '\u{0417}' => '3', // З
        '\u{041A}' => 'K', // К
        '\u{041C}' => 'M', // М
        '\u{041D}' => 'H', // Н
        '\u{041E}' => 'O', // О
        '\u{0420}' => 'P', // Р
        '\u{0421}' => 'C', // С
        '\u{0422}' => 'T', // Т
        '\u{0423}' => 'Y', // У
        '\u{0425}' => 'X', // Х
        '\u{04AE}' => 'Y', // Ү
        '\u{04C0}' => 'I', // Ӏ
        '\u{051A}' => 'Q', // Ԛ
        '\u{051C}' => 'W', // Ԝ
        // Greek lowercase
        '\u{03B1}' => 'a', // α
        '\u{03B3}' => 'y', // γ
        '\u{03B9}' => 'i', // ι
        '\u{03BA}' => 'k', // κ
        '\u{03BD}' => 'v', // ν
        '\u{03BF}' => 'o', // ο
        '\u{03C1}' => 'p', // ρ
        '\u{03C5}' => 'u', // υ
        '\u{03C7}' => 'x', // χ
        '\u{03F2}' => 'c', // ϲ
        '\u{03F3}' => 'j', // ϳ
        // Greek uppercase
        '\u{037F}' => 'J', // Ϳ
        '\u{0391}' => 'A', // Α
        '\u{0392}' => 'B', // Β
        '\u{0395}' => 'E', // Ε
        '\u{0396}' => 'Z', // Ζ
        '\u{0397}' => 'H', // Η
        '\u{0399}' => 'I', // Ι
        '\u{039A}' => 'K', // Κ
        '\u{039C}' => 'M', // Μ
        '\u{039D}' => 'N', // Ν
        '\u{039F}' => 'O', // Ο
        '\u{03A1}' => 'P', // Ρ
        '\u{03A4}' => 'T', // Τ
        '\u{03A5}' => 'Y', // Υ
        '\u{03A7}' => 'X', // Χ
        '\u{03F9}' => 'C', // Ϲ
        // Armenian
        '\u{0570}' => 'h', // հ
        '\u{0578}' => 'n', // ո
        '\u{057D}' => 'u', // ս
        '\u{0585}' => 'o', // օ
        // Latin extensions and small capitals
        '\u{0131}' => 'i', // ı dotless i
        '\u{0237}' => 'j', // ȷ dotless j
        '\u{0251}' => 'a', // ɑ
        '\u{0261}' => 'g', // ɡ
        '\u{0269}' => 'i', // ɩ
        '\u{1D04}' => 'c', // ᴄ
        '\u{1D0F}' => 'o', // ᴏ
        '\u{1D20}' => 'v', // ᴠ
        '\u{1D21}' => 'w', // ᴡ
        '\u{1D22}' => 'z', // ᴢ
        '\u{A731}' => 's', // ꜱ
        _ => return None,
    };
    Some(folded)
}
