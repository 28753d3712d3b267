//! An OpenAPI 3.0/3.1 validator for JSON documents: the fake providers check every request they
//! receive and every answer they give against the provider's published spec, so an adapter that
//! passes its contract tests speaks the provider's language, not the fake's.
//!
//! [`OpenApi::load`] reads a YAML (or JSON) spec; `$ref`s (local, `#/…`) are followed when they
//! are met, so recursive schemas cost nothing up front. A check returns the list of violations,
//! each naming where it is (`body/calendario/expiracao: …`); an empty list means valid.
//!
//! Schema keywords understood: `type` (a name, or a list in 3.1), `nullable` (3.0, and accepted in
//! 3.1 documents that still carry it), `properties`, `required`, `additionalProperties`,
//! `patternProperties`, `min/maxProperties`, `pattern`, `min/maxLength`, `minimum`/`maximum` with
//! `exclusiveMinimum`/`exclusiveMaximum` (3.0 booleans and 3.1 numbers), `multipleOf`, `enum`,
//! `const`, `items`, `min/maxItems`, `uniqueItems`, `allOf`/`oneOf`/`anyOf`/`not`, and `format`
//! (`date-time`, `date`, `uuid`, `email`, `int32`, `int64`; other formats are annotations, as
//! JSON Schema allows: `uri` among them, since the Pix spec marks its scheme-less payload
//! `location`s, `pix.example.com/qr/v2/…`, as `format: uri`). `readOnly` properties are not required in requests, nor `writeOnly` ones in
//! responses. In 3.0 a `$ref` replaces its siblings; in 3.1 they apply beside it.
//!
//! Patterns follow JSON Schema: unanchored searches, with `\d` meaning ASCII digits as in
//! ECMA-262. One tolerance: a pattern written as a JavaScript literal (`"/^\d{11}$/"`, as the
//! BCB Pix spec v2.9.0 writes its CPF patterns) is read without its slashes, since read
//! literally no CPF could ever match it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use regex::Regex;
use serde_json::{Map, Value};

/// Where the checked document travels: `readOnly`/`writeOnly` properties are required only in
/// the direction they exist in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
    Neither,
}

/// How deep `$ref`s and nested schemas may go before a check gives up (a reference cycle).
const MAX_DEPTH: usize = 96;

/// A loaded OpenAPI document.
pub struct OpenApi {
    doc: Value,
    /// 3.1 semantics (`$ref` siblings apply).
    v31: bool,
    regexes: Mutex<HashMap<String, Result<Regex, String>>>,
}

impl std::fmt::Debug for OpenApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApi")
            .field("openapi", &self.doc.get("openapi"))
            .finish_non_exhaustive()
    }
}

/// A path template a concrete path fits: its literal segment count, the template, its path item,
/// the path parameters' values.
type PathMatch<'a> = (
    usize,
    &'a str,
    &'a Map<String, Value>,
    Vec<(&'a str, String)>,
);

/// The operation a concrete request path resolved to.
struct Operation<'a> {
    template: &'a str,
    item: &'a Map<String, Value>,
    op: &'a Map<String, Value>,
    path_values: Vec<(&'a str, String)>,
}

impl OpenApi {
    /// Reads a spec from a YAML or JSON file.
    pub fn load(path: impl AsRef<Path>) -> Result<OpenApi, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_yaml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads a spec from YAML (JSON is YAML too).
    pub fn from_yaml(text: &str) -> Result<OpenApi, String> {
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let doc = yaml_to_json(yaml)?;
        let version = doc
            .get("openapi")
            .and_then(Value::as_str)
            .ok_or("no `openapi` version field: not an OpenAPI 3 document")?;
        let v31 = if version.starts_with("3.1") {
            true
        } else if version.starts_with("3.0") {
            false
        } else {
            return Err(format!(
                "OpenAPI {version} is not supported (3.0 and 3.1 are)"
            ));
        };
        if !doc.get("paths").is_some_and(Value::is_object) {
            return Err("no `paths` object".into());
        }
        Ok(OpenApi {
            doc,
            v31,
            regexes: Mutex::new(HashMap::new()),
        })
    }

    /// The document itself, as JSON.
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// Checks a request: the operation exists, path and query parameters fit their schemas
    /// (required ones present, no unknown ones), and the JSON body fits the request body's.
    /// `path` is concrete and relative to the spec's servers (`/cob/abc`).
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        let op = match self.operation(method, path) {
            Ok(op) => op,
            Err(e) => return vec![e],
        };
        let at = format!("{} {}", method.to_uppercase(), op.template);
        let params = self.parameters(&op, &mut errors);
        for (name, value) in &op.path_values {
            match params.iter().find(|p| p.0 == "path" && p.1 == *name) {
                Some((_, _, param)) => self.check_parameter(
                    param,
                    &[value.as_str()],
                    &format!("path {name}"),
                    &mut errors,
                ),
                None => errors.push(format!("{at}: path parameter {name} is not declared")),
            }
        }
        for (name, _) in query {
            if !params.iter().any(|p| p.0 == "query" && p.1 == name) {
                errors.push(format!("{at}: unknown query parameter {name}"));
            }
        }
        for (location, name, param) in &params {
            if *location != "query" {
                continue;
            }
            let values: Vec<&str> = query
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect();
            if values.is_empty() {
                if param.get("required").and_then(Value::as_bool) == Some(true) {
                    errors.push(format!("{at}: required query parameter {name} is missing"));
                }
                continue;
            }
            self.check_parameter(param, &values, &format!("query {name}"), &mut errors);
        }
        let request_body = match op.op.get("requestBody").map(|b| self.resolve(b)) {
            None => None,
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
        };
        match (request_body, body) {
            (None, None) => {}
            (None, Some(_)) => errors.push(format!("{at}: the operation takes no request body")),
            (Some(spec), None) => {
                if spec.get("required").and_then(Value::as_bool) == Some(true) {
                    errors.push(format!("{at}: the request body is required"));
                }
            }
            (Some(spec), Some(body)) => self.check_content(
                spec,
                body,
                Direction::Request,
                &format!("{at} body"),
                &mut errors,
            ),
        }
        errors
    }

    /// Checks a response: the status is one the operation declares (or `default`) and the JSON
    /// body fits its schema; a body where none is declared, or none where one is, is a violation.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Vec<String> {
        let op = match self.operation(method, path) {
            Ok(op) => op,
            Err(e) => return vec![e],
        };
        let mut errors = Vec::new();
        let at = format!("{} {} → {status}", method.to_uppercase(), op.template);
        let Some(responses) = op.op.get("responses").and_then(Value::as_object) else {
            return vec![format!("{at}: the operation declares no responses")];
        };
        let code = status.to_string();
        let range = format!("{}XX", status / 100);
        let declared = responses
            .get(&code)
            .or_else(|| {
                responses
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&range))
                    .map(|(_, v)| v)
            })
            .or_else(|| responses.get("default"));
        let Some(declared) = declared else {
            return vec![format!("{at}: status {status} is not declared")];
        };
        let declared = match self.resolve(declared) {
            Ok(d) => d,
            Err(e) => return vec![e],
        };
        let has_content = declared
            .get("content")
            .and_then(Value::as_object)
            .is_some_and(|c| !c.is_empty());
        match (has_content, body) {
            (false, None) => {}
            (false, Some(_)) => errors.push(format!("{at}: no body is declared for this status")),
            (true, None) => errors.push(format!("{at}: a body is declared but none was sent")),
            (true, Some(body)) => self.check_content(
                declared,
                body,
                Direction::Response,
                &format!("{at} body"),
                &mut errors,
            ),
        }
        errors
    }

    /// Checks a value against `components.schemas.{name}`.
    pub fn check_schema(&self, name: &str, value: &Value) -> Vec<String> {
        let Some(schema) = self
            .doc
            .pointer(&format!("/components/schemas/{}", escape_pointer(name)))
        else {
            return vec![format!("no schema named {name} in components.schemas")];
        };
        let mut errors = Vec::new();
        self.validate(schema, value, name, Direction::Neither, &mut errors, 0);
        errors
    }

    /// Checks the body of a callback request (what the provider sends to us): the callback named
    /// `name` on any operation, its first expression's `post` request body.
    pub fn check_callback(&self, name: &str, body: &Value) -> Vec<String> {
        let Some(callback) = self.callback(name) else {
            return vec![format!("no callback named {name}")];
        };
        let callback = match self.resolve(callback) {
            Ok(c) => c,
            Err(e) => return vec![e],
        };
        let Some((expression, item)) = callback.as_object().and_then(|c| c.iter().next()) else {
            return vec![format!("callback {name} has no expression")];
        };
        let Some(request_body) = item.get("post").and_then(|op| op.get("requestBody")) else {
            return vec![format!(
                "callback {name} {expression} has no POST request body"
            )];
        };
        let mut errors = Vec::new();
        match self.resolve(request_body) {
            Ok(spec) => self.check_content(
                spec,
                body,
                Direction::Request,
                &format!("callback {name} body"),
                &mut errors,
            ),
            Err(e) => errors.push(e),
        }
        errors
    }

    fn callback(&self, name: &str) -> Option<&Value> {
        let paths = self.doc.get("paths")?.as_object()?;
        paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|item| item.values())
            .filter_map(|op| op.get("callbacks")?.get(name))
            .next()
            .or_else(|| {
                self.doc
                    .pointer(&format!("/components/callbacks/{}", escape_pointer(name)))
            })
    }

    /// Validates every `example`/`examples` value that sits beside a schema (media types,
    /// parameters, and schemas' own examples): each example's location (a JSON pointer into the
    /// document) with its violations, empty when it is valid.
    pub fn check_examples(&self) -> Vec<(String, Vec<String>)> {
        let mut checked = Vec::new();
        self.walk_examples(&self.doc, "#", false, &mut checked);
        checked
    }

    fn walk_examples(
        &self,
        node: &Value,
        at: &str,
        properties_map: bool,
        checked: &mut Vec<(String, Vec<String>)>,
    ) {
        match node {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk_examples(item, &format!("{at}/{i}"), false, checked);
                }
            }
            Value::Object(map) if properties_map => {
                for (name, schema) in map {
                    self.walk_examples(
                        schema,
                        &format!("{at}/{}", escape_pointer(name)),
                        false,
                        checked,
                    );
                }
            }
            Value::Object(map) => {
                let direction = if at.contains("/requestBod") || at.contains("/callbacks/") {
                    Direction::Request
                } else if at.contains("/responses/") {
                    Direction::Response
                } else {
                    Direction::Neither
                };
                let beside: Option<&Value> = if map.contains_key("schema") {
                    map.get("schema")
                } else if map.keys().any(|k| SCHEMA_KEYWORDS.contains(&k.as_str())) {
                    Some(node)
                } else {
                    None
                };
                if let Some(schema) = beside {
                    let mut check = |value: &Value, which: String| {
                        let mut found = Vec::new();
                        self.validate(schema, value, &which, direction, &mut found, 0);
                        checked.push((which, found));
                    };
                    if let Some(example) = map.get("example") {
                        check(example, format!("{at}/example"));
                    }
                    match map.get("examples") {
                        Some(Value::Array(values)) => {
                            for (i, value) in values.iter().enumerate() {
                                check(value, format!("{at}/examples/{i}"));
                            }
                        }
                        Some(Value::Object(named)) => {
                            for (name, example) in named {
                                match self.resolve(example) {
                                    Ok(example) => {
                                        if let Some(value) = example.get("value") {
                                            check(value, format!("{at}/examples/{name}"));
                                        }
                                    }
                                    Err(e) => {
                                        check(&Value::Null, format!("{at}/examples/{name}: {e}"))
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
                for (key, child) in map {
                    if at == "#/components" && key == "examples" {
                        // Named examples are checked where a schema references them.
                        continue;
                    }
                    if matches!(
                        key.as_str(),
                        "example" | "examples" | "default" | "enum" | "const"
                    ) || key.starts_with("x-")
                    {
                        continue;
                    }
                    let is_map = matches!(key.as_str(), "properties" | "patternProperties")
                        && beside.is_some_and(|s| std::ptr::eq(s, node));
                    self.walk_examples(
                        child,
                        &format!("{at}/{}", escape_pointer(key)),
                        is_map,
                        checked,
                    );
                }
            }
            _ => {}
        }
    }

    /// Follows `$ref`s from `value` to what they name.
    fn resolve<'a>(&'a self, mut value: &'a Value) -> Result<&'a Value, String> {
        for _ in 0..32 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return Ok(value);
            };
            value = self.target(reference)?;
        }
        Err("a chain of $refs longer than 32: a cycle?".into())
    }

    fn target(&self, reference: &str) -> Result<&Value, String> {
        let pointer = reference.strip_prefix('#').ok_or_else(|| {
            format!("$ref {reference}: only references inside the document are supported")
        })?;
        self.doc
            .pointer(pointer)
            .ok_or_else(|| format!("$ref {reference} names nothing"))
    }

    fn operation(&self, method: &str, path: &str) -> Result<Operation<'_>, String> {
        let method = method.to_lowercase();
        let paths = self.doc["paths"].as_object().expect("checked at load");
        let concrete: Vec<&str> = path.split('/').collect();
        // The template with the most literal segments wins ("/cob/{txid}" before "/{token}").
        let mut candidates: Vec<PathMatch<'_>> = paths
            .iter()
            .filter_map(|(template, item)| {
                let segments: Vec<&str> = template.split('/').collect();
                if segments.len() != concrete.len() {
                    return None;
                }
                let mut literal = 0;
                let mut values = Vec::new();
                for (t, c) in segments.iter().zip(&concrete) {
                    if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                        if c.is_empty() {
                            return None;
                        }
                        values.push((name, percent_decode(c)));
                    } else if t == c {
                        literal += 1;
                    } else {
                        return None;
                    }
                }
                Some((literal, template.as_str(), item.as_object()?, values))
            })
            .collect();
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        if candidates.is_empty() {
            return Err(format!(
                "{} {path}: no such path in the spec",
                method.to_uppercase()
            ));
        }
        let with_method: Vec<_> = candidates
            .into_iter()
            .filter_map(|(_, template, item, values)| {
                let op = self.resolve(item.get(&method)?).ok()?.as_object()?;
                Some(Operation {
                    template,
                    item,
                    op,
                    path_values: values,
                })
            })
            .collect();
        if with_method.is_empty() {
            return Err(format!(
                "{} {path}: the path exists but not with this method",
                method.to_uppercase()
            ));
        }
        // Among equally specific templates, the first whose path parameters fit.
        let mut first = None;
        for op in with_method {
            let mut errors = Vec::new();
            let params = self.parameters(&op, &mut errors);
            for (name, value) in &op.path_values {
                if let Some((_, _, p)) = params.iter().find(|p| p.0 == "path" && p.1 == *name) {
                    self.check_parameter(p, &[value.as_str()], name, &mut errors);
                }
            }
            if errors.is_empty() {
                return Ok(op);
            }
            first.get_or_insert(op);
        }
        Ok(first.expect("at least one candidate"))
    }

    /// The operation's parameters: the path item's, overridden by the operation's.
    fn parameters<'a>(
        &'a self,
        op: &Operation<'a>,
        errors: &mut Vec<String>,
    ) -> Vec<(&'a str, &'a str, &'a Value)> {
        let mut out: Vec<(&str, &str, &Value)> = Vec::new();
        let lists = [op.item.get("parameters"), op.op.get("parameters")];
        for list in lists.into_iter().flatten().filter_map(Value::as_array) {
            for param in list {
                let param = match self.resolve(param) {
                    Ok(p) => p,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                let (Some(location), Some(name)) = (
                    param.get("in").and_then(Value::as_str),
                    param.get("name").and_then(Value::as_str),
                ) else {
                    continue;
                };
                out.retain(|p| !(p.0 == location && p.1 == name));
                out.push((location, name, param));
            }
        }
        out
    }

    /// Checks a path or query parameter's raw values, coerced to the schema's type.
    fn check_parameter(&self, param: &Value, raw: &[&str], at: &str, errors: &mut Vec<String>) {
        let Some(schema) = param.get("schema") else {
            return;
        };
        let kind = self.schema_type(schema, 0);
        let value = if kind.as_deref() == Some("array") {
            let item_kind = self
                .resolve(schema)
                .ok()
                .and_then(|s| s.get("items"))
                .and_then(|items| self.schema_type(items, 0));
            let values: Vec<&str> = if raw.len() == 1 {
                raw[0].split(',').collect()
            } else {
                raw.to_vec()
            };
            Value::Array(
                values
                    .iter()
                    .map(|v| coerce(v, item_kind.as_deref()))
                    .collect(),
            )
        } else {
            if raw.len() > 1 {
                errors.push(format!("{at}: given {} times", raw.len()));
            }
            coerce(raw[0], kind.as_deref())
        };
        self.validate(schema, &value, at, Direction::Request, errors, 0);
    }

    /// The `type` a schema declares, looking through `$ref` and `allOf`.
    fn schema_type(&self, schema: &Value, depth: usize) -> Option<String> {
        if depth > 16 {
            return None;
        }
        let schema = self.resolve(schema).ok()?;
        match schema.get("type") {
            Some(Value::String(t)) => return Some(t.clone()),
            Some(Value::Array(types)) => {
                return types
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "null")
                    .map(String::from);
            }
            _ => {}
        }
        schema
            .get("allOf")?
            .as_array()?
            .iter()
            .find_map(|s| self.schema_type(s, depth + 1))
    }

    /// Checks a body against a request body's or a response's `content`: the JSON media type's
    /// schema (any of them, when several are declared).
    fn check_content(
        &self,
        spec: &Value,
        body: &Value,
        direction: Direction,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(content) = spec.get("content").and_then(Value::as_object) else {
            return;
        };
        let schemas: Vec<&Value> = content
            .iter()
            .filter(|(media, _)| media.contains("json") || media.as_str() == "*/*")
            .filter_map(|(_, m)| m.get("schema"))
            .collect();
        if schemas.is_empty() {
            if !content.is_empty() {
                errors.push(format!("{at}: no JSON content is declared"));
            }
            return;
        }
        let mut first = None;
        for schema in schemas {
            let mut found = Vec::new();
            self.validate(schema, body, at, direction, &mut found, 0);
            if found.is_empty() {
                return;
            }
            first.get_or_insert(found);
        }
        errors.extend(first.unwrap_or_default());
    }

    /// Whether `value` fits `schema`, without collecting why not.
    fn fits(&self, schema: &Value, value: &Value, direction: Direction, depth: usize) -> bool {
        let mut errors = Vec::new();
        self.validate(schema, value, "", direction, &mut errors, depth);
        errors.is_empty()
    }

    fn validate(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        direction: Direction,
        errors: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            errors.push(format!(
                "{at}: schema nesting deeper than {MAX_DEPTH} (a $ref cycle?)"
            ));
            return;
        }
        let map = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                errors.push(format!("{at}: no value is allowed here"));
                return;
            }
            Value::Object(map) => map,
            _ => return,
        };
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            match self.target(reference) {
                Ok(target) => self.validate(target, value, at, direction, errors, depth + 1),
                Err(e) => errors.push(format!("{at}: {e}")),
            }
            if !self.v31 {
                return;
            }
        }
        if value.is_null() && map.get("nullable").and_then(Value::as_bool) == Some(true) {
            return;
        }
        if let Some(declared) = map.get("type") {
            let types: Vec<&str> = match declared {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.is_empty() && !types.iter().any(|t| type_fits(t, value)) {
                errors.push(format!(
                    "{at}: expected {}, found {}",
                    types.join(" or "),
                    describe(value)
                ));
                return;
            }
        }
        if let Some(Value::Array(allowed)) = map.get("enum")
            && !allowed.iter().any(|a| json_equal(a, value))
        {
            errors.push(format!(
                "{at}: {} is not one of {}",
                short(value),
                short(&Value::Array(allowed.clone()))
            ));
        }
        if let Some(expected) = map.get("const")
            && !json_equal(expected, value)
        {
            errors.push(format!("{at}: {} is not {}", short(value), short(expected)));
        }
        match value {
            Value::String(s) => self.validate_string(map, s, at, errors),
            Value::Number(_) => validate_number(map, value, at, errors),
            Value::Object(object) => {
                self.validate_object(map, object, at, direction, errors, depth)
            }
            Value::Array(items) => self.validate_array(map, items, at, direction, errors, depth),
            _ => {}
        }
        if let Some(Value::Array(all)) = map.get("allOf") {
            for sub in all {
                self.validate(sub, value, at, direction, errors, depth + 1);
            }
        }
        if let Some(Value::Array(any)) = map.get("anyOf")
            && !any
                .iter()
                .any(|s| self.fits(s, value, direction, depth + 1))
        {
            let mut why = Vec::new();
            if let Some(s) = any.first() {
                self.validate(s, value, at, direction, &mut why, depth + 1);
            }
            errors.push(format!(
                "{at}: fits none of anyOf's {} schemas (the first says: {})",
                any.len(),
                why.join("; ")
            ));
        }
        if let Some(Value::Array(one)) = map.get("oneOf") {
            let fitting = one
                .iter()
                .filter(|s| self.fits(s, value, direction, depth + 1))
                .count();
            if fitting != 1 {
                errors.push(format!(
                    "{at}: fits {fitting} of oneOf's {} schemas, not exactly one",
                    one.len()
                ));
            }
        }
        if let Some(not) = map.get("not")
            && self.fits(not, value, direction, depth + 1)
        {
            errors.push(format!("{at}: fits the schema under `not`"));
        }
    }

    fn validate_string(
        &self,
        map: &Map<String, Value>,
        s: &str,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let length = s.chars().count() as u64;
        check_size(map, "Length", length, "characters", at, errors);
        if let Some(pattern) = map.get("pattern").and_then(Value::as_str) {
            match self.regex(pattern) {
                Ok(re) => {
                    if !re.is_match(s) {
                        errors.push(format!("{at}: {s:?} does not match the pattern {pattern}"));
                    }
                }
                Err(e) => errors.push(format!("{at}: {e}")),
            }
        }
        if let Some(format) = map.get("format").and_then(Value::as_str)
            && let Err(e) = check_string_format(format, s)
        {
            errors.push(format!("{at}: {s:?} is not a {format}: {e}"));
        }
    }

    fn validate_object(
        &self,
        map: &Map<String, Value>,
        object: &Map<String, Value>,
        at: &str,
        direction: Direction,
        errors: &mut Vec<String>,
        depth: usize,
    ) {
        let properties = map.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = map.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if object.contains_key(name) {
                    continue;
                }
                let property = properties
                    .and_then(|p| p.get(name))
                    .and_then(|p| self.resolve(p).ok());
                let flag = |k: &str| {
                    property.and_then(|p| p.get(k)).and_then(Value::as_bool) == Some(true)
                };
                let exempt = (direction == Direction::Request && flag("readOnly"))
                    || (direction == Direction::Response && flag("writeOnly"));
                if !exempt {
                    errors.push(format!("{at}: required property {name} is missing"));
                }
            }
        }
        let count = object.len() as u64;
        check_size(map, "Properties", count, "properties", at, errors);
        let patterns = map.get("patternProperties").and_then(Value::as_object);
        for (name, child) in object {
            let child_at = format!("{at}/{name}");
            let mut known = false;
            if let Some(schema) = properties.and_then(|p| p.get(name)) {
                known = true;
                self.validate(schema, child, &child_at, direction, errors, depth + 1);
            }
            for (pattern, schema) in patterns.into_iter().flatten() {
                match self.regex(pattern) {
                    Ok(re) if re.is_match(name) => {
                        known = true;
                        self.validate(schema, child, &child_at, direction, errors, depth + 1);
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(format!("{at}: {e}")),
                }
            }
            if known {
                continue;
            }
            match map.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    errors.push(format!("{at}: property {name} is not allowed"))
                }
                Some(schema @ Value::Object(_)) => {
                    self.validate(schema, child, &child_at, direction, errors, depth + 1)
                }
                _ => {}
            }
        }
    }

    fn validate_array(
        &self,
        map: &Map<String, Value>,
        items: &[Value],
        at: &str,
        direction: Direction,
        errors: &mut Vec<String>,
        depth: usize,
    ) {
        check_size(map, "Items", items.len() as u64, "items", at, errors);
        if map.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (i, a) in items.iter().enumerate() {
                if items[..i].iter().any(|b| json_equal(a, b)) {
                    errors.push(format!("{at}/{i}: repeats an earlier item (uniqueItems)"));
                }
            }
        }
        if let Some(schema) = map.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.validate(
                    schema,
                    item,
                    &format!("{at}/{i}"),
                    direction,
                    errors,
                    depth + 1,
                );
            }
        }
    }

    fn regex(&self, pattern: &str) -> Result<Regex, String> {
        let mut cache = self.regexes.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(pattern.to_string())
            .or_insert_with(|| {
                Regex::new(&ecma_to_rust(pattern))
                    .map_err(|e| format!("the spec's pattern {pattern} does not compile: {e}"))
            })
            .clone()
    }
}

/// The keywords that make an object a schema (for finding schema-level examples).
const SCHEMA_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "$ref",
    "pattern",
    "format",
    "enum",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
];

/// An ECMA-262 pattern as the `regex` crate reads it: JavaScript literal slashes dropped, `\d`
/// ASCII only.
fn ecma_to_rust(pattern: &str) -> String {
    let body = if pattern.len() > 2 && pattern.starts_with('/') && pattern.ends_with('/') {
        &pattern[1..pattern.len() - 1]
    } else {
        pattern
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `min{keyword}`/`max{keyword}` against a size.
fn check_size(
    map: &Map<String, Value>,
    keyword: &str,
    size: u64,
    unit: &str,
    at: &str,
    errors: &mut Vec<String>,
) {
    if let Some(min) = map.get(&format!("min{keyword}")).and_then(Value::as_u64)
        && size < min
    {
        errors.push(format!(
            "{at}: {size} {unit}, fewer than min{keyword} {min}"
        ));
    }
    if let Some(max) = map.get(&format!("max{keyword}")).and_then(Value::as_u64)
        && size > max
    {
        errors.push(format!("{at}: {size} {unit}, more than max{keyword} {max}"));
    }
}

fn type_fits(declared: &str, value: &Value) -> bool {
    match declared {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}

fn validate_number(map: &Map<String, Value>, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(n) = value.as_f64() else { return };
    let flag = |k: &str| map.get(k).and_then(Value::as_bool) == Some(true);
    if let Some(min) = map.get("minimum").and_then(Value::as_f64)
        && (n < min || (flag("exclusiveMinimum") && n == min))
    {
        errors.push(format!("{at}: {n} is below the minimum {min}"));
    }
    if let Some(max) = map.get("maximum").and_then(Value::as_f64)
        && (n > max || (flag("exclusiveMaximum") && n == max))
    {
        errors.push(format!("{at}: {n} is above the maximum {max}"));
    }
    if let Some(min) = map.get("exclusiveMinimum").and_then(Value::as_f64)
        && n <= min
    {
        errors.push(format!("{at}: {n} is not above {min}"));
    }
    if let Some(max) = map.get("exclusiveMaximum").and_then(Value::as_f64)
        && n >= max
    {
        errors.push(format!("{at}: {n} is not below {max}"));
    }
    if let Some(step) = map.get("multipleOf").and_then(Value::as_f64) {
        let q = n / step;
        if step > 0.0 && (q - q.round()).abs() > 1e-9 {
            errors.push(format!("{at}: {n} is not a multiple of {step}"));
        }
    }
    if let Some(format) = map.get("format").and_then(Value::as_str) {
        let whole = value.as_i64();
        let fits = match format {
            "int32" => whole.is_some_and(|i| i32::try_from(i).is_ok()),
            "int64" => whole.is_some(),
            _ => true,
        };
        if !fits {
            errors.push(format!("{at}: {n} is not an {format}"));
        }
    }
}

fn check_string_format(format: &str, s: &str) -> Result<(), String> {
    use time::format_description::well_known::Rfc3339;
    match format {
        "date-time" => time::OffsetDateTime::parse(s, &Rfc3339)
            .map(drop)
            .map_err(|e| e.to_string()),
        "date" => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(s, &format)
                .map(drop)
                .map_err(|e| e.to_string())
        }
        "uuid" => {
            let groups: Vec<&str> = s.split('-').collect();
            let lengths = [8, 4, 4, 4, 12];
            let ok = groups.len() == 5
                && groups
                    .iter()
                    .zip(lengths)
                    .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
            if ok {
                Ok(())
            } else {
                Err("not 8-4-4-4-12 hex digits".into())
            }
        }
        "email" => match s.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !s.contains(' ') =>
            {
                Ok(())
            }
            _ => Err("no local part, @ and domain".into()),
        },
        _ => Ok(()),
    }
}

/// A query or path value as the type its schema declares (kept a string when it does not parse,
/// so the type check reports it).
fn coerce(raw: &str, kind: Option<&str>) -> Value {
    match kind {
        Some("integer") => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| raw.into()),
        Some("number") => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| raw.into()),
        Some("boolean") => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => raw.into(),
        },
        _ => raw.into(),
    }
}

/// JSON equality where 1 and 1.0 are the same number.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// YAML as JSON: mapping keys that are not strings (`200:`) become their text.
fn yaml_to_json(yaml: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| format!("the number {n} has no JSON form"))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(mapping) => {
            let mut out = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".into(),
                    other => return Err(format!("a mapping key that is not a scalar: {other:?}")),
                };
                out.insert(key, yaml_to_json(value)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

/// The providers' specs, from the `shared/payments` folder beside the workspace
/// (`VITRINE_SHARED_DIR` overrides where `shared` is).
pub fn shared_spec(relative: &str) -> std::path::PathBuf {
    let shared = std::env::var_os("VITRINE_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    shared.join("payments").join(relative)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pix() -> OpenApi {
        OpenApi::load(shared_spec("pix-api/openapi.yaml")).expect("the Pix spec loads")
    }

    fn mercadopago() -> OpenApi {
        OpenApi::load(shared_spec("mercadopago/spec3.yaml")).expect("the Mercado Pago spec loads")
    }

    /// Examples in the official specs that contradict their own schemas, found by this
    /// validator and checked by hand by kind: the Pix spec's `CobGerada.loc` requires `txid`
    /// and `criacao` that its response examples leave out; list examples (`getCobs1`, …) hold
    /// `allOf: [$ref]` objects where data belongs; `cobBody6` and the Saque/Troco examples omit
    /// the required `calendario` or fit both branches of `retirada`'s `oneOf`; `CobExpiracao`'s
    /// example is the string "3600"; CEPs of 9 characters (`70011-750`) against `maxLength: 8`;
    /// "POUPANÇA" outside its enum; Pix Automático (`rec`, `solicrec`, `cobr`) examples without
    /// `retentativa`, `ispbParticipante`, `status`…; Mercado Pago's `manual_mode` order without
    /// its required `transactions`. Pinned, so that a change in the validator or in the specs
    /// shows up here.
    const PIX_ERRATA: &[&str] = &[
        "#/components/requestBodies/CobBody/content/application~1json/examples/exemplo2",
        "#/components/requestBodies/CobBody/content/application~1json/examples/exemplo3",
        "#/components/requestBodies/CobBody/content/application~1json/examples/exemplo4",
        "#/components/requestBodies/CobBodyRevisada/content/application~1json/examples/exemplo1",
        "#/components/requestBodies/CobRBody/content/application~1json/examples/exemplo1",
        "#/components/requestBodies/CobVBody/content/application~1json/examples/exemplo1",
        "#/components/requestBodies/CobVBodyRevisada/content/application~1json/examples/exemplo1",
        "#/components/requestBodies/LoteCobVBody/content/application~1json/examples/exemplo1",
        "#/components/requestBodies/RecBody/content/application~1json/examples/exemplo1",
        "#/components/requestBodies/RecBody/content/application~1json/examples/exemplo2",
        "#/components/requestBodies/RecBodyRevisada/content/application~1json/examples/retorno1",
        "#/components/requestBodies/SolicRecBody/content/application~1json/examples/exemplo1",
        "#/components/requestBodies/WebhookPixBody/content/application~1json/schema/properties/pix/example",
        "#/components/schemas/CobExpiracao/properties/expiracao/example",
        "#/components/schemas/RecBase/properties/vinculo/properties/objeto/example",
        "#/paths/~1cob/get/responses/200/content/application~1json/examples/getCobs1",
        "#/paths/~1cob/get/responses/200/content/application~1json/examples/getCobs2",
        "#/paths/~1cob/post/responses/201/content/application~1json/examples/retorno1",
        "#/paths/~1cob/post/responses/201/content/application~1json/examples/retorno2",
        "#/paths/~1cob/post/responses/201/content/application~1json/examples/retorno3",
        "#/paths/~1cob/post/responses/201/content/application~1json/examples/retorno4",
        "#/paths/~1cobr/get/responses/200/content/application~1json/examples/retorno1",
        "#/paths/~1cobr/post/responses/201/content/application~1json/examples/response1",
        "#/paths/~1cobr~1{txid}/get/responses/200/content/application~1json/examples/response1",
        "#/paths/~1cobr~1{txid}/get/responses/200/content/application~1json/examples/response2",
        "#/paths/~1cobr~1{txid}/get/responses/200/content/application~1json/examples/response3",
        "#/paths/~1cobr~1{txid}/patch/responses/200/content/application~1json/examples/response1",
        "#/paths/~1cobr~1{txid}/put/responses/201/content/application~1json/examples/response1",
        "#/paths/~1cobr~1{txid}~1retentativa~1{data}/post/responses/201/content/application~1json/examples/response1",
        "#/paths/~1cobv/get/responses/200/content/application~1json/examples/getCobs1",
        "#/paths/~1cobv~1{pixUrlAccessToken}/get/responses/200/content/application~1jose/examples/retorno1",
        "#/paths/~1cobv~1{txid}/get/responses/200/content/application~1json/examples/retorno1",
        "#/paths/~1cobv~1{txid}/patch/responses/200/content/application~1json/examples/retorno1",
        "#/paths/~1cobv~1{txid}/put/responses/201/content/application~1json/examples/retorno1",
        "#/paths/~1cob~1{txid}/get/responses/200/content/application~1json/examples/retorno1",
        "#/paths/~1cob~1{txid}/get/responses/200/content/application~1json/examples/retorno2",
        "#/paths/~1cob~1{txid}/get/responses/200/content/application~1json/examples/retorno3",
        "#/paths/~1cob~1{txid}/get/responses/200/content/application~1json/examples/retorno4",
        "#/paths/~1cob~1{txid}/get/responses/200/content/application~1json/examples/retorno5",
        "#/paths/~1cob~1{txid}/patch/responses/200/content/application~1json/examples/retorno1",
        "#/paths/~1cob~1{txid}/put/responses/201/content/application~1json/examples/retorno1",
        "#/paths/~1cob~1{txid}/put/responses/201/content/application~1json/examples/retorno2",
        "#/paths/~1cob~1{txid}/put/responses/201/content/application~1json/examples/retorno3",
        "#/paths/~1cob~1{txid}/put/responses/201/content/application~1json/examples/retorno4",
        "#/paths/~1loc/get/responses/200/content/application~1json/examples/getPayloadLocations",
        "#/paths/~1locrec/get/responses/200/content/application~1json/examples/getPayloadLocationsRec",
        "#/paths/~1locrec/post/responses/201/content/application~1json/examples/response1",
        "#/paths/~1locrec~1{id}/get/responses/200/content/application~1json/examples/response1",
        "#/paths/~1locrec~1{id}~1idRec/delete/responses/200/content/application~1json/examples/response1",
        "#/paths/~1lotecobv/get/responses/200/content/application~1json/examples/exemplo1",
        "#/paths/~1lotecobv~1{id}/get/responses/200/content/application~1json/examples/exemplo1",
        "#/paths/~1pix/get/responses/200/content/application~1json/examples/getCobs1",
        "#/paths/~1pix~1{e2eid}/get/responses/200/content/application~1json/examples/retorno2",
        "#/paths/~1pix~1{e2eid}/get/responses/200/content/application~1json/examples/retorno3",
        "#/paths/~1rec/get/responses/200/content/application~1json/examples/retorno1",
        "#/paths/~1rec/post/responses/201/content/application~1json/examples/retorno1",
        "#/paths/~1rec/post/responses/201/content/application~1json/examples/retorno2",
        "#/paths/~1rec~1{idRec}/get/responses/200/content/application~1json/examples/response1",
        "#/paths/~1rec~1{idRec}/get/responses/200/content/application~1json/examples/response2",
        "#/paths/~1rec~1{idRec}/get/responses/200/content/application~1json/examples/response3",
        "#/paths/~1rec~1{idRec}/get/responses/200/content/application~1json/examples/response4",
        "#/paths/~1rec~1{idRec}/get/responses/200/content/application~1json/examples/response5",
        "#/paths/~1rec~1{idRec}/get/responses/200/content/application~1json/examples/response6",
        "#/paths/~1rec~1{idRec}/patch/responses/200/content/application~1json/examples/retorno1",
        "#/paths/~1rec~1{recUrlAccessToken}/get/responses/200/content/application~1jose/examples/response1",
        "#/paths/~1solicrec/post/responses/201/content/application~1json/examples/response1",
        "#/paths/~1solicrec~1{idSolicRec}/get/responses/200/content/application~1json/examples/response1",
        "#/paths/~1solicrec~1{idSolicRec}/get/responses/200/content/application~1json/examples/response2",
        "#/paths/~1solicrec~1{idSolicRec}/patch/responses/201/content/application~1json/examples/response1",
        "#/paths/~1webhook/get/responses/200/content/application~1json/examples/getCobs1",
        "#/paths/~1webhook~1{chave}/get/responses/200/content/application~1json/examples/exemplo1",
    ];
    const MERCADOPAGO_ERRATA: &[&str] =
        &["#/paths/~1v1~1orders/post/requestBody/content/application~1json/examples/manual_mode"];

    #[test]
    fn every_example_beside_a_schema_in_both_specs_validates_but_the_pinned_errata() {
        let mut valid = 0;
        for (name, api, errata) in [
            ("pix-api 2.9.0", pix(), PIX_ERRATA),
            ("mercadopago", mercadopago(), MERCADOPAGO_ERRATA),
        ] {
            let checked = api.check_examples();
            let failing: Vec<&str> = checked
                .iter()
                .filter(|(_, errors)| !errors.is_empty())
                .map(|(at, _)| at.as_str())
                .collect();
            let mut locations: Vec<&str> = failing
                .iter()
                .map(|at| {
                    at.split_once("/examples/").map_or(*at, |(head, tail)| {
                        let name_end = tail.find('/').unwrap_or(tail.len());
                        &at[..head.len() + "/examples/".len() + name_end]
                    })
                })
                .collect();
            locations.sort_unstable();
            locations.dedup();
            let violations: usize = checked.iter().map(|(_, e)| e.len()).sum();
            println!(
                "{name}: {} examples beside a schema, {} valid, {} contradict their schema ({violations} violations)",
                checked.len(),
                checked.len() - failing.len(),
                failing.len()
            );
            assert!(
                checked.len() > 100,
                "{name}: only {} examples found",
                checked.len()
            );
            let unexpected: Vec<_> = checked
                .iter()
                .filter(|(at, errors)| {
                    !errors.is_empty() && !errata.iter().any(|e| at.starts_with(e))
                })
                .collect();
            assert!(unexpected.is_empty(), "{name}: {unexpected:#?}");
            let fixed: Vec<_> = errata.iter().filter(|e| !locations.contains(e)).collect();
            assert!(
                fixed.is_empty(),
                "{name}: these errata now validate: {fixed:#?}"
            );
            valid += checked.len() - failing.len();
        }
        println!("both specs: {valid} examples valid");
    }

    #[test]
    fn a_well_formed_pix_charge_request_is_accepted() {
        let body = json!({
            "calendario": {"expiracao": 3600},
            "devedor": {"cpf": "12345678909", "nome": "Francisco da Silva"},
            "valor": {"original": "123.45"},
            "chave": "7d9f0335-8dcc-4054-9bf9-0dbd61d36906",
            "solicitacaoPagador": "Pedido 1234"
        });
        let errors = pix().check_request(
            "PUT",
            "/cob/7978c0c97ea847e78e8849634473c1f1",
            &[],
            Some(&body),
        );
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn bad_pix_documents_are_refused() {
        let api = pix();
        let txid = "/cob/7978c0c97ea847e78e8849634473c1f1";
        let cases = [
            (
                "money as a number",
                json!({"calendario":{"expiracao":60},"valor":{"original":12.5},"chave":"k"}),
            ),
            (
                "money with one decimal",
                json!({"calendario":{"expiracao":60},"valor":{"original":"12.5"},"chave":"k"}),
            ),
            (
                "no key",
                json!({"calendario":{"expiracao":60},"valor":{"original":"1.00"}}),
            ),
            (
                "a CPF of ten digits",
                json!({"calendario":{"expiracao":60},"valor":{"original":"1.00"},"chave":"k","devedor":{"cpf":"1234567890","nome":"A"}}),
            ),
            (
                "a payer message too long",
                json!({"calendario":{"expiracao":60},"valor":{"original":"1.00"},"chave":"k","solicitacaoPagador":"x".repeat(141)}),
            ),
            (
                "expiry as a string",
                json!({"calendario":{"expiracao":"60"},"valor":{"original":"1.00"},"chave":"k"}),
            ),
        ];
        for (what, body) in cases {
            let errors = api.check_request("PUT", txid, &[], Some(&body));
            assert!(!errors.is_empty(), "{what} was accepted");
        }
        assert!(
            !api.check_request("PUT", "/cob/short", &[], Some(&json!({})))
                .is_empty()
        );
        assert!(
            !api.check_request("DELETE", txid, &[], None).is_empty(),
            "unknown method"
        );
        assert!(
            !api.check_request("GET", "/nowhere/at/all", &[], None)
                .is_empty(),
            "unknown path"
        );
        assert!(
            !api.check_request("PUT", txid, &[], None).is_empty(),
            "missing required body"
        );
        let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let good = query(&[
            ("inicio", "2020-04-01T00:00:00Z"),
            ("fim", "2020-04-02T10:00:00Z"),
        ]);
        assert!(api.check_request("GET", "/pix", &good, None).is_empty());
        assert!(
            !api.check_request(
                "GET",
                "/pix",
                &query(&[("inicio", "2020-04-01T00:00:00Z")]),
                None
            )
            .is_empty()
        );
        assert!(
            !api.check_request(
                "GET",
                "/pix",
                &query(&[("inicio", "yesterday"), ("fim", "2020-04-02T10:00:00Z")]),
                None
            )
            .is_empty()
        );
        let mut unknown = good.clone();
        unknown.push(("page".into(), "2".into()));
        assert!(!api.check_request("GET", "/pix", &unknown, None).is_empty());
        let mut bad_page = good;
        bad_page.push(("paginacao.itensPorPagina".into(), "5000".into()));
        assert!(!api.check_request("GET", "/pix", &bad_page, None).is_empty());
    }

    #[test]
    fn responses_are_held_to_their_status_and_schema() {
        let api = pix();
        let e2e = "/pix/E12345678202009091221abcdef12345";
        let pix = json!({"endToEndId":"E12345678202009091221abcdef12345","txid":"7978c0c97ea847e78e8849634473c1f1","valor":"110.00","horario":"2020-09-09T20:15:00.358Z"});
        assert!(api.check_response("GET", e2e, 200, Some(&pix)).is_empty());
        let mut no_time = pix.clone();
        no_time.as_object_mut().unwrap().remove("horario");
        assert!(
            !api.check_response("GET", e2e, 200, Some(&no_time))
                .is_empty()
        );
        let mut bad_time = pix.clone();
        bad_time["horario"] = json!("2020-09-09 20:15");
        assert!(
            !api.check_response("GET", e2e, 200, Some(&bad_time))
                .is_empty()
        );
        assert!(
            !api.check_response("GET", e2e, 418, Some(&pix)).is_empty(),
            "undeclared status"
        );
        let problem = json!({"type":"https://pix.bcb.gov.br/api/v2/error/NaoEncontrado","title":"Não Encontrado","status":404});
        assert!(
            api.check_response("GET", e2e, 404, Some(&problem))
                .is_empty()
        );
        assert!(
            !api.check_response("GET", e2e, 404, None).is_empty(),
            "a declared body missing"
        );
        assert!(
            !api.check_response("PUT", "/webhook/chave", 200, Some(&json!({})))
                .is_empty()
        );
        assert!(
            api.check_response("PUT", "/webhook/chave", 200, None)
                .is_empty()
        );
    }

    #[test]
    fn the_webhook_callback_and_named_schemas_are_checked() {
        let api = pix();
        let good = json!({"pix":[{"endToEndId":"E12345678202009091221abcdef12345","txid":"7978c0c97ea847e78e8849634473c1f1","valor":"110.00","horario":"2020-09-09T20:15:00.358Z"}]});
        assert!(api.check_callback("listaPix", &good).is_empty());
        assert!(
            !api.check_callback("listaPix", &json!({"pix":[{"txid":"x"}]}))
                .is_empty()
        );
        assert!(!api.check_callback("nothing", &good).is_empty());
        assert!(api.check_schema("Pix", &good["pix"][0]).is_empty());
        assert!(!api.check_schema("Pix", &json!("E1")).is_empty());
        assert!(!api.check_schema("NoSuchSchema", &good).is_empty());
    }

    #[test]
    fn schema_keywords_of_both_versions_are_understood() {
        let spec = |version: &str, schema: Value| {
            let doc = json!({"openapi": version, "paths": {}, "components": {"schemas": {"S": schema, "N": {"type": "integer"}}}});
            OpenApi::from_yaml(&doc.to_string()).unwrap()
        };
        let v30 = spec(
            "3.0.3",
            json!({"type":"integer","nullable":true,"minimum":1,"exclusiveMaximum":true,"maximum":10}),
        );
        assert!(v30.check_schema("S", &json!(null)).is_empty());
        assert!(v30.check_schema("S", &json!(9)).is_empty());
        assert!(!v30.check_schema("S", &json!(10)).is_empty());
        assert!(!v30.check_schema("S", &json!(0)).is_empty());
        assert!(!v30.check_schema("S", &json!(1.5)).is_empty());
        let v31 = spec("3.1.0", json!({"type":["string","null"],"maxLength":1}));
        assert!(v31.check_schema("S", &json!(null)).is_empty());
        assert!(v31.check_schema("S", &json!("a")).is_empty());
        assert!(!v31.check_schema("S", &json!("ab")).is_empty());
        let constant = spec("3.1.0", json!({"const":"a"}));
        assert!(constant.check_schema("S", &json!("a")).is_empty());
        assert!(!constant.check_schema("S", &json!("b")).is_empty());
        assert!(!v31.check_schema("S", &json!(1)).is_empty());
        let exclusive = spec("3.1.0", json!({"type":"number","exclusiveMinimum":0}));
        assert!(!exclusive.check_schema("S", &json!(0)).is_empty());
        assert!(exclusive.check_schema("S", &json!(0.01)).is_empty());
        let one_of = spec(
            "3.1.0",
            json!({"oneOf":[{"type":"integer"},{"type":"number"}]}),
        );
        assert!(!one_of.check_schema("S", &json!(1)).is_empty(), "fits both");
        assert!(one_of.check_schema("S", &json!(1.5)).is_empty());
        let closed = spec(
            "3.0.0",
            json!({"type":"object","properties":{"a":{"$ref":"#/components/schemas/N"}},"additionalProperties":false,"required":["a"]}),
        );
        assert!(closed.check_schema("S", &json!({"a":1})).is_empty());
        assert!(!closed.check_schema("S", &json!({"a":"1"})).is_empty());
        assert!(!closed.check_schema("S", &json!({"a":1,"b":2})).is_empty());
        assert!(!closed.check_schema("S", &json!({})).is_empty());
        let array = spec(
            "3.0.0",
            json!({"type":"array","items":{"type":"string","format":"date-time"},"minItems":1,"maxItems":2}),
        );
        assert!(
            array
                .check_schema("S", &json!(["2026-01-01T00:00:00-03:00"]))
                .is_empty()
        );
        assert!(!array.check_schema("S", &json!([])).is_empty());
        assert!(
            !array
                .check_schema("S", &json!(["2026-13-01T00:00:00Z"]))
                .is_empty()
        );
        assert!(!array.check_schema("S", &json!(["a", "b", "c"])).is_empty());
        let any_of = spec(
            "3.0.0",
            json!({"anyOf":[{"type":"string","minLength":2},{"enum":[1,2]}]}),
        );
        assert!(any_of.check_schema("S", &json!("ab")).is_empty());
        assert!(any_of.check_schema("S", &json!(2)).is_empty());
        assert!(!any_of.check_schema("S", &json!("a")).is_empty());
        assert!(!any_of.check_schema("S", &json!(3)).is_empty());
    }

    #[test]
    fn a_javascript_literal_pattern_is_read_without_its_slashes() {
        assert_eq!(ecma_to_rust("/^\\d{11}$/"), "^[0-9]{11}$");
        assert_eq!(ecma_to_rust("\\d{1,10}\\.\\d{2}"), "[0-9]{1,10}\\.[0-9]{2}");
        assert!(
            !Regex::new(&ecma_to_rust("^\\d$")).unwrap().is_match("٣"),
            "ASCII digits only"
        );
    }
}
