//! The evaluation of Terraform expressions, within bounds.
//!
//! A configuration is input like any other: a few lines that double a
//! string forty times would otherwise ask for terabytes. Every value this
//! evaluator makes is held to [`MAX_STRING_BYTES`] per string,
//! [`MAX_ELEMENTS`] per list or map and [`MAX_VALUE_BYTES`] per value
//! (everything nested in it), checked before the value is made, and every
//! step of the whole import is counted against [`MAX_WORK`]. A value past
//! a bound is an error of the expression that would make it; work past
//! [`MAX_WORK`] ends the import.
//!
//! It evaluates what hcl-rs's evaluator does, the same way (templates with
//! their strip markers and directives, `for` expressions, splats,
//! conditionals, operators), with [`super::functions`], on names a
//! [`Names`] gives: references are followed in place, and only the value
//! reached is copied, never the whole variable it is part of. Messages
//! quote at most [`crate::QUOTED_BYTES`] of any value.

use super::functions;
use super::unknown::{derived, is_unknown, through, unknown};
use crate::quoted;
use hcl::expr::{
    BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, Operation, Traversal,
    TraversalOperator, UnaryOperator,
};
use hcl::{Map, Number, Value};
mod template;

pub use super::limits::*;

/// The names a `for` expression or directive binds, innermost last.
type Locals = Vec<(String, Value)>;

/// One element a `for` expression makes: its key (for a map) and its
/// value with the value's size.
type ForElement = (Option<String>, (Value, usize));

/// Evaluates expressions on `names`, spending `budget`.
pub struct Evaluator<'a> {
    names: &'a dyn Names,
    budget: &'a Budget,
}

impl<'a> Evaluator<'a> {
    pub fn new(names: &'a dyn Names, budget: &'a Budget) -> Self {
        Evaluator { names, budget }
    }

    /// The value of `expr`.
    pub fn evaluate(&self, expr: &Expression) -> Result<Value, Fault> {
        self.eval(expr, &mut Vec::new(), 0).map(|(value, _)| value)
    }

    /// A made value with its size, checked and paid for.
    fn made(&self, value: Value, size: usize) -> Result<(Value, usize), Fault> {
        check_value(size)?;
        self.budget.charge(size)?;
        Ok((value, size))
    }

    /// A copy of `value`, paid for.
    fn copied(&self, value: &Value) -> Result<(Value, usize), Fault> {
        let size = size_of(value);
        self.budget.charge(size)?;
        Ok((value.clone(), size))
    }

    fn eval(
        &self,
        expr: &Expression,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<(Value, usize), Fault> {
        if depth >= MAX_DEPTH {
            return Err(Fault::TooLarge(format!(
                "the expression nests more than {MAX_DEPTH} levels deep"
            )));
        }
        self.budget.charge(1)?;
        let depth = depth + 1;
        match expr {
            Expression::Null => Ok((Value::Null, VALUE_OVERHEAD)),
            Expression::Bool(b) => Ok((Value::Bool(*b), VALUE_OVERHEAD)),
            Expression::Number(n) => Ok((Value::Number(*n), VALUE_OVERHEAD)),
            Expression::String(s) => {
                check_string(s.len())?;
                self.made(Value::String(s.clone()), VALUE_OVERHEAD + s.len())
            }
            Expression::Array(items) => {
                check_elements(items.len())?;
                let mut out = Vec::with_capacity(items.len());
                let mut size = VALUE_OVERHEAD;
                for item in items {
                    let (value, item_size) = self.eval(item, locals, depth)?;
                    size += item_size;
                    check_value(size)?;
                    out.push(value);
                }
                Ok((Value::Array(out), size))
            }
            Expression::Object(object) => {
                check_elements(object.len())?;
                let mut out = Map::with_capacity(object.len());
                let mut size = VALUE_OVERHEAD;
                for (key, value) in object.iter() {
                    let key = match key {
                        ObjectKey::Expression(key) => self.object_key(key, locals, depth)?,
                        other => other.to_string(),
                    };
                    let (value, value_size) = self.eval(value, locals, depth)?;
                    size += key.len() + value_size;
                    check_value(size)?;
                    out.insert(key, value);
                }
                Ok((Value::Object(out), size))
            }
            Expression::TemplateExpr(template) => self.template_expr(template, locals, depth),
            Expression::Variable(name) => self.variable(name.as_str(), locals),
            Expression::Traversal(traversal) => self.traversal(traversal, locals, depth),
            Expression::FuncCall(call) => self.call(call, locals, depth),
            Expression::Parenthesis(inner) => self.eval(inner, locals, depth),
            Expression::Conditional(cond) => match self.eval(&cond.cond_expr, locals, depth)?.0 {
                Value::Bool(true) => self.eval(&cond.true_expr, locals, depth),
                Value::Bool(false) => self.eval(&cond.false_expr, locals, depth),
                other if is_unknown(&other) => Ok((derived("a condition", &other), VALUE_OVERHEAD)),
                other => Err(unexpected(&other, "a boolean")),
            },
            Expression::Operation(operation) => self.operation(operation, locals, depth),
            Expression::ForExpr(for_expr) => self.for_expr(for_expr, locals, depth),
            other => Err(failed(format!(
                "`{}` is not an expression vnetd evaluates",
                quoted(&other.to_string())
            ))),
        }
    }

    /// An object key from an expression: a string, or a number or bool
    /// written as one.
    fn object_key(
        &self,
        expr: &Expression,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<String, Fault> {
        match self.eval(expr, locals, depth)?.0 {
            Value::String(s) => Ok(s),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(unexpected(&other, "a string, boolean or number")),
        }
    }

    /// What a name stands for: a `for` variable, else one of `names`.
    fn variable(&self, name: &str, locals: &Locals) -> Result<(Value, usize), Fault> {
        if let Some((_, value)) = locals.iter().rev().find(|(n, _)| n == name) {
            return self.copied(value);
        }
        match self.names.root(name) {
            Some(Root::Value(value)) => self.copied(value),
            Some(Root::Members(map)) => {
                let value = Value::Object(map.clone());
                let size = size_of(&value);
                self.made(value, size)
            }
            Some(Root::Owned(value)) => {
                let size = size_of(&value);
                self.made(value, size)
            }
            None => Err(failed(format!("undefined variable `{name}`"))),
        }
    }

    fn traversal(
        &self,
        traversal: &Traversal,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<(Value, usize), Fault> {
        // Index expressions first: they are evaluated once, whatever a
        // splat then does with them.
        let mut steps = Vec::with_capacity(traversal.operators.len());
        for operator in &traversal.operators {
            steps.push(match operator {
                TraversalOperator::GetAttr(name) => Step::Key(name.as_str().to_string()),
                TraversalOperator::LegacyIndex(index) => Step::Index(*index),
                TraversalOperator::Index(expr) => match self.eval(expr, locals, depth)?.0 {
                    Value::String(key) => Step::Key(key),
                    Value::Number(n) => match n.as_u64() {
                        Some(index) => Step::Index(index),
                        None => return Err(unexpected(&Value::Number(n), "an unsigned integer")),
                    },
                    other => return Err(unexpected(&other, "an unsigned integer or string")),
                },
                TraversalOperator::AttrSplat => Step::AttrSplat,
                TraversalOperator::FullSplat => Step::FullSplat,
            });
        }
        // A name is followed in place; anything else is evaluated first.
        let owned;
        let root = match &traversal.expr {
            Expression::Variable(name) if !locals.iter().any(|(n, _)| n == name.as_str()) => {
                Some(name.as_str())
            }
            _ => None,
        };
        let start = match &traversal.expr {
            Expression::Variable(name) => {
                let name = name.as_str();
                match locals.iter().rev().find(|(n, _)| n == name) {
                    Some((_, value)) => Place::Value(value),
                    None => match self.names.root(name) {
                        Some(Root::Value(value)) => Place::Value(value),
                        Some(Root::Members(map)) => Place::Members(map),
                        Some(Root::Owned(value)) => {
                            owned = value;
                            Place::Value(&owned)
                        }
                        None => return Err(failed(format!("undefined variable `{name}`"))),
                    },
                }
            }
            other => {
                owned = self.eval(other, locals, depth)?.0;
                Place::Value(&owned)
            }
        };
        let value = match (self.follow(start, &steps), root) {
            // A named value reached: its unknowns record the name.
            (Ok(value), Some(root)) => through(value, &traversal_text(root, &steps)),
            (Ok(value), None) => value,
            (Err(Fault::NoSuchKey(_)), Some(root)) if self.names.computes(root) => {
                unknown(&traversal_text(root, &steps))
            }
            (Err(fault), _) => return Err(fault),
        };
        let size = size_of(&value);
        self.made(value, size)
    }

    /// The value `steps` reach from `place`, copying only what is reached
    /// (and, through a splat, the list it makes).
    fn follow(&self, mut place: Place<'_>, steps: &[Step]) -> Result<Value, Fault> {
        for (at, step) in steps.iter().enumerate() {
            // Whatever is reached from an unknown is unknown.
            if let Place::Value(value @ Value::String(_)) = place {
                if is_unknown(value) {
                    return Ok(value.clone());
                }
            }
            place = match step {
                Step::Key(key) => match place {
                    Place::Members(map) => {
                        Place::Value(map.get(key).ok_or_else(|| Fault::NoSuchKey(key.clone()))?)
                    }
                    Place::Value(Value::Object(map)) => {
                        Place::Value(map.get(key).ok_or_else(|| Fault::NoSuchKey(key.clone()))?)
                    }
                    Place::Value(other) => return Err(unexpected(other, "an object")),
                },
                Step::Index(index) => match place {
                    Place::Value(Value::Array(items)) => Place::Value(
                        usize::try_from(*index)
                            .ok()
                            .and_then(|i| items.get(i))
                            .ok_or_else(|| failed(format!("index out of bounds: {index}")))?,
                    ),
                    Place::Value(other) => return Err(unexpected(other, "an array")),
                    Place::Members(_) => return Err(failed("a list was expected, not an object")),
                },
                Step::AttrSplat | Step::FullSplat => {
                    let rest = &steps[at + 1..];
                    // `.*` applies the attribute steps after it to each
                    // element; `[*]` every step after it.
                    let (each, after) = match step {
                        Step::AttrSplat => {
                            let attrs = rest
                                .iter()
                                .take_while(|s| matches!(s, Step::Key(_)))
                                .count();
                            rest.split_at(attrs)
                        }
                        _ => (rest, &rest[rest.len()..]),
                    };
                    let items: Vec<Value> = match place {
                        Place::Value(Value::Array(items)) => items
                            .iter()
                            .map(|item| self.follow(Place::Value(item), each))
                            .collect::<Result<_, _>>()?,
                        Place::Value(Value::Null) => Vec::new(),
                        Place::Value(other) => vec![self.follow(Place::Value(other), each)?],
                        Place::Members(map) => {
                            let whole = Value::Object(map.clone());
                            vec![self.follow(Place::Value(&whole), each)?]
                        }
                    };
                    let list = Value::Array(items);
                    check_value(size_of(&list))?;
                    return self.follow(Place::Value(&list), after);
                }
            };
        }
        Ok(match place {
            Place::Value(value) => value.clone(),
            Place::Members(map) => Value::Object(map.clone()),
        })
    }

    fn call(
        &self,
        call: &FuncCall,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<(Value, usize), Fault> {
        let name = call.name.to_string();
        if !functions::NAMES.contains(&name.as_str()) {
            // Not evaluated here (`timestamp()`, `file()`): as unknown as
            // a value Azure computes.
            let value = unknown(&format!("{name}()"));
            let size = size_of(&value);
            return self.made(value, size);
        }
        let mut args = Vec::with_capacity(call.args.len());
        let last = call.args.len().saturating_sub(1);
        for (at, arg) in call.args.iter().enumerate() {
            let (value, _) = self.eval(arg, locals, depth)?;
            if call.expand_final && at == last {
                match value {
                    Value::Array(items) => args.extend(items),
                    other => return Err(unexpected(&other, "an array")),
                }
            } else {
                args.push(value);
            }
        }
        if let Some(from) = args.iter().find(|a| is_unknown(a)) {
            if !functions::OPAQUE.contains(&name.as_str()) {
                let value = derived(&format!("{name}(...)"), from);
                let size = size_of(&value);
                return self.made(value, size);
            }
        }
        let value = functions::call(&name, &args)
            .map_err(|why| failed(format!("error calling function `{name}`: {why}")))?;
        let size = size_of(&value);
        self.made(value, size)
    }

    fn operation(
        &self,
        operation: &Operation,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<(Value, usize), Fault> {
        let value = match operation {
            Operation::Unary(unary) => {
                let value = self.eval(&unary.expr, locals, depth)?.0;
                match (unary.operator, value) {
                    (operator, value) if is_unknown(&value) => {
                        derived(&format!("`{operator}`"), &value)
                    }
                    (UnaryOperator::Not, Value::Bool(b)) => Value::Bool(!b),
                    (UnaryOperator::Neg, Value::Number(n)) => {
                        Value::Number(arithmetic(Number::from(0), BinaryOperator::Minus, n)?)
                    }
                    (operator, value) => {
                        return Err(failed(format!(
                            "unary operator `{operator}` is not applicable to `{}`",
                            shown(&value)
                        )))
                    }
                }
            }
            Operation::Binary(binary) => {
                let lhs = self.eval(&binary.lhs_expr, locals, depth)?.0;
                let rhs = self.eval(&binary.rhs_expr, locals, depth)?.0;
                use BinaryOperator::*;
                match (lhs, binary.operator, rhs) {
                    (lhs, operator, rhs) if is_unknown(&lhs) || is_unknown(&rhs) => {
                        let from = if is_unknown(&lhs) { lhs } else { rhs };
                        derived(&format!("`{operator}`"), &from)
                    }
                    (lhs, Eq, rhs) => Value::Bool(lhs == rhs),
                    (lhs, NotEq, rhs) => Value::Bool(lhs != rhs),
                    (Value::Bool(a), And, Value::Bool(b)) => Value::Bool(a && b),
                    (Value::Bool(a), Or, Value::Bool(b)) => Value::Bool(a || b),
                    (
                        Value::Number(a),
                        op @ (LessEq | GreaterEq | Less | Greater),
                        Value::Number(b),
                    ) => {
                        let (a, b) = (to_f64(a), to_f64(b));
                        Value::Bool(match op {
                            LessEq => a <= b,
                            GreaterEq => a >= b,
                            Less => a < b,
                            _ => a > b,
                        })
                    }
                    (Value::Number(a), op @ (Plus | Minus | Mul | Div | Mod), Value::Number(b)) => {
                        Value::Number(arithmetic(a, op, b)?)
                    }
                    (lhs, operator, rhs) => {
                        return Err(failed(format!(
                            "binary operator `{operator}` is not applicable to `{}` and `{}`",
                            shown(&lhs),
                            shown(&rhs)
                        )))
                    }
                }
            }
        };
        Ok((value, VALUE_OVERHEAD))
    }

    fn for_expr(
        &self,
        for_expr: &ForExpr,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<(Value, usize), Fault> {
        let entries = match self.collection(&for_expr.collection_expr, locals, depth)? {
            Ok(entries) => entries,
            Err(unknown) => return Ok((derived("a for expression", &unknown), VALUE_OVERHEAD)),
        };
        let key_var = for_expr.key_var.as_ref().map(|k| k.as_str().to_string());
        let value_var = for_expr.value_var.as_str().to_string();
        let mut list = Vec::new();
        let mut object = Map::new();
        let mut size = VALUE_OVERHEAD;
        for (key, value) in entries {
            let bound = locals.len();
            if let Some(k) = &key_var {
                locals.push((k.clone(), key));
            }
            locals.push((value_var.clone(), value));
            let element = self.for_element(for_expr, locals, depth);
            locals.truncate(bound);
            let Some((key, (value, value_size))) = element? else {
                continue;
            };
            size += value_size;
            match key {
                None => {
                    check_elements(list.len() + 1)?;
                    list.push(value);
                }
                Some(key) => {
                    size += key.len();
                    if for_expr.grouping {
                        let group = object
                            .entry(key)
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(items) = group {
                            check_elements(items.len() + 1)?;
                            items.push(value);
                        }
                    } else if object.contains_key(&key) {
                        return Err(failed(format!("key `{}` already exists", quoted(&key))));
                    } else {
                        object.insert(key, value);
                    }
                    check_elements(object.len())?;
                }
            }
            check_value(size)?;
        }
        let value = if for_expr.key_expr.is_some() {
            Value::Object(object)
        } else {
            Value::Array(list)
        };
        Ok((value, size))
    }

    /// One element of a `for` expression, its names bound: `None` when its
    /// condition leaves it out.
    fn for_element(
        &self,
        for_expr: &ForExpr,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<Option<ForElement>, Fault> {
        if let Some(cond) = &for_expr.cond_expr {
            match self.eval(cond, locals, depth)?.0 {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(None),
                other => return Err(unexpected(&other, "a boolean")),
            }
        }
        let key = match &for_expr.key_expr {
            Some(key) => Some(self.object_key(key, locals, depth)?),
            None => None,
        };
        let value = self.eval(&for_expr.value_expr, locals, depth)?;
        Ok(Some((key, value)))
    }

    /// The (key, value) pairs a `for` goes through: a list's indices and
    /// elements, a map's keys and values.
    fn collection(
        &self,
        expr: &Expression,
        locals: &mut Locals,
        depth: usize,
    ) -> Result<Result<Vec<(Value, Value)>, Value>, Fault> {
        Ok(match self.eval(expr, locals, depth)?.0 {
            Value::Array(items) => Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as u64), v))
                .collect()),
            Value::Object(map) => Ok(map.into_iter().map(|(k, v)| (Value::from(k), v)).collect()),
            other if is_unknown(&other) => Err(other),
            other => return Err(unexpected(&other, "an array or object")),
        })
    }
}

/// One step of a traversal, its index expression evaluated.
enum Step {
    Key(String),
    Index(u64),
    AttrSplat,
    FullSplat,
}

/// Where a traversal is: a value, or the members of a root name.
#[derive(Clone, Copy)]
enum Place<'v> {
    Value(&'v Value),
    Members(&'v Map<String, Value>),
}

/// A traversal as written: `root.key[0].*`.
fn traversal_text(root: &str, steps: &[Step]) -> String {
    let mut text = root.to_string();
    for step in steps {
        match step {
            Step::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            Step::Index(index) => text.push_str(&format!("[{index}]")),
            Step::AttrSplat => text.push_str(".*"),
            Step::FullSplat => text.push_str("[*]"),
        }
    }
    text
}

fn to_f64(n: Number) -> f64 {
    n.as_f64().unwrap_or(0.0)
}

/// `a op b` on numbers: whole numbers exactly (as long as they fit 128
/// bits), others as floats; a result that is not a finite number, or a
/// division by zero, is an error rather than a panic or an infinity.
fn arithmetic(a: Number, op: BinaryOperator, b: Number) -> Result<Number, Fault> {
    let whole = |n: Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    let zero = to_f64(b) == 0.0;
    if zero && matches!(op, BinaryOperator::Div | BinaryOperator::Mod) {
        return Err(failed(format!("`{a} {op} {b}`: division by zero")));
    }
    if let (Some(x), Some(y), false) = (whole(a), whole(b), op == BinaryOperator::Div) {
        let exact = match op {
            BinaryOperator::Plus => x.checked_add(y),
            BinaryOperator::Minus => x.checked_sub(y),
            BinaryOperator::Mul => x.checked_mul(y),
            _ => x.checked_rem(y),
        };
        if let Some(n) = exact {
            if let Ok(n) = i64::try_from(n) {
                return Ok(Number::from(n));
            }
            if let Ok(n) = u64::try_from(n) {
                return Ok(Number::from(n));
            }
        }
    }
    let (x, y) = (to_f64(a), to_f64(b));
    let result = match op {
        BinaryOperator::Plus => x + y,
        BinaryOperator::Minus => x - y,
        BinaryOperator::Mul => x * y,
        BinaryOperator::Div => x / y,
        _ => x % y,
    };
    Number::from_f64(result).ok_or_else(|| failed(format!("`{a} {op} {b}` is not a finite number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Result<Value, Fault> {
        let expr: Expression = text.parse().expect("an HCL expression");
        Evaluator::new(&NoNames, &Budget::default()).evaluate(&expr)
    }

    fn s(text: &str) -> Value {
        Value::String(text.into())
    }

    #[test]
    fn expressions_evaluate_as_hcl_evaluates_them() {
        let cases = [
            r#""a-${1 + 2}-${true}""#,
            r#"[for i, v in ["x", "y"] : "${i}${v}" if v != "z"]"#,
            r#"{for k, v in {a = 1, b = 2} : v => k}"#,
            r#"{for v in ["a", "b", "a"] : v => v...}"#,
            r#"[{a = [1, 2]}, {a = [3]}][*].a[0]"#,
            r#"[{a = {b = 1}}, {a = {b = 2}}].*.a.b"#,
            r#"{a = [10, 20]}["a"][1]"#,
            r#"true ? "yes" : "no""#,
            "\"x %{ for v in [1, 2] ~} ${v} %{~ endfor } y\"",
            "\"%{ if 1 < 2 }small%{ else }big%{ endif }\"",
            "7 % 3 * 2 - -1",
            "5 / 2",
            r#"null == null && !false"#,
        ];
        for text in cases {
            let expr: Expression = text.parse().unwrap();
            let expected = hcl::eval::Evaluate::evaluate(&expr, &hcl::eval::Context::new())
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(eval(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn a_string_past_its_bound_is_refused_before_it_is_made() {
        let text = format!(r#"join("", [{}])"#, [r#""x""#; 10].join(", "));
        assert_eq!(eval(&text), Ok(s("xxxxxxxxxx")));
        let long = "y".repeat(MAX_STRING_BYTES / 2 + 1);
        let text = format!(r#""${{"{long}"}}${{"{long}"}}""#);
        match eval(&text) {
            Err(Fault::TooLarge(why)) => assert!(why.starts_with("the string would be"), "{why}"),
            other => panic!("{:?}", other.map(|v| size_of(&v))),
        }
    }

    #[test]
    fn work_past_the_budget_ends_the_evaluation() {
        let expr: Expression = "[for i in [1, 2, 3, 4, 5, 6, 7, 8] : i]".parse().unwrap();
        let budget = Budget::new(10);
        let got = Evaluator::new(&NoNames, &budget).evaluate(&expr);
        assert!(matches!(got, Err(Fault::Exhausted(_))), "{got:?}");
        assert!(budget.exhausted());
        // Spent, it stays spent.
        assert!(matches!(budget.charge(0), Err(Fault::Exhausted(_))));
    }

    #[test]
    fn arithmetic_never_panics_nor_makes_infinities() {
        assert!(matches!(eval("1 / 0"), Err(Fault::Failed(_))));
        assert!(matches!(eval("1 % 0"), Err(Fault::Failed(_))));
        assert_eq!(
            eval("18446744073709551615 + 1"),
            Ok(Value::Number(
                Number::from_f64(18446744073709551616.0).unwrap()
            ))
        );
        assert!(matches!(eval("1e300 * 1e300"), Err(Fault::Failed(_))));
    }

    #[test]
    fn the_deepest_expression_the_parser_takes_evaluates_and_deeper_is_refused() {
        // 63 levels of brackets around 127 operators.
        let sum = vec!["1"; 128].join(" + ");
        let text = format!("{}{sum}{}", "[".repeat(63), "]".repeat(63));
        let mut value = eval(&text).unwrap();
        for _ in 0..63 {
            let Value::Array(mut items) = value else {
                panic!("not a list");
            };
            value = items.pop().unwrap();
        }
        assert_eq!(value, Value::from(128u64));
        let mut deep = Expression::Number(Number::from(1u64));
        for _ in 0..MAX_DEPTH {
            deep = Expression::Array(vec![deep]);
        }
        let got = Evaluator::new(&NoNames, &Budget::default()).evaluate(&deep);
        assert!(matches!(got, Err(Fault::TooLarge(_))), "{got:?}");
    }

    #[test]
    fn messages_quote_a_value_shortly() {
        let long = "z".repeat(10_000);
        let Err(Fault::Failed(why)) = eval(&format!(r#"1 + "{long}""#)) else {
            panic!("not refused");
        };
        assert!(why.len() < 400, "{why}");
        assert!(why.contains("… (10000 bytes)"), "{why}");
    }
}
