//! Expressions: conditions and updates as DynamoDB expression strings built from placeholders
//! only (`#n0`, `:v0`, ...), with the `attribute_type` guards and the expiry rule of the port.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use vitrine_app::ports::table::{Condition, TTL, TableError, Update, Value, evaluate};

use super::PK;
use super::items::{RawItem, physical_name, to_av};

/// The names and values one request's expressions refer to. Each distinct name and value gets
/// one generated placeholder; the expression text holds placeholders only.
#[derive(Debug, Default)]
pub(super) struct Placeholders {
    names: HashMap<String, String>,
    values: Vec<(String, AttributeValue)>,
}

impl Placeholders {
    pub(super) fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| *n == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        placeholder
    }

    pub(super) fn value(&mut self, value: AttributeValue) -> String {
        if let Some((placeholder, _)) = self.values.iter().find(|(_, v)| *v == value) {
            return placeholder.clone();
        }
        let placeholder = format!(":v{}", self.values.len());
        self.values.push((placeholder.clone(), value));
        placeholder
    }

    /// The maps for the request; `None` when empty, because DynamoDB rejects empty maps.
    pub(super) fn into_maps(self) -> (Option<HashMap<String, String>>, Option<RawItem>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then(|| self.values.into_iter().collect());
        (names, values)
    }
}

/// A leaf of a condition expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Atom {
    /// `attribute_exists(name)`
    Exists(String),
    /// `attribute_not_exists(name)`
    NotExists(String),
    /// `attribute_type(name, type)`
    Type(String, &'static str),
    /// `name <op> value`
    Cmp(String, &'static str, AttributeValue),
}

/// A condition expression before rendering, with constants folded away (DynamoDB has no
/// literal true/false, and every placeholder sent must be used).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cond {
    True,
    False,
    Atom(Atom),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

impl Cond {
    pub(super) fn and(parts: Vec<Cond>) -> Cond {
        let mut out = Vec::new();
        for part in parts {
            match part {
                Cond::True => {}
                Cond::False => return Cond::False,
                Cond::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Cond::True,
            1 => out.pop().unwrap_or(Cond::True),
            _ => Cond::And(out),
        }
    }

    pub(super) fn or(parts: Vec<Cond>) -> Cond {
        let mut out = Vec::new();
        for part in parts {
            match part {
                Cond::False => {}
                Cond::True => return Cond::True,
                Cond::Or(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Cond::False,
            1 => out.pop().unwrap_or(Cond::False),
            _ => Cond::Or(out),
        }
    }

    pub(super) fn negate(inner: Cond) -> Cond {
        match inner {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Not(c) => *c,
            other => Cond::Not(Box::new(other)),
        }
    }

    pub(super) fn atom(atom: Atom) -> Cond {
        Cond::Atom(atom)
    }

    /// Render as DynamoDB expression text. Parentheses only where precedence needs them and
    /// never doubled (DynamoDB rejects redundant parentheses).
    fn render(&self, p: &mut Placeholders) -> String {
        match self {
            // Folding leaves constants only at the top, where `render_condition` drops `True`.
            Cond::True => constant(true, p),
            Cond::False => constant(false, p),
            Cond::Atom(atom) => match atom {
                Atom::Exists(n) => format!("attribute_exists({})", p.name(n)),
                Atom::NotExists(n) => format!("attribute_not_exists({})", p.name(n)),
                Atom::Type(n, t) => {
                    let n = p.name(n);
                    let t = p.value(AttributeValue::S((*t).to_owned()));
                    format!("attribute_type({n}, {t})")
                }
                Atom::Cmp(n, op, v) => {
                    let n = p.name(n);
                    let v = p.value(v.clone());
                    format!("{n} {op} {v}")
                }
            },
            Cond::And(parts) => parts
                .iter()
                .map(|c| c.render_operand(p))
                .collect::<Vec<_>>()
                .join(" AND "),
            Cond::Or(parts) => parts
                .iter()
                .map(|c| c.render_operand(p))
                .collect::<Vec<_>>()
                .join(" OR "),
            Cond::Not(inner) => format!("NOT {}", inner.render_operand(p)),
        }
    }

    /// Render as the operand of AND/OR/NOT: compound conditions and comparisons get
    /// parentheses, function calls stand alone.
    fn render_operand(&self, p: &mut Placeholders) -> String {
        match self {
            Cond::Atom(Atom::Exists(_) | Atom::NotExists(_) | Atom::Type(..)) => self.render(p),
            _ => format!("({})", self.render(p)),
        }
    }
}

/// DynamoDB has no literal true or false: a tautology or a contradiction on the key stands in.
pub(super) fn constant(holds: bool, p: &mut Placeholders) -> String {
    let parts = vec![
        Cond::atom(Atom::Exists(PK.into())),
        Cond::atom(Atom::NotExists(PK.into())),
    ];
    if holds {
        Cond::Or(parts).render(p)
    } else {
        Cond::And(parts).render(p)
    }
}

/// The expression for a condition, or `None` when it always holds. A condition that never
/// holds is rendered as a contradiction on the key, so DynamoDB reports it as failed.
pub(super) fn render_condition(cond: &Cond, p: &mut Placeholders) -> Option<String> {
    match cond {
        Cond::True => None,
        other => Some(other.render(p)),
    }
}

/// The DynamoDB type code of a value, for `attribute_type`.
fn type_code(value: &Value) -> &'static str {
    match value {
        Value::S(_) => "S",
        Value::N(_) => "N",
        Value::Bool(_) => "BOOL",
        Value::Null => "NULL",
        Value::L(_) => "L",
        Value::M(_) => "M",
    }
}

/// `name` holds a value of `value`'s type and `name <op> value`. The type guard comes first:
/// it makes a comparison across types false, as the port requires, and the emulator (which
/// evaluates AND left to right) never compares mixed types (it would fail rather than answer).
fn typed(name: &str, op: &'static str, value: &Value) -> Cond {
    let name = &*physical_name(name);
    let guard = Cond::atom(Atom::Type(name.to_owned(), type_code(value)));
    match value {
        // All NULLs are equal; no comparison needed.
        Value::Null => guard,
        other => Cond::and(vec![
            guard,
            Cond::atom(Atom::Cmp(name.to_owned(), op, to_av(other))),
        ]),
    }
}

/// An ordering comparison. Strings and numbers are ordered; other types are only equal or not
/// (the port's `evaluate`), so `Le`/`Ge` degrade to equality and `Lt`/`Gt` never hold.
fn ordered(name: &str, op: &'static str, value: &Value) -> Cond {
    match value {
        Value::S(_) | Value::N(_) => typed(name, op, value),
        other if op.contains('=') => typed(name, "=", other),
        _ => Cond::False,
    }
}

/// The condition as it applies to an item known to be present (and not expired).
fn on_present(condition: &Condition) -> Cond {
    match condition {
        Condition::Exists => Cond::True,
        Condition::NotExists => Cond::False,
        Condition::AttrExists(n) => Cond::atom(Atom::Exists(physical_name(n).into_owned())),
        Condition::AttrNotExists(n) => Cond::atom(Atom::NotExists(physical_name(n).into_owned())),
        Condition::Eq(n, v) => typed(n, "=", v),
        // Not `<>`: DynamoDB and the emulator disagree on `<>` across types; NOT of the guarded
        // equality is what the port means.
        Condition::Ne(n, v) => Cond::negate(typed(n, "=", v)),
        Condition::Lt(n, v) => ordered(n, "<", v),
        Condition::Le(n, v) => ordered(n, "<=", v),
        Condition::Gt(n, v) => ordered(n, ">", v),
        Condition::Ge(n, v) => ordered(n, ">=", v),
        Condition::And(cs) => Cond::and(cs.iter().map(on_present).collect()),
        Condition::Or(cs) => Cond::or(cs.iter().map(on_present).collect()),
        Condition::Not(c) => Cond::negate(on_present(c)),
    }
}

/// The item carries a numeric `ttl` at or before `now`.
pub(super) fn expired(now: i64) -> Cond {
    Cond::and(vec![
        Cond::atom(Atom::Type(TTL.into(), "N")),
        Cond::atom(Atom::Cmp(
            TTL.into(),
            "<=",
            AttributeValue::N(now.to_string()),
        )),
    ])
}

/// The item is present and not expired.
fn alive(now: i64) -> Cond {
    Cond::and(vec![
        Cond::atom(Atom::Exists(PK.into())),
        Cond::negate(expired(now)),
    ])
}

/// The port's condition over DynamoDB's view of the item. On an absent or expired item the
/// port's answer is a constant — computed by the port's own `evaluate`, so the two adapters
/// cannot drift — and on a live one the condition is translated attribute by attribute:
/// `alive AND c` when absence fails it, `NOT alive OR c` when absence satisfies it.
pub(super) fn translate(condition: Option<&Condition>, now: i64) -> Cond {
    let Some(condition) = condition else {
        return Cond::True;
    };
    let present = on_present(condition);
    if evaluate(condition, None) {
        Cond::or(vec![Cond::negate(alive(now)), present])
    } else {
        Cond::and(vec![alive(now), present])
    }
}

/// One attribute's net change after folding a list of updates: DynamoDB rejects two clauses
/// on one attribute, the port applies them in order.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Change {
    Set(Value),
    Add(i64),
    Remove,
}

pub(super) fn fold_updates(updates: &[Update]) -> Result<BTreeMap<String, Change>, TableError> {
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    for update in updates {
        let (name, change) = match update {
            Update::Set(n, v) => (n, Change::Set(v.clone())),
            Update::Remove(n) => (n, Change::Remove),
            Update::Add(n, delta) => {
                let overflow = || TableError::Invalid(format!("ADD overflows attribute {n}"));
                let change = match changes.get(n) {
                    None => Change::Add(*delta),
                    Some(Change::Add(x)) => {
                        Change::Add(x.checked_add(*delta).ok_or_else(overflow)?)
                    }
                    Some(Change::Set(Value::N(x))) => {
                        Change::Set(Value::N(x.checked_add(*delta).ok_or_else(overflow)?))
                    }
                    Some(Change::Set(_)) => {
                        return Err(TableError::Invalid(format!(
                            "ADD on non-numeric attribute {n}"
                        )));
                    }
                    Some(Change::Remove) => Change::Set(Value::N(*delta)),
                };
                (n, change)
            }
        };
        changes.insert(name.clone(), change);
    }
    Ok(changes)
}

/// `SET ... REMOVE ... ADD ...` for the folded changes.
pub(super) fn render_updates(changes: &BTreeMap<String, Change>, p: &mut Placeholders) -> String {
    let (mut set, mut remove, mut add) = (Vec::new(), Vec::new(), Vec::new());
    for (name, change) in changes {
        let n = p.name(&physical_name(name));
        match change {
            Change::Set(v) => set.push(format!("{n} = {}", p.value(to_av(v)))),
            Change::Remove => remove.push(n),
            // ADD starts a missing attribute at 0, as the port specifies.
            Change::Add(d) => {
                add.push(format!("{n} {}", p.value(AttributeValue::N(d.to_string()))))
            }
        }
    }
    let mut clauses = Vec::new();
    for (keyword, parts) in [("SET", set), ("REMOVE", remove), ("ADD", add)] {
        if !parts.is_empty() {
            clauses.push(format!("{keyword} {}", parts.join(", ")));
        }
    }
    clauses.join(" ")
}

#[cfg(test)]
mod tests {
    use vitrine_app::ports::table::{Index, SortKey};

    use super::super::queries::key_condition;
    use super::super::writes::update_condition;
    use super::*;

    /// Every token of an expression is a placeholder, a keyword, a function name or an
    /// operator — nothing a caller wrote.
    fn assert_only_placeholders(expr: &str) {
        let spaced = expr
            .replace('(', " ( ")
            .replace(')', " ) ")
            .replace(',', " , ");
        for token in spaced.split_whitespace() {
            let placeholder = |prefix: char| {
                token.strip_prefix(prefix).is_some_and(|rest| {
                    rest.len() > 1
                        && matches!(rest.as_bytes()[0], b'n' | b'v')
                        && rest[1..].bytes().all(|b| b.is_ascii_digit())
                })
            };
            let allowed = placeholder('#')
                || placeholder(':')
                || [
                    "(",
                    ")",
                    ",",
                    "AND",
                    "OR",
                    "NOT",
                    "BETWEEN",
                    "=",
                    "<",
                    "<=",
                    ">",
                    ">=",
                    "SET",
                    "REMOVE",
                    "ADD",
                    "attribute_exists",
                    "attribute_not_exists",
                    "attribute_type",
                    "begins_with",
                ]
                .contains(&token);
            assert!(allowed, "token {token:?} in {expr:?}");
        }
    }

    const HOSTILE: [&str; 8] = [
        ":x",
        "#a",
        ") OR (",
        "attribute_exists(pk)",
        "#n0",
        ":v0",
        "a.b[0]",
        "size",
    ];

    fn every_condition(name: &str, value: &str) -> Condition {
        let v = Value::S(value.to_owned());
        Condition::Or(vec![
            Condition::And(vec![
                Condition::Exists,
                Condition::AttrExists(name.into()),
                Condition::Eq(name.into(), v.clone()),
                Condition::Ne(name.into(), v.clone()),
            ]),
            Condition::Not(Box::new(Condition::Lt(name.into(), v.clone()))),
            Condition::Le(name.into(), v.clone()),
            Condition::Gt(name.into(), Value::N(1)),
            Condition::Ge(name.into(), Value::Bool(true)),
            Condition::AttrNotExists(name.into()),
            Condition::NotExists,
        ])
    }

    #[test]
    fn hostile_names_and_values_reach_expressions_only_as_placeholders() {
        for name in HOSTILE {
            for value in HOSTILE {
                let mut p = Placeholders::default();
                let cond = update_condition(Some(&every_condition(name, value)), 1_700_000_000);
                let expr = render_condition(&cond, &mut p).expect("an expression");
                assert_only_placeholders(&expr);
                let updates = [
                    Update::Set(name.into(), Value::S(value.into())),
                    Update::Add(format!("{name}{value}"), 1),
                    Update::Remove(value.into()),
                ];
                let update_expr = render_updates(&fold_updates(&updates).unwrap(), &mut p);
                assert_only_placeholders(&update_expr);
                let key_expr = key_condition(
                    Index::Gsi1,
                    value,
                    Some(&SortKey::Between(name.into(), value.into())),
                    &mut p,
                );
                assert_only_placeholders(&key_expr);
                let (names, values) = p.into_maps();
                let names = names.unwrap();
                assert!(names.values().any(|n| n == name));
                let values = values.unwrap();
                assert!(
                    values
                        .values()
                        .any(|v| *v == AttributeValue::S(value.into()))
                );
            }
        }
    }

    #[test]
    fn every_placeholder_sent_is_used() {
        let mut p = Placeholders::default();
        let cond = translate(Some(&every_condition("a", "b")), 5);
        let expr = render_condition(&cond, &mut p).unwrap();
        let (names, values) = p.into_maps();
        for placeholder in names.unwrap().keys().chain(values.unwrap().keys()) {
            assert!(expr.contains(placeholder.as_str()), "{placeholder} unused");
        }
    }

    /// No pair of parentheses encloses exactly another pair (DynamoDB rejects `((a))`).
    fn assert_no_redundant_parentheses(expr: &str) {
        let bytes = expr.as_bytes();
        let mut open = Vec::new();
        let mut pairs = std::collections::HashMap::new();
        for (i, b) in bytes.iter().enumerate() {
            match b {
                b'(' => open.push(i),
                b')' => {
                    let start = open.pop().expect("balanced");
                    pairs.insert(start, i);
                }
                _ => {}
            }
        }
        assert!(open.is_empty(), "balanced: {expr}");
        for (&start, &end) in &pairs {
            let inner = pairs.get(&(start + 1));
            assert!(inner != Some(&(end - 1)), "redundant parentheses in {expr}");
        }
    }

    #[test]
    fn constants_fold_and_nothing_is_parenthesised_twice() {
        assert_eq!(translate(None, 0), Cond::True);
        // An ordering of a type that has none folds to a constant.
        let never = Condition::And(vec![Condition::Lt("x".into(), Value::Null)]);
        assert_eq!(on_present(&never), Cond::False);
        let mut p = Placeholders::default();
        let nested = Condition::Not(Box::new(Condition::Not(Box::new(Condition::Or(vec![
            Condition::And(vec![Condition::Eq("a".into(), Value::N(1))]),
            Condition::Or(vec![Condition::Gt("b".into(), Value::N(2))]),
        ])))));
        let expr = render_condition(&translate(Some(&nested), 0), &mut p).unwrap();
        assert_no_redundant_parentheses(&expr);
    }

    #[test]
    fn updates_on_one_attribute_fold_in_order() {
        let n = || "n".to_owned();
        let folded = fold_updates(&[
            Update::Set(n(), Value::N(2)),
            Update::Add(n(), 3),
            Update::Add("m".into(), 1),
            Update::Add("m".into(), 1),
            Update::Remove("r".into()),
            Update::Add("r".into(), 4),
        ])
        .unwrap();
        assert_eq!(folded["n"], Change::Set(Value::N(5)));
        assert_eq!(folded["m"], Change::Add(2));
        assert_eq!(folded["r"], Change::Set(Value::N(4)));
        assert!(matches!(
            fold_updates(&[Update::Set(n(), Value::S("x".into())), Update::Add(n(), 1)]),
            Err(TableError::Invalid(_))
        ));
    }
}
