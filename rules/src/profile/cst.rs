//! A lossless JSON syntax tree: every byte of the input (whitespace, key order, raw string
//! and number tokens with their escapes) is kept, so writing an unedited tree gives the same
//! bytes back, and an edit changes only the text of what it edits.

use serde_json::Value;

/// Nesting deeper than this is refused (a bound on recursion for hostile input).
const MAX_DEPTH: usize = 128;

/// A syntax error, with its 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A JSON value with the whitespace inside it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A string, number, `true`, `false` or `null`, as its raw token text.
    Scalar(String),
    Array(Array),
    Object(Object),
}

/// `[` items `]`; `empty_ws` is the whitespace between the brackets when there is no item.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Array {
    pub items: Vec<Item>,
    pub empty_ws: String,
}

/// One array element: the whitespace before it (after `[` or `,`) and after it (before `,`
/// or `]`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub before: String,
    pub value: Node,
    pub after: String,
}

/// `{` members `}`; `empty_ws` is the whitespace between the braces when there is no member.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Object {
    pub members: Vec<Member>,
    pub empty_ws: String,
}

/// One object member: `before` `"key"` `colon_before` `:` `colon_after` value `after`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub before: String,
    /// The key's raw token, quotes and escapes included.
    pub raw_key: String,
    /// The decoded key.
    pub key: String,
    pub colon_before: String,
    pub colon_after: String,
    pub value: Node,
    pub after: String,
}

/// A whole JSON text: whitespace (and a byte-order mark) before and after the root value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub prefix: String,
    pub root: Node,
    pub suffix: String,
}

impl Document {
    /// Parses a JSON text.
    pub fn parse(text: &str) -> Result<Document, SyntaxError> {
        let mut p = Parser { s: text, pos: 0 };
        let mut prefix = String::new();
        if let Some(rest) = text.strip_prefix('\u{feff}') {
            prefix.push('\u{feff}');
            p.pos = text.len() - rest.len();
        }
        prefix.push_str(p.ws());
        let root = p.value(0)?;
        let suffix = p.ws().to_string();
        if p.pos < text.len() {
            return Err(p.error("trailing characters after the JSON value"));
        }
        Ok(Document {
            prefix,
            root,
            suffix,
        })
    }

    /// The text, byte for byte as parsed when nothing was edited.
    pub fn write(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(&self.prefix);
        self.root.write(&mut out);
        out.push_str(&self.suffix);
        out
    }
}

impl Node {
    pub fn write(&self, out: &mut String) {
        match self {
            Node::Scalar(raw) => out.push_str(raw),
            Node::Array(a) => {
                out.push('[');
                if a.items.is_empty() {
                    out.push_str(&a.empty_ws);
                }
                for (i, it) in a.items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&it.before);
                    it.value.write(out);
                    out.push_str(&it.after);
                }
                out.push(']');
            }
            Node::Object(o) => {
                out.push('{');
                if o.members.is_empty() {
                    out.push_str(&o.empty_ws);
                }
                for (i, m) in o.members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&m.before);
                    out.push_str(&m.raw_key);
                    out.push_str(&m.colon_before);
                    out.push(':');
                    out.push_str(&m.colon_after);
                    m.value.write(out);
                    out.push_str(&m.after);
                }
                out.push('}');
            }
        }
    }

    /// The value as a `serde_json::Value` (a repeated key keeps the last value, at the place
    /// of its first occurrence, as serde_json does).
    pub fn to_value(&self) -> Value {
        match self {
            // The tokens were validated by the parser, so they parse; Null is unreachable.
            Node::Scalar(raw) => serde_json::from_str(raw).unwrap_or(Value::Null),
            Node::Array(a) => Value::Array(a.items.iter().map(|i| i.value.to_value()).collect()),
            Node::Object(o) => {
                let mut map = serde_json::Map::new();
                for m in &o.members {
                    map.insert(m.key.clone(), m.value.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// A node for `value`, printed as serde_json's pretty printer does with `indent` as the
    /// indentation unit and `newline` as line end, for a value nested `depth` levels deep.
    pub fn render(value: &Value, indent: &str, newline: &str, depth: usize) -> Node {
        Node::from_value(value, indent, newline, depth)
    }

    fn from_value(value: &Value, indent: &str, newline: &str, depth: usize) -> Node {
        let inner = format!("{newline}{}", indent.repeat(depth + 1));
        let close = format!("{newline}{}", indent.repeat(depth));
        match value {
            Value::Array(items) => {
                let n = items.len();
                Node::Array(Array {
                    items: items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Item {
                            before: inner.clone(),
                            value: Node::from_value(v, indent, newline, depth + 1),
                            after: if i + 1 == n {
                                close.clone()
                            } else {
                                String::new()
                            },
                        })
                        .collect(),
                    empty_ws: String::new(),
                })
            }
            Value::Object(map) => {
                let n = map.len();
                Node::Object(Object {
                    members: map
                        .iter()
                        .enumerate()
                        .map(|(i, (k, v))| Member {
                            before: inner.clone(),
                            raw_key: Value::String(k.clone()).to_string(),
                            key: k.clone(),
                            colon_before: String::new(),
                            colon_after: " ".to_string(),
                            value: Node::from_value(v, indent, newline, depth + 1),
                            after: if i + 1 == n {
                                close.clone()
                            } else {
                                String::new()
                            },
                        })
                        .collect(),
                    empty_ws: String::new(),
                })
            }
            scalar => Node::Scalar(scalar.to_string()),
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Node::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Node::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Array> {
        match self {
            Node::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The decoded string of a string scalar.
    pub fn as_str(&self) -> Option<String> {
        match self {
            Node::Scalar(raw) if raw.starts_with('"') => serde_json::from_str(raw).ok(),
            _ => None,
        }
    }
}

impl Object {
    /// The last member named `key` (the one serde_json's value keeps).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.members
            .iter_mut()
            .rev()
            .find(|m| m.key == key)
            .map(|m| &mut m.value)
    }

    /// Removes every member named `key`; true when there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.members.len();
        let mut i = self.members.len();
        while i > 0 {
            i -= 1;
            if self.members[i].key == key {
                remove_at(&mut self.members, i, |m| &mut m.after, &mut self.empty_ws);
            }
        }
        self.members.len() != before
    }
}

impl Array {
    /// Removes element `i` (keeping the whitespace before `]`).
    pub fn remove(&mut self, i: usize) {
        if i < self.items.len() {
            remove_at(&mut self.items, i, |it| &mut it.after, &mut self.empty_ws);
        }
    }

    /// Inserts `value` at `i` (at the end when `i` is past it), copying the whitespace of the
    /// elements around it. `indent`/`newline`/`depth` (the array's own nesting) are used when
    /// the array was empty.
    pub fn insert(&mut self, i: usize, value: Node, indent: &str, newline: &str, depth: usize) {
        let n = self.items.len();
        if n == 0 {
            self.items.push(Item {
                before: format!("{newline}{}", indent.repeat(depth + 1)),
                value,
                after: format!("{newline}{}", indent.repeat(depth)),
            });
            return;
        }
        // Whitespace between an inner element and its comma, as this array writes it.
        let inner_after = if n >= 2 {
            self.items[0].after.clone()
        } else {
            String::new()
        };
        let before = if n >= 2 {
            self.items[n - 1].before.clone()
        } else if self.items[0].before.contains('\n') {
            self.items[0].before.clone()
        } else {
            " ".to_string()
        };
        if i >= n {
            let last_after = std::mem::replace(&mut self.items[n - 1].after, inner_after);
            self.items.push(Item {
                before,
                value,
                after: last_after,
            });
        } else {
            let before = self.items[i].before.clone();
            self.items.insert(
                i,
                Item {
                    before,
                    value,
                    after: inner_after,
                },
            );
        }
    }
}

/// Removes element `i`, moving the closing whitespace of a removed last element onto the new
/// last one, and leaving `[]`/`{}` when nothing remains.
fn remove_at<T>(v: &mut Vec<T>, i: usize, after: fn(&mut T) -> &mut String, empty: &mut String) {
    let n = v.len();
    if n == 1 {
        v.clear();
        empty.clear();
        return;
    }
    if i + 1 == n {
        let closing = std::mem::take(after(&mut v[i]));
        *after(&mut v[i - 1]) = closing;
    }
    v.remove(i);
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: &str) -> SyntaxError {
        let done = self.s.get(..self.pos).unwrap_or(self.s);
        let line = done.matches('\n').count() + 1;
        let column = done.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SyntaxError {
            line,
            column,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn ws(&mut self) -> &'a str {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Node::Scalar(self.string()?.0)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't' | b'f' | b'n') => self.literal(),
            Some(_) => Err(self.error("expected a JSON value")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn literal(&mut self) -> Result<Node, SyntaxError> {
        for lit in ["true", "false", "null"] {
            if self.s.as_bytes()[self.pos..].starts_with(lit.as_bytes()) {
                self.pos += lit.len();
                return Ok(Node::Scalar(lit.to_string()));
            }
        }
        Err(self.error("expected a JSON value"))
    }

    fn number(&mut self) -> Result<Node, SyntaxError> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.pos += 1;
        }
        let raw = &self.s[start..self.pos];
        // serde_json accepts exactly the JSON number grammar here.
        if serde_json::from_str::<serde_json::Number>(raw).is_err() {
            self.pos = start;
            return Err(self.error("invalid number"));
        }
        Ok(Node::Scalar(raw.to_string()))
    }

    /// A string token: its raw text and its decoded value.
    fn string(&mut self) -> Result<(String, String), SyntaxError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.error("unterminated string"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
            }
        }
        let Some(raw) = self.s.get(start..self.pos) else {
            self.pos = start;
            return Err(self.error("unterminated string"));
        };
        match serde_json::from_str::<String>(raw) {
            Ok(decoded) => Ok((raw.to_string(), decoded)),
            Err(e) => {
                self.pos = start;
                Err(self.error(&format!("invalid string: {e}")))
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        self.pos += 1;
        let mut arr = Array::default();
        let ws = self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            arr.empty_ws = ws.to_string();
            return Ok(Node::Array(arr));
        }
        let mut before = ws;
        loop {
            let value = self.value(depth + 1)?;
            let after = self.ws();
            arr.items.push(Item {
                before: before.to_string(),
                value,
                after: after.to_string(),
            });
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    before = self.ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::Array(arr));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        self.pos += 1;
        let mut obj = Object::default();
        let ws = self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            obj.empty_ws = ws.to_string();
            return Ok(Node::Object(obj));
        }
        let mut before = ws;
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let (raw_key, key) = self.string()?;
            let colon_before = self.ws();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            let colon_after = self.ws();
            let value = self.value(depth + 1)?;
            let after = self.ws();
            obj.members.push(Member {
                before: before.to_string(),
                raw_key,
                key,
                colon_before: colon_before.to_string(),
                colon_after: colon_after.to_string(),
                value,
                after: after.to_string(),
            });
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    before = self.ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::Object(obj));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }
}

/// The whitespace style of a document: the indentation unit and the line end.
pub(crate) fn detect_style(doc: &Document) -> (String, String) {
    let mut ws = String::new();
    match &doc.root {
        Node::Object(o) => {
            if let Some(m) = o.members.first() {
                ws = m.before.clone();
            }
        }
        Node::Array(a) => {
            if let Some(i) = a.items.first() {
                ws = i.before.clone();
            }
        }
        Node::Scalar(_) => {}
    }
    let newline = if ws.contains("\r\n") || doc.suffix.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let indent = match ws.rfind('\n') {
        Some(i) if i + 1 < ws.len() => ws[i + 1..].to_string(),
        _ => "  ".to_string(),
    };
    (indent, newline.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(s: &str) {
        let d = Document::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(d.write(), s);
    }

    #[test]
    fn round_trips_odd_spacing() {
        rt("{}");
        rt(" { } \n");
        rt("[ 1 ,2, \"a\\u00e9\\n\" , [ ] , {\"k\" :null}]\r\n");
        rt("\u{feff}{\"a\": -1.5e+3, \"b\": [true, false]}");
        rt("\"x\"");
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "[01]",
            "\"\\x\"",
            "[1] x",
            "{\"a\":1,}",
            "tru",
            "\"abc",
            "[\"a\u{1}\"]",
            "\"\\",
        ] {
            assert!(Document::parse(bad).is_err(), "{bad:?} accepted");
        }
        let deep = "[".repeat(10_000);
        assert!(Document::parse(&deep).is_err());
    }

    #[test]
    fn error_position() {
        let e = Document::parse("{\n  \"a\": x\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
    }

    #[test]
    fn value_and_render() {
        let d = Document::parse("{\"a\": [1, {\"b\": \"\\u0041\"}], \"a\": 2}").unwrap();
        assert_eq!(d.root.to_value(), serde_json::json!({"a": 2}));
        let v = serde_json::json!({"names": ["a", "b"], "action": "X", "args": [], "o": {}});
        let mut s = String::new();
        Node::render(&v, "\t", "\n", 0).write(&mut s);
        let mut expected = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut expected, fmt);
        serde::Serialize::serialize(&v, &mut ser).unwrap();
        assert_eq!(s, String::from_utf8(expected).unwrap());
    }

    #[test]
    fn array_edits_keep_style() {
        let mut d = Document::parse("{\"n\": [\"a\"]}").unwrap();
        let Node::Object(o) = &mut d.root else {
            panic!()
        };
        let a = o.get_mut("n").unwrap().as_array_mut().unwrap();
        a.insert(9, Node::Scalar("\"b\"".into()), "  ", "\n", 1);
        a.insert(9, Node::Scalar("\"c\"".into()), "  ", "\n", 1);
        assert_eq!(d.write(), "{\"n\": [\"a\", \"b\", \"c\"]}");

        let text = "{\n  \"n\": [\n    \"a\",\n    \"b\"\n  ]\n}\n";
        let mut d = Document::parse(text).unwrap();
        let Node::Object(o) = &mut d.root else {
            panic!()
        };
        let a = o.get_mut("n").unwrap().as_array_mut().unwrap();
        a.insert(5, Node::Scalar("\"c\"".into()), "  ", "\n", 1);
        assert_eq!(
            d.write(),
            "{\n  \"n\": [\n    \"a\",\n    \"b\",\n    \"c\"\n  ]\n}\n"
        );
        let Node::Object(o) = &mut d.root else {
            panic!()
        };
        let a = o.get_mut("n").unwrap().as_array_mut().unwrap();
        a.remove(2);
        assert_eq!(d.write(), text);
        let Node::Object(o) = &mut d.root else {
            panic!()
        };
        let a = o.get_mut("n").unwrap().as_array_mut().unwrap();
        a.remove(0);
        a.remove(0);
        assert_eq!(d.write(), "{\n  \"n\": []\n}\n");
        let Node::Object(o) = &mut d.root else {
            panic!()
        };
        let a = o.get_mut("n").unwrap().as_array_mut().unwrap();
        a.insert(0, Node::Scalar("\"z\"".into()), "  ", "\n", 1);
        assert_eq!(d.write(), "{\n  \"n\": [\n    \"z\"\n  ]\n}\n");
        let Node::Object(o) = &mut d.root else {
            panic!()
        };
        assert!(o.remove("n"));
        assert_eq!(d.write(), "{}\n");
    }

    #[test]
    fn style_detection() {
        let d = Document::parse("{\n\t\"a\": 1\n}").unwrap();
        assert_eq!(detect_style(&d), ("\t".to_string(), "\n".to_string()));
        let d = Document::parse("{\"a\": 1}").unwrap();
        assert_eq!(detect_style(&d).0, "  ");
    }
}
