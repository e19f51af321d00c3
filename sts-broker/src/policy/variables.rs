//! Policy variables (`${key}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`), spec §8.4.

use super::Context;
use super::wildcard::{self, Token};

/// A `Resource` entry or condition value, with its policy variables parsed out.
#[derive(Debug, Clone)]
pub(super) struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    /// Policy text: `*` and `?` are wildcards.
    Text(String),
    /// An escape (`${*}`, `${?}`, `${$}`): the character itself, never a wildcard.
    Literal(char),
    /// `${key}` or `${key, 'default'}`. Substituted values match literally.
    Variable { key: String, default: Option<String> },
}

impl Template {
    /// Parses `text`; variables are recognised only under Version 2012-10-17.
    pub(super) fn parse(text: &str, variables: bool) -> Result<Template, String> {
        if !variables {
            return Ok(Template { parts: vec![Part::Text(text.to_owned())] });
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let (part, len) = parse_variable(&rest[start + 2..])
                .map_err(|reason| format!("invalid policy variable in \"{text}\": {reason}"))?;
            parts.push(part);
            rest = &rest[start + 2 + len..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    pub(super) fn has_variables(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Variable { .. }))
    }

    /// Substitutes variables from `context`; `None` if one has neither a value nor a default.
    pub(super) fn resolve(&self, context: &Context) -> Option<Vec<Token>> {
        let mut tokens = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => tokens.extend(wildcard::compile(text)),
                Part::Literal(c) => tokens.push(Token::Char(*c)),
                Part::Variable { key, default } => {
                    let value = context.variable(key).or(default.as_deref())?;
                    tokens.extend(wildcard::literal(value));
                }
            }
        }
        Some(tokens)
    }
}

/// Parses the inside of `${...}` at the start of `text` (just after `${`); returns the part and
/// the length consumed, closing brace included.
fn parse_variable(text: &str) -> Result<(Part, usize), String> {
    // The closing brace is the first `}` outside a single-quoted default.
    let mut quoted = false;
    let end = text
        .char_indices()
        .find(|&(_, c)| {
            if c == '\'' {
                quoted = !quoted;
            }
            c == '}' && !quoted
        })
        .map(|(i, _)| i)
        .ok_or("missing closing \"}\"")?;
    let inner = &text[..end];
    let part = match inner {
        "*" => Part::Literal('*'),
        "?" => Part::Literal('?'),
        "$" => Part::Literal('$'),
        _ => {
            let (key, default) = match inner.split_once(',') {
                None => (inner, None),
                Some((key, default)) => {
                    let default = default
                        .trim()
                        .strip_prefix('\'')
                        .and_then(|d| d.strip_suffix('\''))
                        .ok_or("a default value must be single-quoted")?;
                    (key, Some(default.to_owned()))
                }
            };
            let key = key.trim();
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err("a variable needs a key name".to_owned());
            }
            Part::Variable { key: key.to_owned(), default }
        }
    };
    Ok((part, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, context: &Context) -> Option<String> {
        let tokens = Template::parse(template, true).unwrap().resolve(context)?;
        Some(tokens.into_iter().map(Token::as_char).collect())
    }

    #[test]
    fn substitutes_defaults_and_escapes() {
        let mut context = Context::new();
        context.insert("aws:username", "alice");
        context.insert_multi("aws:TagKeys", vec!["a".into(), "b".into()]);
        assert_eq!(render("home/${aws:userName}/*", &context).as_deref(), Some("home/alice/*"));
        assert_eq!(render("${aws:TagKeys}", &context), None);
        assert_eq!(render("${missing}", &context), None);
        assert_eq!(render("${missing, 'a}b'}-${aws:username, 'x'}", &context).as_deref(), Some("a}b-alice"));
        assert_eq!(render("${*}${?}${$}", &context).as_deref(), Some("*?$"));
        let escaped = Template::parse("${*}", true).unwrap().resolve(&context).unwrap();
        assert_eq!(escaped, vec![Token::Char('*')]);
        assert!(!Template::parse("${aws:username}", false).unwrap().has_variables());
        for bad in ["${", "${}", "${a, b}", "${a b}", "x${a, 'b}"] {
            assert!(Template::parse(bad, true).is_err(), "{bad}");
        }
    }
}
