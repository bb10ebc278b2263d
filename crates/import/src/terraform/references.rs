//! What expressions refer to: the references (`root.attr...`) and function
//! calls of an expression or a body, with where they are, so that the
//! reader orders its work and refuses what it cannot evaluate.

use hcl::edit::expr::{Expression as Expr, ForExpr, FuncCall, Traversal, TraversalOperator};
use hcl::edit::structure::{Block, BlockLabel, Body};
use hcl::edit::template::ForTemplateExpr;
use hcl::edit::visit::{self, Visit};
use hcl::edit::Span;
use std::ops::Range;

/// A reference (`root.attr...`) or a function call, and where it is.
#[derive(Debug)]
pub(super) enum Found {
    Ref {
        root: String,
        attr: Option<String>,
        span: Option<Range<usize>>,
    },
    Func {
        name: String,
        span: Option<Range<usize>>,
    },
}

/// Walks expressions, keeping the names `for` expressions and `dynamic`
/// blocks bind, which are not references.
#[derive(Default)]
pub(super) struct Walker {
    pub(super) bound: Vec<String>,
    pub(super) found: Vec<Found>,
}

impl Visit for Walker {
    fn visit_traversal(&mut self, node: &Traversal) {
        if let Expr::Variable(root) = &node.expr {
            let root = root.as_str().to_string();
            if !self.bound.contains(&root) {
                let attr = match node.operators.first().map(|o| o.value()) {
                    Some(TraversalOperator::GetAttr(a)) => Some(a.as_str().to_string()),
                    _ => None,
                };
                self.found.push(Found::Ref {
                    root,
                    attr,
                    span: node.span(),
                });
            }
        }
        visit::visit_traversal(self, node);
    }

    fn visit_func_call(&mut self, node: &FuncCall) {
        let mut name: Vec<&str> = node.name.namespace.iter().map(|n| n.as_str()).collect();
        name.push(node.name.name.as_str());
        self.found.push(Found::Func {
            name: name.join("::"),
            span: node.span(),
        });
        visit::visit_func_call(self, node);
    }

    fn visit_for_expr(&mut self, node: &ForExpr) {
        self.visit_expr(&node.intro.collection_expr);
        let before = self.bound.len();
        if let Some(k) = &node.intro.key_var {
            self.bound.push(k.as_str().to_string());
        }
        self.bound.push(node.intro.value_var.as_str().to_string());
        if let Some(k) = &node.key_expr {
            self.visit_expr(k);
        }
        self.visit_expr(&node.value_expr);
        if let Some(c) = &node.cond {
            self.visit_expr(&c.expr);
        }
        self.bound.truncate(before);
    }

    fn visit_for_template_expr(&mut self, node: &ForTemplateExpr) {
        self.visit_expr(&node.collection_expr);
        let before = self.bound.len();
        if let Some(k) = &node.key_var {
            self.bound.push(k.as_str().to_string());
        }
        self.bound.push(node.value_var.as_str().to_string());
        self.visit_template(&node.template);
        self.bound.truncate(before);
    }

    fn visit_block(&mut self, node: &Block) {
        if node.ident.as_str() != "dynamic" {
            visit::visit_block(self, node);
            return;
        }
        let iterator = match node.body.get_attribute("iterator").map(|a| &a.value) {
            Some(Expr::Variable(v)) => v.as_str().to_string(),
            _ => node.labels.first().map(label_text).unwrap_or_default(),
        };
        if let Some(for_each) = node.body.get_attribute("for_each") {
            self.visit_expr(&for_each.value);
        }
        self.bound.push(iterator);
        for content in node.body.blocks().filter(|b| b.ident.as_str() == "content") {
            self.visit_body(&content.body);
        }
        self.bound.pop();
    }
}

pub(super) fn references_in_expr(expr: &Expr) -> Vec<Found> {
    let mut w = Walker::default();
    w.visit_expr(expr);
    w.found
}

pub(super) fn references_in_body(body: &Body) -> Vec<Found> {
    let mut w = Walker::default();
    w.visit_body(body);
    w.found
}

/// A block's label as written, quoted or not.
pub(super) fn label_text(label: &BlockLabel) -> String {
    match label {
        BlockLabel::Ident(i) => i.as_str().to_string(),
        BlockLabel::String(s) => s.as_str().to_string(),
    }
}
