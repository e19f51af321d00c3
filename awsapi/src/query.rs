//! The AWS Query protocol: form-encoded parameters in, XML out.

use std::collections::BTreeMap;

use crate::AwsError;

/// Parameters of a Query request, from the form body and the URL query
/// (the body wins when both carry a name).
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    values: BTreeMap<String, String>,
}

impl QueryParams {
    pub fn parse(url_query: Option<&str>, form_body: &[u8]) -> Self {
        let mut values = BTreeMap::new();
        if let Some(q) = url_query {
            values.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        values.extend(form_urlencoded::parse(form_body).into_owned());
        Self { values }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A required parameter; its absence is the Query protocol's
    /// `MissingParameter`.
    pub fn required(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| {
            AwsError::new("MissingParameter", format!("The request must contain the parameter {name}"))
        })
    }

    /// `Prefix.member.1`, `Prefix.member.2`, … in index order.
    pub fn list(&self, prefix: &str) -> Vec<&str> {
        (1..).map_while(|i| self.get(&format!("{prefix}.member.{i}"))).collect()
    }
}

/// Escapes text for XML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds the inside of a `<Action>Result` element.
#[derive(Debug, Default)]
pub struct XmlBuilder {
    out: String,
}

impl XmlBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// `<name>text</name>`, escaped.
    pub fn text(&mut self, name: &str, text: &str) -> &mut Self {
        self.out.push_str(&format!("<{name}>{}</{name}>", escape(text)));
        self
    }

    /// `<name>…</name>` around whatever `inner` writes.
    pub fn element(&mut self, name: &str, inner: impl FnOnce(&mut XmlBuilder)) -> &mut Self {
        self.out.push_str(&format!("<{name}>"));
        inner(self);
        self.out.push_str(&format!("</{name}>"));
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_and_query_merge_and_lists_are_ordered() {
        let p = QueryParams::parse(
            Some("Action=GetCallerIdentity&Version=2011-06-15"),
            b"PolicyArns.member.2.arn=b&PolicyArns.member.1.arn=a&X=1%202&L.member.1=p&L.member.2=q",
        );
        assert_eq!(p.get("Action"), Some("GetCallerIdentity"));
        assert_eq!(p.get("X"), Some("1 2"));
        assert_eq!(p.list("L"), vec!["p", "q"]);
        assert_eq!(p.required("Nope").unwrap_err().name, "MissingParameter");
    }

    #[test]
    fn xml_is_escaped() {
        let mut b = XmlBuilder::new();
        b.element("A", |b| {
            b.text("B", "x<y&\"z\"");
        });
        assert_eq!(b.finish(), "<A><B>x&lt;y&amp;&quot;z&quot;</B></A>");
    }
}
