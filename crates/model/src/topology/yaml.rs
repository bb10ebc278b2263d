//! A YAML document as a tree whose every node knows its line, so that each
//! refusal of the topology decoder can name the line it is about.
//!
//! Built on `yaml-rust2`'s marked event stream. Anchors and aliases are
//! refused (a topology has no use for them, and expanding them lets a few
//! hundred bytes stand for billions of nodes), nesting deeper than
//! [`MAX_DEPTH`] is refused, duplicate mapping keys are refused, tags are
//! ignored. The first refusal stops the tree from growing.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One YAML node and the (1-based) line it starts on.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    /// A scalar as written; `quoted` scalars are never null, bool or number.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys are scalars (a non-scalar key is a parse error).
    Map(Vec<(String, Node, usize)>),
}

impl Value {
    /// How a value is named in messages ("a list", "a mapping", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A syntax error: the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// How deep lists and mappings may nest. A topology needs five or six
/// levels; the bound keeps every walk of the tree, and its drop, shallow.
pub const MAX_DEPTH: usize = 64;

/// Parses one YAML document. An empty document is `Null` on line 1.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(text);
    // The events are pulled one by one (`Parser::load` recurses once per
    // nesting level and can overflow the stack); the first refusal stops
    // the reading.
    loop {
        let (event, mark) = parser.next_token().map_err(|e| SyntaxError {
            line: e.marker().line().max(1),
            message: e.info().to_string(),
        })?;
        let done = matches!(event, Event::StreamEnd | Event::DocumentEnd);
        builder.on_event(event, mark);
        if let Some(err) = builder.error {
            return Err(err);
        }
        if done {
            break;
        }
    }
    Ok(builder.root.unwrap_or(Node {
        value: Value::Null,
        line: 1,
    }))
}

enum Open {
    Seq(Node),
    /// A mapping under construction and the key waiting for its value.
    Map(Node, Option<(String, usize)>),
}

#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Open>,
    root: Option<Node>,
    error: Option<SyntaxError>,
}

impl TreeBuilder {
    fn fail(&mut self, line: usize, message: String) {
        if self.error.is_none() {
            self.error = Some(SyntaxError { line, message });
        }
    }

    /// Places a finished node into its parent (or makes it the root).
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(seq)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Open::Map(map, pending)) => match pending.take() {
                None => match &node.value {
                    Value::Scalar { text, .. } => *pending = Some((text.clone(), node.line)),
                    Value::Null => *pending = Some(("null".to_string(), node.line)),
                    _ => {
                        let line = node.line;
                        self.fail(line, "mapping keys must be plain scalars".to_string());
                    }
                },
                Some((key, key_line)) => {
                    let duplicate = match &map.value {
                        Value::Map(entries) => entries.iter().any(|(k, _, _)| *k == key),
                        _ => false,
                    };
                    if duplicate {
                        self.fail(key_line, format!("duplicate key `{key}`"));
                    } else if let Value::Map(entries) = &mut map.value {
                        entries.push((key, node, key_line));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line().max(1);
        let anchored = match &ev {
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _) => *anchor > 0,
            _ => false,
        };
        if anchored {
            return self.fail(
                line,
                "anchors (&name) are not accepted in a topology file: write the value out".into(),
            );
        }
        match ev {
            Event::Scalar(text, style, _, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let value =
                    if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                        Value::Null
                    } else {
                        Value::Scalar { text, quoted }
                    };
                self.push_node(Node { value, line });
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.fail(
                    line,
                    format!("lists and mappings nest deeper than {MAX_DEPTH} levels"),
                );
            }
            Event::SequenceStart(..) => self.stack.push(Open::Seq(Node {
                value: Value::Seq(Vec::new()),
                line,
            })),
            Event::MappingStart(..) => self.stack.push(Open::Map(
                Node {
                    value: Value::Map(Vec::new()),
                    line,
                },
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = self.stack.pop() {
                    let node = match open {
                        Open::Seq(node) | Open::Map(node, _) => node,
                    };
                    self.push_node(node);
                }
            }
            Event::Alias(_) => self.fail(
                line,
                "aliases (*name) are not accepted in a topology file: write the value out".into(),
            ),
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_their_lines() {
        let doc = parse("a: 1\nb:\n  - x\n  - 'y'\n").unwrap();
        let Value::Map(entries) = doc.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0, "a");
        assert_eq!(entries[0].2, 1);
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[1].line, 4);
        assert!(matches!(&items[1].value, Value::Scalar { text, quoted: true } if text == "y"));
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("duplicate key `a`"));
    }

    #[test]
    fn syntax_errors_have_lines() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1);
        let err = parse("a:\n  b: 1\n c: 2\n").unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn anchors_and_aliases_are_refused_at_their_line() {
        let err = parse("a: &x [1]\nb: *x\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(
            err.message.contains("anchors (&name) are not accepted"),
            "{err:?}"
        );
        // An alias always follows its anchor, which is refused first; one
        // without an anchor is a syntax error of its own.
        let err = parse("a: [1]\nb: *x\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("unknown anchor"), "{err:?}");
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        // Block style: the scanner has no limit of its own.
        let deep = format!("{}x\n", "- ".repeat(100_000));
        let err = parse(&deep).unwrap_err();
        assert!(err.message.contains("nest deeper than 64"), "{err:?}");
        // Flow style: the scanner stops at 255 levels, before the tree.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn empty_document_is_null() {
        assert!(matches!(parse("").unwrap().value, Value::Null));
        assert!(matches!(
            parse("# only a comment\n").unwrap().value,
            Value::Null
        ));
    }
}
