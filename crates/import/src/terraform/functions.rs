//! The Terraform functions `vnetd import terraform` evaluates, written
//! against Terraform's documented behaviour: the network ones
//! (`cidrsubnet`, `cidrhost`), `format`, and the collection and string
//! helpers a network configuration uses. Any other function is refused
//! before evaluation, naming it (see [`NAMES`]).
//!
//! Sets are lists here: `toset` sorts and removes duplicates, as Terraform
//! orders a set of strings lexically.
//!
//! A function's arguments are read by `args`, which names no function;
//! the string and collection functions beside the network ones are in
//! `more`.

use super::limits::{check_elements, check_string, check_value, size_of};
use super::unknown::map_outside;
use crate::quoted;
use hcl::{Map, Number, Value};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

mod args;
mod more;

pub use args::kind;
use args::{bound, integer, list, object, shown, text, Outcome};

/// Every function evaluated, sorted (for messages).
pub const NAMES: &[&str] = &[
    "cidrhost",
    "cidrsubnet",
    "coalesce",
    "concat",
    "contains",
    "distinct",
    "element",
    "flatten",
    "format",
    "join",
    "jsonencode",
    "keys",
    "length",
    "lookup",
    "lower",
    "merge",
    "one",
    "replace",
    "split",
    "substr",
    "title",
    "tolist",
    "tonumber",
    "toset",
    "tostring",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "upper",
    "values",
];

/// The functions that carry an unknown argument through without needing
/// its value (they move strings or elements, never read them); any other
/// function with an unknown argument makes an unknown (see
/// [`super::unknown`]).
pub const OPAQUE: &[&str] = &[
    "coalesce",
    "concat",
    "element",
    "flatten",
    "format",
    "join",
    "keys",
    "lookup",
    "lower",
    "merge",
    "one",
    "tolist",
    "toset",
    "tostring",
    "trimspace",
    "upper",
    "values",
];

/// What a parameter takes.
#[derive(Clone, Copy)]
enum Param {
    Text,
    Any,
}

/// A function: its parameters, whether more arguments of any type may
/// follow them, and its body.
struct Signature {
    name: &'static str,
    params: &'static [Param],
    variadic: bool,
    body: fn(&[Value]) -> Outcome,
}

const SIGNATURES: &[Signature] = {
    use Param::{Any, Text};
    type Body = fn(&[Value]) -> Outcome;
    const fn fixed(name: &'static str, params: &'static [Param], body: Body) -> Signature {
        Signature {
            name,
            params,
            variadic: false,
            body,
        }
    }
    const fn variadic(name: &'static str, params: &'static [Param], body: Body) -> Signature {
        Signature {
            variadic: true,
            ..fixed(name, params, body)
        }
    }
    &[
        fixed("cidrhost", &[Text, Any], cidrhost),
        fixed("cidrsubnet", &[Text, Any, Any], cidrsubnet),
        variadic("coalesce", &[Any], more::coalesce),
        variadic("concat", &[], concat),
        fixed("contains", &[Any, Any], contains),
        fixed("distinct", &[Any], more::distinct),
        fixed("element", &[Any, Any], element),
        fixed("flatten", &[Any], flatten),
        variadic("format", &[Text], format),
        fixed("join", &[Text, Any], join),
        fixed("jsonencode", &[Any], more::jsonencode),
        fixed("keys", &[Any], keys),
        fixed("length", &[Any], length),
        variadic("lookup", &[Any, Any], lookup),
        fixed("lower", &[Text], lower),
        variadic("merge", &[], merge),
        fixed("one", &[Any], more::one),
        fixed("replace", &[Text, Text, Text], more::replace),
        fixed("split", &[Text, Text], more::split),
        fixed("substr", &[Text, Any, Any], more::substr),
        fixed("title", &[Text], more::title),
        fixed("tolist", &[Any], tolist),
        fixed("tonumber", &[Any], tonumber),
        fixed("toset", &[Any], toset),
        fixed("tostring", &[Any], tostring),
        fixed("trimprefix", &[Text, Text], more::trimprefix),
        fixed("trimspace", &[Text], more::trimspace),
        fixed("trimsuffix", &[Text, Text], more::trimsuffix),
        fixed("upper", &[Text], upper),
        fixed("values", &[Any], values),
    ]
};

/// Calls the function `name` with `args`: its result, or why it refuses.
/// No result is larger than the evaluator's bounds, and none is made
/// larger first (see [`super::eval`]).
pub fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let Some(signature) = SIGNATURES.iter().find(|s| s.name == name) else {
        return Err(format!(
            "vnetd does not evaluate the function `{name}` (it evaluates {})",
            NAMES.join(", ")
        ));
    };
    let wanted = signature.params.len();
    if args.len() < wanted || (!signature.variadic && args.len() > wanted) {
        return Err(format!(
            "expected {wanted}{} arguments, got {}",
            if signature.variadic { " or more" } else { "" },
            args.len()
        ));
    }
    for (at, (arg, param)) in args.iter().zip(signature.params).enumerate() {
        if matches!(param, Param::Text) && !matches!(arg, Value::String(_)) {
            return Err(format!(
                "argument {} must be a string, not {}",
                at + 1,
                shown(arg)
            ));
        }
    }
    let value = (signature.body)(args)?;
    check_value(size_of(&value)).map_err(|f| f.reason().to_string())?;
    Ok(value)
}

/// The widest `format` field evaluated: wider ones would only pad.
const MAX_FORMAT_WIDTH: usize = 1000;

fn prefix(v: &Value) -> Result<IpNet, String> {
    let t = text(v, "the prefix")?;
    IpNet::from_str(&t).map_err(|_| format!("\"{}\" is not a CIDR prefix", quoted(&t)))
}

/// The prefix's first address and width, as numbers.
fn bounds(net: &IpNet) -> (u128, u8) {
    match net {
        IpNet::V4(n) => (u128::from(u32::from(n.network())), 32),
        IpNet::V6(n) => (u128::from(n.network()), 128),
    }
}

fn address(value: u128, width: u8) -> Result<IpAddr, String> {
    if width == 32 {
        let v = u32::try_from(value).map_err(|_| "the address overflows IPv4".to_string())?;
        Ok(IpAddr::V4(Ipv4Addr::from(v)))
    } else {
        Ok(IpAddr::V6(Ipv6Addr::from(value)))
    }
}

fn cidrsubnet(args: &[Value]) -> Outcome {
    let net = prefix(&args[0])?;
    let newbits = integer(&args[1], "newbits")?;
    let netnum = integer(&args[2], "netnum")?;
    let (base, width) = bounds(&net);
    let length = i128::from(net.prefix_len()) + newbits;
    if newbits < 0 || length > i128::from(width) {
        return Err(format!(
            "{newbits} more bits would make a /{length} prefix, longer than {width} bits"
        ));
    }
    if netnum < 0 || (newbits < 127 && netnum >= 1i128 << newbits) {
        return Err(format!("netnum {netnum} does not fit in {newbits} bits"));
    }
    let shift = u32::try_from(i128::from(width) - length).unwrap_or(0);
    let network = base | (netnum as u128).checked_shl(shift).unwrap_or(0);
    Ok(Value::String(format!(
        "{}/{length}",
        address(network, width)?
    )))
}

fn cidrhost(args: &[Value]) -> Outcome {
    let net = prefix(&args[0])?;
    let hostnum = integer(&args[1], "hostnum")?;
    let (base, width) = bounds(&net);
    let host_bits = u32::from(width - net.prefix_len());
    let size: i128 = if host_bits >= 127 {
        i128::MAX
    } else {
        1i128 << host_bits
    };
    let host = if hostnum < 0 { size + hostnum } else { hostnum };
    if host < 0 || host >= size {
        return Err(format!("prefix {net} has no host number {hostnum}"));
    }
    Ok(Value::String(
        address(base + host as u128, width)?.to_string(),
    ))
}

fn concat(args: &[Value]) -> Outcome {
    let mut out = Vec::new();
    for (i, v) in args.iter().enumerate() {
        let items = list(v, &format!("argument {}", i + 1))?;
        check_elements(out.len() + items.len()).map_err(bound)?;
        out.extend(items);
    }
    Ok(Value::Array(out))
}

fn contains(args: &[Value]) -> Outcome {
    Ok(Value::Bool(list(&args[0], "the list")?.contains(&args[1])))
}

fn element(args: &[Value]) -> Outcome {
    let items = list(&args[0], "the list")?;
    let index = integer(&args[1], "the index")?;
    if items.is_empty() {
        return Err("cannot take an element of an empty list".into());
    }
    if index < 0 {
        return Err("the index must not be negative".into());
    }
    Ok(items[(index as usize) % items.len()].clone())
}

fn flatten(args: &[Value]) -> Outcome {
    fn into(out: &mut Vec<Value>, v: Value) {
        match v {
            Value::Array(items) => items.into_iter().for_each(|i| into(out, i)),
            other => out.push(other),
        }
    }
    let mut out = Vec::new();
    into(&mut out, Value::Array(list(&args[0], "the list")?));
    check_elements(out.len()).map_err(bound)?;
    Ok(Value::Array(out))
}

fn join(args: &[Value]) -> Outcome {
    let sep = text(&args[0], "the separator")?;
    let parts: Vec<String> = list(&args[1], "the list")?
        .iter()
        .map(|v| text(v, "each element"))
        .collect::<Result<_, _>>()?;
    // The length is known before the string is made.
    let length = parts.iter().map(String::len).sum::<usize>()
        + sep.len().saturating_mul(parts.len().saturating_sub(1));
    check_string(length).map_err(bound)?;
    Ok(Value::String(parts.join(&sep)))
}

/// An object's entries in Terraform's order: sorted by key.
fn sorted_entries(map: Map<String, Value>) -> Vec<(String, Value)> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

fn keys(args: &[Value]) -> Outcome {
    let entries = sorted_entries(object(&args[0], "the argument")?);
    Ok(Value::Array(
        entries.into_iter().map(|(k, _)| Value::String(k)).collect(),
    ))
}

fn values(args: &[Value]) -> Outcome {
    let entries = sorted_entries(object(&args[0], "the argument")?);
    Ok(Value::Array(entries.into_iter().map(|(_, v)| v).collect()))
}

fn length(args: &[Value]) -> Outcome {
    let n = match &args[0] {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        other => return Err(format!("cannot take the length of {}", kind(other))),
    };
    Ok(Value::Number(Number::from(n as u64)))
}

fn lookup(args: &[Value]) -> Outcome {
    let map = object(&args[0], "the first argument")?;
    let key = text(&args[1], "the key")?;
    if args.len() > 3 {
        return Err("lookup takes 2 or 3 arguments".into());
    }
    match (map.get(&key), args.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!(
            "the map has no key \"{}\" and no default was given",
            quoted(&key)
        )),
    }
}

/// Changing case may lengthen a string (`ß` is `SS`): checked after.
fn lower(args: &[Value]) -> Outcome {
    let out = map_outside(&text(&args[0], "the argument")?, str::to_lowercase);
    check_string(out.len()).map_err(bound)?;
    Ok(Value::String(out))
}

fn upper(args: &[Value]) -> Outcome {
    let out = map_outside(&text(&args[0], "the argument")?, str::to_uppercase);
    check_string(out.len()).map_err(bound)?;
    Ok(Value::String(out))
}

fn merge(args: &[Value]) -> Outcome {
    let mut out = Map::new();
    for (i, v) in args.iter().enumerate() {
        if matches!(v, Value::Null) {
            continue;
        }
        for (k, v) in object(v, &format!("argument {}", i + 1))? {
            out.insert(k, v);
        }
        check_elements(out.len()).map_err(bound)?;
    }
    Ok(Value::Object(out))
}

fn tolist(args: &[Value]) -> Outcome {
    Ok(Value::Array(list(&args[0], "the argument")?))
}

/// A set: no duplicates, strings in lexical order and numbers in numeric
/// order, as Terraform orders them; a mix of both becomes strings.
fn toset(args: &[Value]) -> Outcome {
    let items = list(&args[0], "the argument")?;
    let all_numbers = items.iter().all(|v| matches!(v, Value::Number(_)));
    let mut out: Vec<Value> = Vec::new();
    if all_numbers {
        let mut numbers: Vec<Number> = items
            .into_iter()
            .filter_map(|v| match v {
                Value::Number(n) => Some(n),
                _ => None,
            })
            .collect();
        numbers.sort_by(|a, b| {
            let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            a.total_cmp(&b)
        });
        numbers.dedup();
        out.extend(numbers.into_iter().map(Value::Number));
    } else {
        let mut texts = Vec::new();
        for v in &items {
            texts.push(text(v, "each element of a set")?);
        }
        texts.sort();
        texts.dedup();
        out.extend(texts.into_iter().map(Value::String));
    }
    Ok(Value::Array(out))
}

fn tostring(args: &[Value]) -> Outcome {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        v => Ok(Value::String(text(v, "the argument")?)),
    }
}

fn tonumber(args: &[Value]) -> Outcome {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Number(n) => Ok(Value::Number(*n)),
        Value::String(s) => {
            let parsed = if let Ok(i) = s.trim().parse::<i64>() {
                Some(Number::from(i))
            } else {
                s.trim().parse::<f64>().ok().and_then(Number::from_f64)
            };
            parsed
                .map(Value::Number)
                .ok_or_else(|| format!("\"{}\" is not a number", quoted(s)))
        }
        other => Err(format!("cannot convert {} to a number", kind(other))),
    }
}

/// Terraform's `format`: `%%`, and the verbs `v`, `s`, `q`, `d`, `f`, `t`
/// with the flags `-`, `+` and `0`, a width and a precision.
fn format(args: &[Value]) -> Outcome {
    let spec = text(&args[0], "the format")?;
    let rest: Vec<Value> = args.iter().skip(1).cloned().collect();
    let mut out = String::new();
    let mut next = 0;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let (mut left, mut plus, mut zero) = (false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '+' => plus = true,
                '0' => zero = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            // `%.f` is precision 0; digits past usize are past any bound.
            let asked: usize = if p.is_empty() {
                0
            } else {
                p.parse().unwrap_or(usize::MAX)
            };
            if asked > MAX_FORMAT_WIDTH {
                return Err(format!(
                    "a precision over {MAX_FORMAT_WIDTH} is not evaluated"
                ));
            }
            precision = Some(asked);
        }
        let verb = chars
            .next()
            .ok_or_else(|| "the format ends in the middle of a verb".to_string())?;
        let value = rest
            .get(next)
            .ok_or_else(|| format!("not enough arguments for the format \"{}\"", quoted(&spec)))?;
        next += 1;
        let body = match verb {
            's' | 'v' => match value {
                Value::Array(_) | Value::Object(_) if verb == 'v' => {
                    serde_json::to_string(value).map_err(|e| e.to_string())?
                }
                v => text(v, "a %s argument")?,
            },
            'q' => format!("{:?}", text(value, "a %q argument")?),
            't' => match value {
                Value::Bool(b) => b.to_string(),
                v => return Err(format!("%t needs a bool, not {}", shown(v))),
            },
            'd' => {
                let n = integer(value, "a %d argument")?;
                if plus && n >= 0 {
                    format!("+{n}")
                } else {
                    n.to_string()
                }
            }
            'f' => {
                let f = match value {
                    Value::Number(n) => n.as_f64().unwrap_or(0.0),
                    v => return Err(format!("%f needs a number, not {}", shown(v))),
                };
                format!("{:.*}", precision.unwrap_or(6), f)
            }
            other => {
                return Err(format!(
                    "the verb %{other} is not evaluated (vnetd evaluates %v, %s, %q, %d, %f, %t)"
                ))
            }
        };
        let width: usize = match width.as_str() {
            "" => 0,
            digits => digits.parse().unwrap_or(usize::MAX),
        };
        if width > MAX_FORMAT_WIDTH {
            return Err(format!("a width over {MAX_FORMAT_WIDTH} is not evaluated"));
        }
        let pad = width.saturating_sub(body.chars().count());
        check_string(out.len() + body.len() + pad).map_err(bound)?;
        if left {
            out.push_str(&body);
            out.push_str(&" ".repeat(pad));
        } else if zero && matches!(verb, 'd' | 'f') {
            let (sign, digits) = match body.strip_prefix(['-', '+']) {
                Some(d) => (&body[..1], d),
                None => ("", body.as_str()),
            };
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&body);
        }
    }
    if next < rest.len() {
        return Err(format!(
            "too many arguments for the format \"{}\" ({} given, {next} used)",
            quoted(&spec),
            rest.len()
        ));
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::super::eval::{Budget, Evaluator, NoNames};
    use super::*;

    fn eval(text: &str) -> Result<Value, String> {
        let expr = hcl::Expression::from_str(text).map_err(|e| e.to_string())?;
        Evaluator::new(&NoNames, &Budget::default())
            .evaluate(&expr)
            .map_err(|f| f.reason().to_string())
    }

    fn s(text: &str) -> Value {
        Value::String(text.into())
    }

    #[test]
    fn network_functions_follow_terraform() {
        assert_eq!(
            eval(r#"cidrsubnet("10.0.0.0/16", 8, 2)"#),
            Ok(s("10.0.2.0/24"))
        );
        assert_eq!(
            eval(r#"cidrsubnet("10.1.0.0/16", 4, 15)"#),
            Ok(s("10.1.240.0/20"))
        );
        assert_eq!(
            eval(r#"cidrsubnet("fd00:10::/48", 16, 1)"#),
            Ok(s("fd00:10:0:1::/64"))
        );
        assert!(eval(r#"cidrsubnet("10.0.0.0/16", 8, 256)"#).is_err());
        assert!(eval(r#"cidrsubnet("10.0.0.0/30", 3, 0)"#).is_err());
        assert_eq!(eval(r#"cidrsubnet("::/0", 0, 0)"#), Ok(s("::/0")));
        assert_eq!(eval(r#"cidrsubnet("0.0.0.0/0", 0, 0)"#), Ok(s("0.0.0.0/0")));
        assert_eq!(eval(r#"cidrhost("::/0", 5)"#), Ok(s("::5")));
        assert_eq!(eval(r#"cidrhost("10.0.1.0/24", 4)"#), Ok(s("10.0.1.4")));
        assert_eq!(eval(r#"cidrhost("10.0.1.0/24", -2)"#), Ok(s("10.0.1.254")));
        assert!(eval(r#"cidrhost("10.0.1.0/24", 256)"#).is_err());
    }

    #[test]
    fn format_pads_and_counts_its_arguments() {
        assert_eq!(eval(r#"format("vm-%02d", 3)"#), Ok(s("vm-03")));
        assert_eq!(eval(r#"format("%s/%s", "hub", "nva")"#), Ok(s("hub/nva")));
        assert_eq!(
            eval(r#"format("%-4s|%3d|%%", "a", 7)"#),
            Ok(s("a   |  7|%"))
        );
        assert!(eval(r#"format("%s %s", "a")"#).is_err());
        assert!(eval(r#"format("%s", "a", "b")"#).is_err());
        assert!(eval(r#"format("%99999999999999999999999d", 1)"#).is_err());
    }

    #[test]
    fn collections_follow_terraform() {
        assert_eq!(
            eval(r#"toset(["b", "a", "b"])"#),
            Ok(Value::Array(vec![s("a"), s("b")]))
        );
        assert_eq!(
            eval(r#"keys(merge({b = 1}, {a = 2}))"#),
            Ok(Value::Array(vec![s("a"), s("b")]))
        );
        assert_eq!(eval(r#"lookup({a = "x"}, "b", "y")"#), Ok(s("y")));
        assert!(eval(r#"lookup({a = "x"}, "b")"#).is_err());
        assert_eq!(
            eval(r#"length(concat(["a"], ["b", "c"]))"#),
            Ok(Value::from(3u64))
        );
    }

    #[test]
    fn every_name_has_its_function() {
        let names: Vec<&str> = SIGNATURES.iter().map(|s| s.name).collect();
        assert_eq!(names, NAMES);
        assert_eq!(
            eval(r#"join(",")"#),
            Err("error calling function `join`: expected 2 arguments, got 1".into())
        );
        assert_eq!(
            eval(r#"upper(1)"#),
            Err("error calling function `upper`: argument 1 must be a string, not 1".into())
        );
    }

    #[test]
    fn results_past_the_bounds_are_refused_before_they_are_made() {
        use super::super::eval::{MAX_ELEMENTS, MAX_STRING_BYTES};
        let half = "x".repeat(MAX_STRING_BYTES / 2 + 1);
        for text in [
            format!(r#"join("", ["{half}", "{half}"])"#),
            format!(r#"join("{half}", ["", "", ""])"#),
            format!(r#"format("%s%s", "{half}", "{half}")"#),
            format!(
                r#"format("%s%1000s", "{}", "")"#,
                "y".repeat(MAX_STRING_BYTES - 10)
            ),
        ] {
            let why = eval(&text).unwrap_err();
            assert!(why.contains("more than the 1048576 bytes (1 MiB)"), "{why}");
        }
        assert_eq!(
            eval(r#"format("%.4000000000f", 1)"#),
            Err("error calling function `format`: a precision over 1000 is not evaluated".into())
        );
        assert_eq!(eval(r#"format("%.f", 2.5)"#).map(|_| ()), Ok(()));
        let many = vec!["1"; MAX_ELEMENTS / 2 + 1].join(", ");
        let why = eval(&format!("concat([{many}], [{many}])")).unwrap_err();
        assert!(why.contains("100000 elements"), "{why}");
        // A message quotes a long value shortly.
        let why = eval(&format!(r#"cidrhost("{half}", 1)"#)).unwrap_err();
        assert!(why.len() < 400 && why.contains("… (524289 bytes)"), "{why}");
    }
}
