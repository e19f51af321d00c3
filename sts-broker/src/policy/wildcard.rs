//! `*` / `?` wildcard matching for actions, resources, `StringLike` and `ArnLike` (spec §8.2).

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
    /// A character that must match itself.
    Char(char),
    /// `*`: any run of characters, including none.
    AnyRun,
    /// `?`: exactly one character.
    AnyOne,
}

impl Token {
    /// The character this token was written as.
    pub(super) fn as_char(self) -> char {
        match self {
            Token::Char(c) => c,
            Token::AnyRun => '*',
            Token::AnyOne => '?',
        }
    }
}

/// Compiles pattern text where `*` and `?` are wildcards.
pub(super) fn compile(pattern: &str) -> impl Iterator<Item = Token> + '_ {
    pattern.chars().map(|c| match c {
        '*' => Token::AnyRun,
        '?' => Token::AnyOne,
        c => Token::Char(c),
    })
}

/// Tokens that match exactly `text`, wildcard characters included.
pub(super) fn literal(text: &str) -> impl Iterator<Item = Token> + '_ {
    text.chars().map(Token::Char)
}

/// Matches a whole `text` against `pattern`.
///
/// Greedy with a single backtrack point (the last `*` seen), so it runs in O(pattern × text) time
/// whatever the pattern: a later `*` can absorb anything an earlier one would have.
pub(super) fn matches(pattern: &[Token], text: &[char], ignore_case: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    // Pattern position after the last `*`, and the text position that `*` currently stops at.
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some(&c) = text.get(t) {
        match pattern.get(p) {
            Some(Token::AnyRun) => {
                p += 1;
                backtrack = Some((p, t));
                continue;
            }
            Some(Token::AnyOne) => {
                p += 1;
                t += 1;
                continue;
            }
            Some(&Token::Char(expected)) if chars_equal(expected, c, ignore_case) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        let Some((after_star, star_end)) = backtrack else {
            return false;
        };
        p = after_star;
        t = star_end + 1;
        backtrack = Some((after_star, t));
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|tok| *tok == Token::AnyRun))
}

fn chars_equal(a: char, b: char, ignore_case: bool) -> bool {
    a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()))
}

/// Matches a text pattern against a text (both as `str`), `*` and `?` being wildcards.
#[cfg(test)]
pub(super) fn matches_str(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let pattern: Vec<Token> = compile(pattern).collect();
    let text: Vec<char> = text.chars().collect();
    matches(&pattern, &text, ignore_case)
}

/// Matches a resource or ARN: `*` matches anything; when both sides are ARNs, the six components
/// (`arn:partition:service:region:account:resource`) match one by one, so a wildcard stays within
/// its component; otherwise the whole text is matched as a glob.
pub(super) fn matches_resource(pattern: &[Token], resource: &str) -> bool {
    if pattern == [Token::AnyRun] {
        return true;
    }
    let text: Vec<char> = resource.chars().collect();
    let pattern_parts = arn_components(pattern, |t| *t == Token::Char(':'), |t| *t);
    let text_parts = arn_components(&text, |c| *c == ':', |c| Token::Char(*c));
    match (pattern_parts, text_parts) {
        (Some(pattern_parts), Some(text_parts)) => {
            pattern_parts.iter().zip(text_parts).all(|(p, t)| matches(p, t, false))
        }
        _ => matches(pattern, &text, false),
    }
}

/// Splits a literal `arn:` prefix and four more colons off `items`; the sixth component is the rest.
fn arn_components<T>(
    items: &[T],
    is_colon: impl Fn(&T) -> bool,
    token: impl Fn(&T) -> Token,
) -> Option<[&[T]; 6]> {
    let prefix = "arn:".chars().map(Token::Char);
    if !items.iter().map(&token).take(4).eq(prefix) {
        return None;
    }
    let mut parts: [&[T]; 6] = [&[]; 6];
    let mut rest = items;
    for part in parts.iter_mut().take(5) {
        let colon = rest.iter().position(&is_colon)?;
        *part = rest.get(..colon)?;
        rest = rest.get(colon + 1..)?;
    }
    parts[5] = rest;
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(pattern: &str, text: &str) -> bool {
        matches_resource(&compile(pattern).collect::<Vec<_>>(), text)
    }

    #[test]
    fn globs() {
        assert!(matches_str("", "", false));
        assert!(!matches_str("", "a", false));
        assert!(matches_str("*", "", false));
        assert!(matches_str("a*b?d", "axxxbcd", false));
        assert!(!matches_str("a*b?d", "axxxbd", false));
        assert!(matches_str("S3:GET*", "s3:getobject", true));
        assert!(!matches_str("S3:GET*", "s3:getobject", false));
        let evil = format!("{}b", "a*".repeat(200));
        assert!(!matches_str(&evil, &"a".repeat(5000), false));
    }

    #[test]
    fn arns_match_component_wise() {
        assert!(resource("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b/c"));
        assert!(resource("arn:aws:ec2:*:123:instance/*", "arn:aws:ec2:eu-west-1:123:instance/i-1"));
        assert!(!resource("arn:aws:sqs:us-*:123:q", "arn:aws:sqs:us-east-1:0:123:q"));
        assert!(matches_str("arn:aws:sqs:us-*:123:q", "arn:aws:sqs:us-east-1:0:123:q", false));
        assert!(resource("*", "anything at all"));
        assert!(resource("bucket-*", "bucket-1"));
        assert!(!resource("arn:aws:s3:::b", "arn:aws:s3:::B"));
    }
}
