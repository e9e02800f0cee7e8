//! Classifies one line of a mysql-mmm configuration file, without knowing any key names.
//!
//! mysql-mmm's rules: blank lines and lines whose first non-blank character is `#` are
//! ignored; `<type>`, `<type name>`, `<type/>`, `<type name/>` open sections; any
//! `</word>` closes the current one; everything else is `key value` where the key is the
//! first token and the value the rest of the line, trimmed (no trailing comments).

/// What one line of a configuration file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// Blank or comment.
    Nothing,
    /// `</word>`.
    Close,
    /// `<kind>`, `<kind name>` or their empty forms ending in `/>`.
    Open {
        /// Section type, e.g. `host`.
        kind: &'a str,
        /// Section name, e.g. `db1`.
        name: Option<&'a str>,
        /// `<kind name/>`: declares the section without a body.
        empty: bool,
    },
    /// Starts with `<` but is not a well-formed tag; the text says why.
    BadTag(&'static str),
    /// `key value`; `value` is empty when the line holds a single token.
    Directive {
        /// First token.
        key: &'a str,
        /// Rest of the line, trimmed.
        value: &'a str,
    },
}

/// Characters mysql-mmm accepts in a section type (Perl's `\w`).
fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Characters mysql-mmm accepts in a section name (`[\w\-_]`).
pub(crate) fn is_section_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Classifies `raw` (one line, without its line terminator).
pub(crate) fn classify(raw: &str) -> Line<'_> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Line::Nothing;
    }
    if line.starts_with('<') {
        return classify_tag(line);
    }
    match line.find(char::is_whitespace) {
        Some(at) => Line::Directive {
            key: &line[..at],
            value: line[at..].trim(),
        },
        None => Line::Directive {
            key: line,
            value: "",
        },
    }
}

fn classify_tag(line: &str) -> Line<'_> {
    let Some(inner) = line.strip_prefix('<').and_then(|l| l.strip_suffix('>')) else {
        return Line::BadTag("a section tag must end with '>'");
    };
    if let Some(closing) = inner.strip_prefix('/') {
        return if is_word(closing.trim()) {
            Line::Close
        } else {
            Line::BadTag("a closing tag is '</type>'")
        };
    }
    let (inner, empty) = match inner.strip_suffix('/') {
        Some(rest) => (rest, true),
        None => (inner, false),
    };
    let mut words = inner.split_whitespace();
    let (Some(kind), name, None) = (words.next(), words.next(), words.next()) else {
        return Line::BadTag("a section tag is '<type>' or '<type name>'");
    };
    if !is_word(kind) {
        return Line::BadTag("a section type may contain only letters, digits and '_'");
    }
    if let Some(name) = name
        && !is_section_name(name)
    {
        return Line::BadTag("a section name may contain only letters, digits, '_' and '-'");
    }
    Line::Open { kind, name, empty }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive<'a>(key: &'a str, value: &'a str) -> Line<'a> {
        Line::Directive { key, value }
    }

    #[test]
    fn comments_and_blank_lines_are_nothing() {
        assert_eq!(classify(""), Line::Nothing);
        assert_eq!(classify("   \t "), Line::Nothing);
        assert_eq!(classify("# comment"), Line::Nothing);
        assert_eq!(classify("    #indented comment"), Line::Nothing);
    }

    #[test]
    fn directive_value_is_rest_of_line_trimmed() {
        assert_eq!(classify("  ip   10.0.0.1  \r"), directive("ip", "10.0.0.1"));
        assert_eq!(classify("debug 1 # x"), directive("debug", "1 # x"));
        assert_eq!(
            classify("ips 10.0.0.1, 10.0.0.2"),
            directive("ips", "10.0.0.1, 10.0.0.2")
        );
        assert_eq!(classify("modemaster"), directive("modemaster", ""));
        assert_eq!(
            classify("pid_path/var/run/mysql-mmm/mmm_agentd.pid"),
            directive("pid_path/var/run/mysql-mmm/mmm_agentd.pid", "")
        );
    }

    #[test]
    fn tags() {
        let open = |kind, name, empty| Line::Open { kind, name, empty };
        assert_eq!(classify("<monitor>"), open("monitor", None, false));
        assert_eq!(classify("< monitor >"), open("monitor", None, false));
        assert_eq!(classify("<socket/>"), open("socket", None, true));
        assert_eq!(classify("<host db1>"), open("host", Some("db1"), false));
        assert_eq!(
            classify("<host db-1_a>"),
            open("host", Some("db-1_a"), false)
        );
        assert_eq!(
            classify("<check mysql/>"),
            open("check", Some("mysql"), true)
        );
        assert_eq!(
            classify("<check mysql />"),
            open("check", Some("mysql"), true)
        );
        assert_eq!(classify("</host>"), Line::Close);
        assert_eq!(classify("</anything>"), Line::Close);
    }

    #[test]
    fn malformed_tags() {
        for bad in [
            "<host db1",
            "<host db1 x>",
            "<host db.1>",
            "<>",
            "</>",
            "</a b>",
            "<ho-st>",
        ] {
            assert!(matches!(classify(bad), Line::BadTag(_)), "{bad}");
        }
    }
}
