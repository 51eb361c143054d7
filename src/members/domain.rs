//! A person's own values: display name and phone number, parsed once.

/// 1–32 characters, trimmed, no control, zero-width or bidirectional-control characters
/// (they hide or reorder text: a name that reads as another person's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<DisplayName, &'static str> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 || len > 32 {
            return Err("昵称须为 1 到 32 个字符");
        }
        if name.chars().any(char::is_control) {
            return Err("昵称不能包含控制字符");
        }
        if name.chars().any(is_invisible) {
            return Err("昵称不能包含零宽字符或文字方向控制字符");
        }
        Ok(DisplayName(name.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Zero-width characters and the bidirectional marks, embeddings, overrides and isolates.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{202A}'..='\u{202E}' // LRE, RLE, PDF, LRO, RLO
        | '\u{2060}'..='\u{2064}' // word joiner and invisible operators
        | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
        | '\u{061C}' // Arabic letter mark
        | '\u{180E}' // Mongolian vowel separator
        | '\u{FEFF}' // zero-width no-break space
    )
}

/// A mainland China mobile number: 11 digits starting 13–19.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<PhoneNumber, &'static str> {
        let digits = raw.trim();
        let b = digits.as_bytes();
        let valid = b.len() == 11 && b.iter().all(u8::is_ascii_digit) && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        if valid {
            Ok(PhoneNumber(digits.to_owned()))
        } else {
            Err("手机号须为 11 位中国大陆手机号")
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Masks a phone number for everyone but its owner: `13812340000` → `138****0000`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13812340000"), "138****0000");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn display_names() {
        assert_eq!(DisplayName::parse("  张三 ").unwrap().into_inner(), "张三");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"字".repeat(33)).is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
        for hidden in ["\u{200B}", "\u{200D}", "\u{202E}", "\u{2066}", "\u{2069}", "\u{FEFF}", "\u{200F}"] {
            assert!(DisplayName::parse(&format!("王{hidden}书记")).is_err(), "{hidden:?}");
        }
        assert!(DisplayName::parse("Zoë · 王").is_ok(), "ordinary letters and punctuation stay");
    }

    #[test]
    fn phone_numbers() {
        assert!(PhoneNumber::parse("13812340000").is_ok());
        for bad in ["12812340000", "1381234000", "138123400001", "1381234000a", ""] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
