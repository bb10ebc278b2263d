//! String templates: interpolations, `%{if}` and `%{for}` directives and
//! their strip markers (`~`).

use super::*;
use crate::quoted;
use hcl::expr::TemplateExpr;
use hcl::template::{Directive, Element, Strip, Template};
use hcl::Value;

impl Evaluator<'_> {
    pub(super) fn template_expr(
        &self,
        template: &TemplateExpr,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<(Value, usize), Fault> {
        let template = Template::from_expr(template).map_err(|e| {
            failed(format!(
                "the template cannot be read: {}",
                quoted(&e.to_string())
            ))
        })?;
        // A template that is one interpolation and nothing else is the
        // interpolated value itself, as in HCL.
        if let [Element::Interpolation(only)] = template.elements() {
            return self.eval(&only.expr, locals, depth);
        }
        let mut out = String::new();
        self.template(&mut out, &template, locals, depth, Strip::None, Strip::None)?;
        let size = VALUE_OVERHEAD + out.len();
        self.made(Value::String(out), size)
    }

    /// Appends `template` to `out`, `before` and `after` the strip markers
    /// of what surrounds it.
    pub(super) fn template(
        &self,
        out: &mut String,
        template: &Template,
        locals: &mut Locals,
        depth: usize,
        before: Strip,
        after: Strip,
    ) -> Result<(), Fault> {
        let elements = template.elements();
        for (at, element) in elements.iter().enumerate() {
            let prev = if at == 0 {
                before
            } else {
                strip_of(&elements[at - 1])
            };
            let next = elements.get(at + 1).map_or(after, strip_of);
            let text = match element {
                Element::Literal(literal) => strip_literal(literal, prev, next).to_string(),
                Element::Interpolation(interpolation) => {
                    match self.eval(&interpolation.expr, locals, depth)?.0 {
                        Value::String(s) => s,
                        other => other.to_string(),
                    }
                }
                Element::Directive(directive) => {
                    self.directive(out, directive, locals, depth)?;
                    continue;
                }
            };
            check_string(out.len() + text.len())?;
            self.budget.charge(text.len())?;
            out.push_str(&text);
        }
        Ok(())
    }

    pub(super) fn directive(
        &self,
        out: &mut String,
        directive: &Directive,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<(), Fault> {
        match directive {
            Directive::If(dir) => match self.eval(&dir.cond_expr, locals, depth)?.0 {
                Value::Bool(true) => {
                    let after = if dir.false_template.is_some() {
                        dir.else_strip
                    } else {
                        dir.endif_strip
                    };
                    self.template(out, &dir.true_template, locals, depth, dir.if_strip, after)
                }
                Value::Bool(false) => match &dir.false_template {
                    Some(template) => self.template(
                        out,
                        template,
                        locals,
                        depth,
                        dir.else_strip,
                        dir.endif_strip,
                    ),
                    None => Ok(()),
                },
                other => Err(unexpected(&other, "a boolean")),
            },
            Directive::For(dir) => {
                let entries = match self.collection(&dir.collection_expr, locals, depth)? {
                    Ok(entries) => entries,
                    // A directive over an unknown makes an unknown text.
                    Err(unknown) => {
                        let value = super::derived("a template for directive", &unknown);
                        if let Value::String(s) = value {
                            out.push_str(&s);
                        }
                        return Ok(());
                    }
                };
                let key_var = dir.key_var.as_ref().map(|k| k.as_str().to_string());
                let value_var = dir.value_var.as_str().to_string();
                for (key, value) in entries {
                    let bound = locals.len();
                    if let Some(k) = &key_var {
                        locals.push((k.clone(), key));
                    }
                    locals.push((value_var.clone(), value));
                    let done = self.template(
                        out,
                        &dir.template,
                        locals,
                        depth,
                        dir.for_strip,
                        dir.endfor_strip,
                    );
                    locals.truncate(bound);
                    done?;
                }
                Ok(())
            }
        }
    }
}

/// The strip markers an element shows its neighbours.
pub(super) fn strip_of(element: &Element) -> Strip {
    match element {
        Element::Literal(_) => Strip::None,
        Element::Interpolation(interpolation) => interpolation.strip,
        Element::Directive(directive) => match &**directive {
            Directive::If(dir) => {
                Strip::from((dir.if_strip.strip_start(), dir.endif_strip.strip_end()))
            }
            Directive::For(dir) => {
                Strip::from((dir.for_strip.strip_start(), dir.endfor_strip.strip_end()))
            }
        },
    }
}

/// A literal with the spaces (and one line break) next to a strip marker
/// removed, as HCL does.
pub(super) fn strip_literal(mut literal: &str, prev: Strip, next: Strip) -> &str {
    let is_space = |c: char| c.is_whitespace() && c != '\r' && c != '\n';
    let line_breaks = ["\r\n", "\n"];
    if prev.strip_end() {
        literal = literal.trim_start_matches(is_space);
        let rest = line_breaks.iter().find_map(|b| literal.strip_prefix(b));
        literal = rest.unwrap_or(literal);
    }
    if next.strip_start() {
        literal = literal.trim_end_matches(is_space);
        let rest = line_breaks.iter().find_map(|b| literal.strip_suffix(b));
        literal = rest.unwrap_or(literal);
    }
    literal
}
