//! A YAML document as a tree whose every node knows its line, so that each
//! refusal of the topology decoder can name the line it is about.
//!
//! Built on `yaml-rust2`'s marked event stream; anchors and aliases are
//! resolved, duplicate mapping keys are refused, tags are ignored.

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

/// Parses one YAML document. An empty document is `Null` on line 1.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        line: e.marker().line().max(1),
        message: e.info().to_string(),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
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
    stack: Vec<(Open, usize)>,
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
    error: Option<SyntaxError>,
}

impl TreeBuilder {
    fn fail(&mut self, line: usize, message: String) {
        if self.error.is_none() {
            self.error = Some(SyntaxError { line, message });
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
    }

    /// Places a finished node into its parent (or makes it the root).
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some((Open::Seq(seq), _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some((Open::Map(map, pending), _)) => match pending.take() {
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
        let line = mark.line().max(1);
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let value =
                    if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                        Value::Null
                    } else {
                        Value::Scalar { text, quoted }
                    };
                let node = Node { value, line };
                self.remember(anchor, &node);
                self.push_node(node);
            }
            Event::SequenceStart(anchor, _) => self.stack.push((
                Open::Seq(Node {
                    value: Value::Seq(Vec::new()),
                    line,
                }),
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.stack.push((
                Open::Map(
                    Node {
                        value: Value::Map(Vec::new()),
                        line,
                    },
                    None,
                ),
                anchor,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((open, anchor)) = self.stack.pop() {
                    let node = match open {
                        Open::Seq(node) | Open::Map(node, _) => node,
                    };
                    self.remember(anchor, &node);
                    self.push_node(node);
                }
            }
            Event::Alias(anchor) => match self.anchors.iter().rev().find(|(a, _)| *a == anchor) {
                Some((_, node)) => {
                    let mut node = node.clone();
                    node.line = line;
                    self.push_node(node);
                }
                None => self.fail(line, "alias to an unknown anchor".to_string()),
            },
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
    fn aliases_resolve() {
        let doc = parse("a: &x [1]\nb: *x\n").unwrap();
        let Value::Map(entries) = doc.value else {
            panic!()
        };
        assert!(matches!(&entries[1].1.value, Value::Seq(v) if v.len() == 1));
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
