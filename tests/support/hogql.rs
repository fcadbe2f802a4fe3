//! Just enough HogQL for the fake PostHog to run the queries attrsync sends as PostHog would:
//! `SELECT <columns> FROM events WHERE <conditions> ORDER BY <keys> LIMIT n`, with the
//! conditions evaluated from the query text itself (never from a copy of what the client is
//! meant to send). Semantics follow ClickHouse/HogQL: a comparison with NULL is not true,
//! `properties.x` is NULL when the property is missing or null, `{name}` placeholders take
//! their values from the request's `values` (PostHog docs, "Query API": HogQLQuery `values`),
//! UUIDs compare by their second 64-bit half first (ClickHouse's UUID order).

use std::cmp::Ordering;

use serde_json::{Map, Value as Json};

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Str(String),
    Num(f64),
    /// Microseconds since the epoch (DateTime64(6)).
    Time(i64),
    /// ClickHouse's order key of a UUID.
    Uuid((u64, u64)),
    List(Vec<V>),
}

/// ClickHouse compares UUIDs by their second 64-bit half first.
pub fn uuid_key(u: &str) -> Option<(u64, u64)> {
    let hex: String = u.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let v = u128::from_str_radix(&hex, 16).ok()?;
    Some((v as u64, (v >> 64) as u64))
}

fn parse_time(s: &str) -> Result<i64, String> {
    attrsync::domain::time::Timestamp::parse(s)
        .map(|t| t.micros())
        .map_err(|e| format!("cannot parse {s:?} as DateTime64: {e}"))
}

/// What a row exposes to queries.
pub trait Row {
    /// A top-level column (`uuid`, `event`, `timestamp`, `created_at`, …).
    fn column(&self, name: &str) -> Result<V, String>;
    fn properties(&self) -> &Map<String, Json>;
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Placeholder(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            ' ' | '\n' | '\t' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '\'' => {
                let mut t = String::new();
                i += 1;
                while i < b.len() && b[i] != '\'' {
                    if b[i] == '\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    t.push(b[i]);
                    i += 1;
                }
                if i >= b.len() {
                    return Err("unterminated string".into());
                }
                i += 1;
                out.push(Tok::Str(t));
            }
            '{' => {
                let end = b[i..]
                    .iter()
                    .position(|c| *c == '}')
                    .ok_or("unterminated placeholder")?;
                out.push(Tok::Placeholder(b[i + 1..i + end].iter().collect()));
                i += end + 1;
            }
            '=' => {
                out.push(Tok::Op("="));
                i += 1
            }
            '!' if b.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("!="));
                i += 2
            }
            '<' | '>' => {
                let eq = b.get(i + 1) == Some(&'=');
                out.push(Tok::Op(match (c, eq) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    ('>', true) => ">=",
                    _ => ">",
                }));
                i += 1 + eq as usize;
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.') {
                    i += 1;
                }
                let t: String = b[start..i].iter().collect();
                out.push(Tok::Num(t.parse().map_err(|_| format!("bad number {t}"))?));
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                // An identifier, possibly `properties.name` or properties.`quoted name`.
                let mut t = String::new();
                while i < b.len() {
                    let c = b[i];
                    if c.is_alphanumeric() || c == '_' || c == '$' || c == '.' {
                        t.push(c);
                        i += 1;
                    } else if c == '`' {
                        i += 1;
                        while i < b.len() && b[i] != '`' {
                            if b[i] == '\\' && i + 1 < b.len() {
                                i += 1;
                            }
                            t.push(b[i]);
                            i += 1;
                        }
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push(Tok::Ident(t));
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Column(String),
    Property(String),
    Placeholder(String),
    Lit(V),
    Call(String, Vec<Expr>),
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(k))
    }
    fn eat_keyword(&mut self, k: &str) -> bool {
        let yes = self.keyword(k);
        self.i += yes as usize;
        yes
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        if self.peek() == Some(&t) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {t:?}, found {:?}", self.peek()))
        }
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.and()?];
        while self.eat_keyword("OR") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.predicate()?];
        while self.eat_keyword("AND") {
            parts.push(self.predicate()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }
    fn predicate(&mut self) -> Result<Expr, String> {
        let left = self.operand()?;
        if self.eat_keyword("IS") {
            let not = self.eat_keyword("NOT");
            if !self.eat_keyword("NULL") {
                return Err("expected NULL after IS".into());
            }
            return Ok(Expr::IsNull(Box::new(left), !not));
        }
        if self.eat_keyword("IN") {
            let right = self.operand()?;
            return Ok(Expr::In(Box::new(left), Box::new(right)));
        }
        if let Some(Tok::Op(op)) = self.peek().cloned() {
            self.i += 1;
            let right = self.operand()?;
            return Ok(Expr::Cmp(op, Box::new(left), Box::new(right)));
        }
        Ok(left)
    }
    fn operand(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Tok::LParen) => {
                self.i += 1;
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(Expr::Lit(V::Str(s)))
            }
            Some(Tok::Num(n)) => {
                self.i += 1;
                Ok(Expr::Lit(V::Num(n)))
            }
            Some(Tok::Placeholder(p)) => {
                self.i += 1;
                Ok(Expr::Placeholder(p))
            }
            Some(Tok::Ident(id)) => {
                self.i += 1;
                if self.peek() == Some(&Tok::LParen) {
                    self.i += 1;
                    let mut args = Vec::new();
                    if self.peek() != Some(&Tok::RParen) {
                        loop {
                            args.push(self.or()?);
                            if self.peek() == Some(&Tok::Comma) {
                                self.i += 1;
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(Tok::RParen)?;
                    return Ok(Expr::Call(id, args));
                }
                Ok(match id.strip_prefix("properties.") {
                    Some(p) => Expr::Property(p.to_string()),
                    None => Expr::Column(id),
                })
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Parses a condition.
pub fn parse_expr(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: tokenize(text)?,
        i: 0,
    };
    let e = p.or()?;
    if p.i != p.toks.len() {
        return Err(format!("trailing input at {:?}", p.peek()));
    }
    Ok(e)
}

fn json_to_v(j: &Json) -> V {
    match j {
        Json::Null => V::Null,
        Json::String(s) => V::Str(s.clone()),
        Json::Number(n) => V::Num(n.as_f64().unwrap_or(0.0)),
        Json::Bool(b) => V::Str(b.to_string()),
        Json::Array(a) => V::List(a.iter().map(json_to_v).collect()),
        Json::Object(_) => V::Str(j.to_string()),
    }
}

fn compare(a: &V, b: &V) -> Result<Option<Ordering>, String> {
    Ok(match (a, b) {
        (V::Null, _) | (_, V::Null) => None,
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Num(x), V::Num(y)) => x.partial_cmp(y),
        (V::Time(x), V::Time(y)) => Some(x.cmp(y)),
        (V::Uuid(x), V::Uuid(y)) => Some(x.cmp(y)),
        (x, y) => return Err(format!("cannot compare {x:?} with {y:?}")),
    })
}

/// Evaluates `e` on `row` with placeholder `values`.
pub fn eval(e: &Expr, row: &dyn Row, values: &Json) -> Result<V, String> {
    let truth = |v: V| matches!(v, V::Num(n) if n != 0.0);
    Ok(match e {
        Expr::Column(c) => row.column(c)?,
        Expr::Property(p) => row.properties().get(p).map_or(V::Null, json_to_v),
        Expr::Placeholder(p) => json_to_v(
            values
                .get(p)
                .ok_or_else(|| format!("placeholder {{{p}}} has no value"))?,
        ),
        Expr::Lit(v) => v.clone(),
        Expr::Call(f, args) => {
            let a: Vec<V> = args
                .iter()
                .map(|x| eval(x, row, values))
                .collect::<Result<_, _>>()?;
            match (f.as_str(), a.as_slice()) {
                ("toDateTime64", [V::Str(s), V::Num(_), V::Str(_)]) => V::Time(parse_time(s)?),
                ("toUUID", [V::Str(s)]) => {
                    V::Uuid(uuid_key(s).ok_or_else(|| format!("{s:?} is not a UUID"))?)
                }
                (f, a) => return Err(format!("function {f}({a:?}) is not supported")),
            }
        }
        Expr::Cmp(op, l, r) => {
            let o = compare(&eval(l, row, values)?, &eval(r, row, values)?)?;
            let yes = match (o, *op) {
                (None, _) => false,
                (Some(o), "=") => o == Ordering::Equal,
                (Some(o), "!=") => o != Ordering::Equal,
                (Some(o), "<") => o == Ordering::Less,
                (Some(o), "<=") => o != Ordering::Greater,
                (Some(o), ">") => o == Ordering::Greater,
                (Some(o), ">=") => o != Ordering::Less,
                _ => unreachable!(),
            };
            V::Num(yes as u8 as f64)
        }
        Expr::In(l, r) => {
            let v = eval(l, row, values)?;
            let V::List(items) = eval(r, row, values)? else {
                return Err("IN needs a list".into());
            };
            let mut hit = false;
            for it in &items {
                if compare(&v, it)? == Some(Ordering::Equal) {
                    hit = true;
                    break;
                }
            }
            V::Num(hit as u8 as f64)
        }
        Expr::IsNull(x, want_null) => {
            V::Num(((eval(x, row, values)? == V::Null) == *want_null) as u8 as f64)
        }
        Expr::And(parts) => {
            for p in parts {
                if !truth(eval(p, row, values)?) {
                    return Ok(V::Num(0.0));
                }
            }
            V::Num(1.0)
        }
        Expr::Or(parts) => {
            for p in parts {
                if truth(eval(p, row, values)?) {
                    return Ok(V::Num(1.0));
                }
            }
            V::Num(0.0)
        }
    })
}

/// Whether `row` satisfies `e`.
pub fn holds(e: &Expr, row: &dyn Row, values: &Json) -> Result<bool, String> {
    Ok(matches!(eval(e, row, values)?, V::Num(n) if n != 0.0))
}

/// A `SELECT … FROM events [WHERE …] [ORDER BY …] [LIMIT n]` statement.
#[derive(Debug, Clone)]
pub struct Select {
    /// The select list, as written.
    pub columns: Vec<String>,
    pub filter: Option<Expr>,
    /// (column, ascending).
    pub order: Vec<(String, bool)>,
    pub limit: Option<usize>,
}

/// Splits `text` at top-level commas (outside parentheses, quotes and backquotes).
fn split_top(text: &str) -> Vec<String> {
    let (mut depth, mut quote) = (0i32, None::<char>);
    let mut out = vec![String::new()];
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        out.last_mut().unwrap().push(c);
    }
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

/// Parses the statement forms attrsync sends.
pub fn parse_select(text: &str) -> Result<Select, String> {
    let rest = text.trim().strip_prefix("SELECT ").ok_or("not a SELECT")?;
    let (cols, rest) = match rest.split_once(" FROM events") {
        Some((c, r)) => (c, r.trim()),
        None => (rest, ""),
    };
    let (rest, limit) = match rest.rsplit_once("LIMIT ") {
        Some((r, l)) => (
            r.trim(),
            Some(l.trim().parse().map_err(|_| format!("bad LIMIT {l}"))?),
        ),
        None => (rest, None),
    };
    let (rest, order) = match rest.rsplit_once("ORDER BY ") {
        Some((r, o)) => {
            let keys = split_top(o)
                .into_iter()
                .map(|k| {
                    let mut w = k.split_whitespace();
                    let col = w.next().unwrap_or_default().to_string();
                    let asc = !matches!(w.next(), Some(d) if d.eq_ignore_ascii_case("DESC"));
                    (col, asc)
                })
                .collect();
            (r.trim(), keys)
        }
        None => (rest, vec![]),
    };
    let filter = match rest.strip_prefix("WHERE ") {
        Some(w) => Some(parse_expr(w)?),
        None if rest.is_empty() => None,
        None => return Err(format!("cannot read {rest:?}")),
    };
    Ok(Select {
        columns: split_top(cols),
        filter,
        order,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(Map<String, Json>);
    impl Row for R {
        fn column(&self, name: &str) -> Result<V, String> {
            match name {
                "timestamp" => Ok(V::Time(parse_time("2024-01-01T10:00:00Z")?)),
                "event" => Ok(V::Str("$pageview".into())),
                other => Err(format!("no column {other}")),
            }
        }
        fn properties(&self) -> &Map<String, Json> {
            &self.0
        }
    }

    #[test]
    fn conditions_follow_clickhouse_null_semantics() {
        let row = R(
            serde_json::json!({"utm_source": "g", "$referring_domain": "$direct"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let v = serde_json::json!({"from": "2024-01-01 09:00:00.000000", "events": ["purchase"]});
        let e = parse_expr("timestamp >= toDateTime64({from}, 6, 'UTC') AND (event IN {events} OR properties.utm_source IS NOT NULL)").unwrap();
        assert!(holds(&e, &row, &v).unwrap());
        let e = parse_expr("properties.$referring_domain IS NOT NULL AND properties.$referring_domain != '$direct'").unwrap();
        assert!(!holds(&e, &row, &v).unwrap());
        let e = parse_expr("properties.missing != 'x'").unwrap();
        assert!(!holds(&e, &row, &v).unwrap(), "NULL compares to nothing");
        assert!(parse_expr("timestamp >= {from}")
            .and_then(|e| holds(&e, &row, &v))
            .is_err());
        let s = parse_select("SELECT uuid, properties.`plan type` FROM events WHERE event = 'x' ORDER BY created_at ASC, uuid ASC LIMIT 7").unwrap();
        assert_eq!(s.columns, ["uuid", "properties.`plan type`"]);
        assert_eq!(
            s.order,
            [("created_at".into(), true), ("uuid".into(), true)]
        );
        assert_eq!(s.limit, Some(7));
    }
}
