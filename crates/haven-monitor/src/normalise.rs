//! Text normalisation shared by keyword libraries and the text they are matched against.
//!
//! Both sides go through the same function, so a library entry matches every spelling that folds
//! to the same form: case, accents (Polish, French, German, ...), leetspeak (`h4ng`, `$uicide`),
//! stretched letters (`killlll`, and so doubled-letter misspellings like `sucide`/`suiccide` are
//! handled by folding every run of one letter to a single letter), and any run of spaces or
//! punctuation between words (`kill-my_self`). The result is words of `[a-z0-9]` separated by one
//! space, with one space before and after, so a pattern ` word ` only matches whole words.

/// Fold one character to lower-case ASCII where it has an obvious base letter.
fn fold_char(c: char) -> Option<char> {
    if c.is_ascii_alphanumeric() {
        return Some(c.to_ascii_lowercase());
    }
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' | 'ā' | 'ă' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ą' | 'Ā' | 'Ă' => 'a',
        'ç' | 'ć' | 'č' | 'ĉ' | 'Ç' | 'Ć' | 'Č' => 'c',
        'ď' | 'đ' | 'Ď' | 'Đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ē' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ę' | 'Ē' | 'Ě' => 'e',
        'ğ' | 'Ğ' => 'g',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'İ' => 'i',
        'ł' | 'ľ' | 'ĺ' | 'Ł' | 'Ľ' | 'Ĺ' => 'l',
        'ñ' | 'ń' | 'ň' | 'Ñ' | 'Ń' | 'Ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => 'o',
        'ř' | 'ŕ' | 'Ř' | 'Ŕ' => 'r',
        'ś' | 'š' | 'ş' | 'ß' | 'Ś' | 'Š' | 'Ş' => 's',
        'ť' | 'ţ' | 'Ť' | 'Ţ' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => 'z',
        _ => return None,
    };
    Some(base)
}

/// The letter a leetspeak digit or symbol stands for.
fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' | '+' => 't',
        '8' => 'b',
        _ => return None,
    })
}

/// Normalise `text` into `out` (cleared first), reusing its allocation.
pub fn normalise_into(text: &str, out: &mut String) {
    out.clear();
    out.push(' ');
    let chars: Vec<char> = text.chars().collect();
    // A token is a maximal run of characters that fold or are leetspeak symbols; digits and
    // symbols inside a token that has a letter become letters, so `2024` stays a number.
    let mut i = 0;
    while i < chars.len() {
        let starts = fold_char(chars[i]).is_some() || (leet(chars[i]).is_some() && !matches!(chars[i], '!' | '|' | '+'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && (fold_char(chars[j]).is_some() || leet(chars[j]).is_some()) {
            j += 1;
        }
        // Trailing punctuation-like symbols (`!`, `|`, `+`) end a sentence rather than spell a letter.
        while j > i && matches!(chars[j - 1], '!' | '|' | '+') {
            j -= 1;
        }
        let token = &chars[i..j];
        let has_letter = token.iter().any(|c| fold_char(*c).is_some_and(|f| f.is_ascii_alphabetic()));
        if out.len() > 1 {
            out.push(' ');
        }
        let mut last = '\0';
        for &c in token {
            let f = if has_letter { leet(c).or_else(|| fold_char(c)) } else { fold_char(c) };
            let Some(f) = f else { continue };
            if f == last && f.is_ascii_alphabetic() {
                continue;
            }
            out.push(f);
            last = f;
        }
        i = j.max(i + 1);
    }
    out.push(' ');
}

/// Normalise `text`: see the module documentation.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    normalise_into(text, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn folds_case_accents_leet_and_runs() {
        assert_eq!(normalise("Kill  MY-self!!!"), " kil my self ");
        assert_eq!(normalise("h4ng mys3lf"), " hang myself ");
        assert_eq!(normalise("zabić się"), " zabic sie ");
        assert_eq!(normalise("in 2024"), " in 2024 ");
        assert_eq!(normalise("$uicide"), " suicide ");
        assert_eq!(normalise(""), "  ");
    }
}
