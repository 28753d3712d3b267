//! Requests counted per principal and operation, with the capacity each would use on AWS, for
//! the capacity note of docs/benchmarks.md.
//!
//! - DynamoDB (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html>,
//!   item sizes per <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>):
//!   a read is one unit per 4 KB, half for an eventually consistent read; a Query or Scan
//!   rounds the sum of its items' sizes, a batch read each item; a write is one unit per 1 KB
//!   of the larger of the item before and after; transactions cost twice. The size of the item
//!   before a write is the last size the proxy saw for that key (a write of an item it never
//!   saw counts its new attributes only), and a Scan or a filtered Query counts the items
//!   returned, not those read: both make the figures a lower bound.
//! - SNS and SQS bill each 64 KB chunk of a request's payload as one request
//!   (<https://aws.amazon.com/sns/pricing/>, <https://aws.amazon.com/sqs/pricing/>).
//! - SES bills each recipient of a message (<https://aws.amazon.com/ses/pricing/>).
//! - S3 bills PUT, COPY, POST and LIST requests in one class and GET and the others in another;
//!   DELETE is free (<https://aws.amazon.com/s3/pricing/>).

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use super::request::{Operation, form_pairs};

/// Every request through the proxy, by principal (a function's logical id, `unsigned`, or
/// `unknown key AKID`) and operation (`dynamodb:GetItem`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub principals: BTreeMap<String, BTreeMap<String, Tally>>,
}

impl Counts {
    /// The tally of one principal's operation, if it made any request of it.
    pub fn get(&self, principal: &str, operation: &str) -> Option<&Tally> {
        self.principals.get(principal)?.get(operation)
    }

    /// The sum over every principal and operation.
    pub fn total(&self) -> Tally {
        let mut sum = Tally::default();
        for tally in self.principals.values().flat_map(BTreeMap::values) {
            sum.add(tally);
        }
        sum.s3_class = None;
        sum
    }

    pub(super) fn record(&mut self, principal: &str, operation: &str, usage: &Tally) {
        self.principals
            .entry(principal.to_owned())
            .or_default()
            .entry(operation.to_owned())
            .or_default()
            .add(usage);
    }
}

/// What one principal's requests of one operation used.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub requests: u64,
    /// Refused by the proxy (the policy does not allow them).
    pub denied: u64,
    /// Answered with an error by the emulator.
    pub failed: u64,
    /// DynamoDB read capacity units.
    pub read_units: f64,
    /// DynamoDB write capacity units.
    pub write_units: f64,
    /// SNS and SQS billed requests (64 KB chunks).
    pub billed_requests: u64,
    /// SES messages (one per recipient).
    pub emails: u64,
    /// S3's pricing class: `put-copy-post-list`, `get-and-other`, `free`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_class: Option<&'static str>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.denied += other.denied;
        self.failed += other.failed;
        self.read_units += other.read_units;
        self.write_units += other.write_units;
        self.billed_requests += other.billed_requests;
        self.emails += other.emails;
        if self.s3_class.is_none() {
            self.s3_class = other.s3_class;
        }
    }
}

/// The size DynamoDB bills for an attribute value (`{"S": ...}`, ...), its name excluded.
pub fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let text = || inner.as_str().unwrap_or("");
    let number = |n: &str| {
        let digits: String = n.chars().filter(char::is_ascii_digit).collect();
        let significant = digits
            .trim_start_matches('0')
            .trim_end_matches('0')
            .len()
            .max(1);
        significant.div_ceil(2) + 1
    };
    let binary = |b: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_or(b.len(), |v| v.len())
    };
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    match kind.as_str() {
        "S" => text().len(),
        "N" => number(text()),
        "B" => binary(text()),
        "BOOL" | "NULL" => 1,
        "SS" => list(inner)
            .iter()
            .filter_map(Value::as_str)
            .map(str::len)
            .sum(),
        "NS" => list(inner)
            .iter()
            .filter_map(Value::as_str)
            .map(number)
            .sum(),
        "BS" => list(inner)
            .iter()
            .filter_map(Value::as_str)
            .map(binary)
            .sum(),
        "L" => 3 + list(inner).iter().map(|v| value_size(v) + 1).sum::<usize>(),
        "M" => 3 + inner.as_object().map_or(0, |m| item_size(m) + m.len()),
        _ => 0,
    }
}

/// The size of an item: the names and values of its attributes.
pub fn item_size(item: &serde_json::Map<String, Value>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn size_of(item: Option<&Value>) -> usize {
    item.and_then(Value::as_object).map_or(0, item_size)
}

fn units(size: usize, unit: usize) -> f64 {
    size.div_ceil(unit).max(1) as f64
}

/// The last size seen of each item, by table and key, to price writes by the larger of the
/// item before and after.
#[derive(Debug, Default)]
pub struct Sizes {
    /// Key attribute names by table name.
    keys: BTreeMap<String, Vec<String>>,
    seen: HashMap<String, usize>,
}

impl Sizes {
    pub fn new(keys: BTreeMap<String, Vec<String>>) -> Self {
        Self {
            keys,
            seen: HashMap::new(),
        }
    }

    fn key_of(&self, table: &str, item: &Value) -> Option<String> {
        let names = self.keys.get(table)?;
        let mut key = table.to_owned();
        for name in names {
            key.push('\u{1f}');
            key.push_str(&item.get(name)?.to_string());
        }
        Some(key)
    }

    fn saw(&mut self, table: &str, item: &Value) {
        if let Some(key) = self.key_of(table, item) {
            self.seen.insert(key, size_of(Some(item)));
        }
    }

    fn before(&self, table: &str, key: Option<&Value>) -> usize {
        key.and_then(|k| self.key_of(table, k))
            .and_then(|k| self.seen.get(&k).copied())
            .unwrap_or(0)
    }

    fn set(&mut self, table: &str, key: Option<&Value>, size: usize) {
        if let Some(k) = key.and_then(|k| self.key_of(table, k)) {
            self.seen.insert(k, size);
        }
    }
}

/// The estimated size after an update: the key and the values it sets, or the item returned.
fn updated_size(request: &Value, response: &Value) -> usize {
    if let Some(after) = response.get("Attributes") {
        return size_of(Some(after));
    }
    let values: usize = request
        .get("ExpressionAttributeValues")
        .and_then(Value::as_object)
        .map_or(0, |m| m.values().map(value_size).sum());
    size_of(request.get("Key")) + values
}

fn table_name(v: &Value) -> &str {
    v.get("TableName").and_then(Value::as_str).unwrap_or("")
}

fn dynamodb_usage(op: &str, req: &Value, resp: &Value, sizes: &mut Sizes) -> (f64, f64) {
    let half = |consistent: bool| if consistent { 1.0 } else { 0.5 };
    let consistent = req
        .get("ConsistentRead")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let table = table_name(req);
    match op {
        "GetItem" => {
            if let Some(item) = resp.get("Item") {
                sizes.saw(table, item);
            }
            (
                units(size_of(resp.get("Item")), 4096) * half(consistent),
                0.0,
            )
        }
        "Query" | "Scan" => {
            let items = resp
                .get("Items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total: usize = items.iter().map(|i| size_of(Some(i))).sum();
            if req.get("IndexName").is_none() {
                for item in &items {
                    sizes.saw(table, item);
                }
            }
            (units(total, 4096) * half(consistent), 0.0)
        }
        "BatchGetItem" => {
            let mut read = 0.0;
            for (t, items) in resp
                .get("Responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let consistent = req
                    .pointer(&format!(
                        "/RequestItems/{}/ConsistentRead",
                        t.replace('~', "~0").replace('/', "~1")
                    ))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                for item in items.as_array().into_iter().flatten() {
                    sizes.saw(t, item);
                    read += units(size_of(Some(item)), 4096) * half(consistent);
                }
            }
            (read, 0.0)
        }
        "TransactGetItems" => {
            let read = resp
                .get("Responses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| 2.0 * units(size_of(r.get("Item")), 4096))
                .sum();
            (read, 0.0)
        }
        "PutItem" => {
            let new = size_of(req.get("Item"));
            let old = sizes
                .before(table, req.get("Item"))
                .max(size_of(resp.get("Attributes")));
            if let Some(item) = req.get("Item") {
                sizes.saw(table, item);
            }
            (0.0, units(new.max(old), 1024))
        }
        "UpdateItem" => {
            let old = sizes.before(table, req.get("Key"));
            let size = old.max(updated_size(req, resp));
            sizes.set(table, req.get("Key"), size);
            (0.0, units(size, 1024))
        }
        "DeleteItem" => {
            let size = sizes
                .before(table, req.get("Key"))
                .max(size_of(resp.get("Attributes")));
            sizes.set(table, req.get("Key"), 0);
            (0.0, units(size, 1024))
        }
        "BatchWriteItem" => {
            let mut write = 0.0;
            for (t, requests) in req
                .get("RequestItems")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                for r in requests.as_array().into_iter().flatten() {
                    if let Some(item) = r.pointer("/PutRequest/Item") {
                        let size = size_of(Some(item)).max(sizes.before(t, Some(item)));
                        sizes.saw(t, item);
                        write += units(size, 1024);
                    } else if let Some(key) = r.pointer("/DeleteRequest/Key") {
                        write += units(sizes.before(t, Some(key)), 1024);
                        sizes.set(t, Some(key), 0);
                    }
                }
            }
            (0.0, write)
        }
        "TransactWriteItems" => {
            let mut write = 0.0;
            for item in req
                .get("TransactItems")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some((kind, inner)) = item.as_object().and_then(|o| o.iter().next()) else {
                    continue;
                };
                let t = table_name(inner);
                let size = match kind.as_str() {
                    "Put" => {
                        let size =
                            size_of(inner.get("Item")).max(sizes.before(t, inner.get("Item")));
                        if let Some(i) = inner.get("Item") {
                            sizes.saw(t, i);
                        }
                        size
                    }
                    "Update" => {
                        let size = sizes
                            .before(t, inner.get("Key"))
                            .max(updated_size(inner, &Value::Null));
                        sizes.set(t, inner.get("Key"), size);
                        size
                    }
                    "Delete" => {
                        let size = sizes.before(t, inner.get("Key"));
                        sizes.set(t, inner.get("Key"), 0);
                        size
                    }
                    _ => sizes.before(t, inner.get("Key")),
                };
                write += 2.0 * units(size, 1024);
            }
            (0.0, write)
        }
        _ => (0.0, 0.0),
    }
}

fn chunks(bytes: usize) -> u64 {
    bytes.div_ceil(64 * 1024).max(1) as u64
}

/// The payload SNS or SQS bills: message bodies, subjects and attribute values.
fn form_payload(pairs: &[(String, String)]) -> usize {
    pairs
        .iter()
        .filter(|(k, _)| {
            k == "Message"
                || k == "MessageBody"
                || k == "Subject"
                || k.ends_with(".Message")
                || k.ends_with(".MessageBody")
                || k.ends_with(".Subject")
                || (k.contains("MessageAttribute")
                    && (k.ends_with("Value") || k.ends_with(".Name")))
        })
        .map(|(_, v)| v.len())
        .sum()
}

fn json_payload(v: &Value) -> usize {
    let body = v
        .get("MessageBody")
        .and_then(Value::as_str)
        .map_or(0, str::len);
    let attributes = v
        .get("MessageAttributes")
        .map_or(0, |a| a.to_string().len());
    body + attributes
}

/// What one forwarded request used, besides being one request. `request` is its body; a form
/// body (query protocol) is read from `form`.
pub fn usage(
    op: &Operation,
    form: &[(String, String)],
    request: &[u8],
    status: u16,
    response: &[u8],
    sizes: &mut Sizes,
) -> Tally {
    let json = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap_or(Value::Null);
    let mut tally = Tally {
        requests: 1,
        failed: u64::from(status >= 400),
        ..Tally::default()
    };
    match op.service.as_str() {
        "dynamodb" if !op.name.starts_with("Describe") && op.name != "GetRecords" => {
            let (read, write) = dynamodb_usage(&op.name, &json(request), &json(response), sizes);
            tally.read_units = read;
            tally.write_units = write;
        }
        "sns" => {
            tally.billed_requests = if op.name.starts_with("Publish") {
                chunks(form_payload(form))
            } else {
                1
            };
        }
        "sqs" => {
            tally.billed_requests = match op.name.as_str() {
                "SendMessage" | "SendMessageBatch" => {
                    let req = json(request);
                    let payload = if req.is_null() {
                        form_payload(form)
                    } else {
                        json_payload(&req)
                            + req
                                .get("Entries")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .map(json_payload)
                                .sum::<usize>()
                    };
                    chunks(payload)
                }
                "ReceiveMessage" => {
                    let resp = json(response);
                    let payload = resp.get("Messages").and_then(Value::as_array).map_or(
                        response.len(),
                        |m| {
                            m.iter()
                                .map(|m| m.get("Body").and_then(Value::as_str).map_or(0, str::len))
                                .sum()
                        },
                    );
                    chunks(payload)
                }
                _ => 1,
            };
        }
        "ses" if status < 300 && op.name.starts_with("Send") => {
            let req = json(request);
            let recipients = if let Some(dest) = req.get("Destination") {
                ["ToAddresses", "CcAddresses", "BccAddresses"]
                    .iter()
                    .filter_map(|f| dest.get(f).and_then(Value::as_array))
                    .map(Vec::len)
                    .sum::<usize>()
            } else {
                let pairs = if form.is_empty() {
                    form_pairs(request)
                } else {
                    form.to_vec()
                };
                pairs
                    .iter()
                    .filter(|(k, _)| k.starts_with("Destination") && k.contains(".member."))
                    .count()
            };
            tally.emails = recipients.max(1) as u64;
        }
        "s3" => {
            let name = op.name.as_str();
            tally.s3_class = Some(if name.starts_with("Delete") || name.starts_with("Abort") {
                "free"
            } else if [
                "Put", "Copy", "Post", "List", "Create", "Upload", "Complete",
            ]
            .iter()
            .any(|p| name.starts_with(p))
            {
                "put-copy-post-list"
            } else {
                "get-and-other"
            });
        }
        _ => {}
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::proxy::request::Protocol;
    use serde_json::json;

    fn op(service: &str, name: &str) -> Operation {
        Operation {
            service: service.into(),
            name: name.into(),
            protocol: Protocol::Json,
            checks: Vec::new(),
        }
    }

    fn sizes() -> Sizes {
        Sizes::new([("T".to_owned(), vec!["pk".to_owned(), "sk".to_owned()])].into())
    }

    fn dynamo(name: &str, req: Value, resp: Value, sizes: &mut Sizes) -> Tally {
        usage(
            &op("dynamodb", name),
            &[],
            req.to_string().as_bytes(),
            200,
            resp.to_string().as_bytes(),
            sizes,
        )
    }

    /// An item of about `bytes` bytes with key `pk`/`sk`.
    fn item(sk: &str, bytes: usize) -> Value {
        json!({"pk": {"S": "p"}, "sk": {"S": sk}, "d": {"S": "x".repeat(bytes)}})
    }

    #[test]
    fn item_sizes_follow_dynamodbs_rules() {
        // Names count; strings by UTF-8 bytes; numbers by significant digits.
        let i = json!({"name": {"S": "Olá"}, "n": {"N": "12345"}, "ok": {"BOOL": true}, "none": {"NULL": true}});
        assert_eq!(
            item_size(i.as_object().unwrap()),
            (4 + 4) + (1 + 4) + (2 + 1) + (4 + 1)
        );
        assert_eq!(value_size(&json!({"N": "1000"})), 2);
        assert_eq!(value_size(&json!({"B": "AAEC"})), 3);
        assert_eq!(value_size(&json!({"SS": ["ab", "c"]})), 3);
        assert_eq!(value_size(&json!({"L": [{"S": "ab"}]})), 3 + 3);
        assert_eq!(value_size(&json!({"M": {"k": {"S": "ab"}}})), 3 + 3 + 1);
    }

    #[test]
    fn reads_are_4kb_units_halved_unless_consistent() {
        let mut s = sizes();
        let small = dynamo(
            "GetItem",
            json!({"TableName": "T"}),
            json!({"Item": item("a", 100)}),
            &mut s,
        );
        assert_eq!(
            (small.requests, small.read_units, small.write_units),
            (1, 0.5, 0.0)
        );
        let large = dynamo(
            "GetItem",
            json!({"TableName": "T", "ConsistentRead": true}),
            json!({"Item": item("a", 9000)}),
            &mut s,
        );
        assert_eq!(large.read_units, 3.0);
        let missing = dynamo("GetItem", json!({"TableName": "T"}), json!({}), &mut s);
        assert_eq!(missing.read_units, 0.5);
        // A query rounds the sum of its items, a batch each item.
        let items: Vec<Value> = (0..3).map(|n| item(&n.to_string(), 1500)).collect();
        let query = dynamo(
            "Query",
            json!({"TableName": "T"}),
            json!({"Items": items}),
            &mut s,
        );
        assert_eq!(query.read_units, 1.0 * 2.0 * 0.5);
        let batch = dynamo(
            "BatchGetItem",
            json!({"RequestItems": {"T": {"Keys": [], "ConsistentRead": true}}}),
            json!({"Responses": {"T": items}}),
            &mut s,
        );
        assert_eq!(batch.read_units, 3.0);
        let tx = dynamo(
            "TransactGetItems",
            json!({}),
            json!({"Responses": [{"Item": item("a", 5000)}]}),
            &mut s,
        );
        assert_eq!(tx.read_units, 4.0);
    }

    #[test]
    fn writes_are_1kb_units_of_the_larger_item_and_transactions_cost_twice() {
        let mut s = sizes();
        let put = dynamo(
            "PutItem",
            json!({"TableName": "T", "Item": item("a", 2500)}),
            json!({}),
            &mut s,
        );
        assert_eq!(put.write_units, 3.0);
        // The update sets little, but the item it changes is the 2.5 KB one put before.
        let update = dynamo(
            "UpdateItem",
            json!({"TableName": "T", "Key": {"pk": {"S": "p"}, "sk": {"S": "a"}}, "ExpressionAttributeValues": {":v": {"N": "1"}}}),
            json!({}),
            &mut s,
        );
        assert_eq!(update.write_units, 3.0);
        let unknown = dynamo(
            "UpdateItem",
            json!({"TableName": "T", "Key": {"pk": {"S": "p"}, "sk": {"S": "zz"}}, "ExpressionAttributeValues": {":v": {"N": "1"}}}),
            json!({}),
            &mut s,
        );
        assert_eq!(unknown.write_units, 1.0);
        let tx = dynamo(
            "TransactWriteItems",
            json!({"TransactItems": [
                {"Put": {"TableName": "T", "Item": item("b", 1500)}},
                {"ConditionCheck": {"TableName": "T", "Key": {"pk": {"S": "p"}, "sk": {"S": "a"}}}}
            ]}),
            json!({}),
            &mut s,
        );
        assert_eq!(tx.write_units, 2.0 * 2.0 + 2.0 * 3.0);
        let delete = dynamo(
            "DeleteItem",
            json!({"TableName": "T", "Key": {"pk": {"S": "p"}, "sk": {"S": "b"}}}),
            json!({}),
            &mut s,
        );
        assert_eq!(delete.write_units, 2.0);
    }

    #[test]
    fn sns_and_sqs_bill_64kb_chunks_and_ses_each_recipient() {
        let mut s = sizes();
        let big = "x".repeat(100 * 1024);
        let form = vec![
            ("Action".to_owned(), "Publish".to_owned()),
            ("Message".to_owned(), big.clone()),
        ];
        let publish = usage(&op("sns", "Publish"), &form, b"", 200, b"", &mut s);
        assert_eq!(publish.billed_requests, 2);
        let send = usage(
            &op("sqs", "SendMessageBatch"),
            &[],
            json!({"Entries": [{"MessageBody": "a"}, {"MessageBody": "b"}]})
                .to_string()
                .as_bytes(),
            200,
            b"{}",
            &mut s,
        );
        assert_eq!(send.billed_requests, 1);
        let receive = usage(
            &op("sqs", "ReceiveMessage"),
            &[],
            b"{}",
            200,
            json!({"Messages": [{"Body": big}]}).to_string().as_bytes(),
            &mut s,
        );
        assert_eq!(receive.billed_requests, 2);
        let mail = json!({"Destination": {"ToAddresses": ["a@x", "b@x"], "BccAddresses": ["c@x"]}});
        let sent = usage(
            &op("ses", "SendEmail"),
            &[],
            mail.to_string().as_bytes(),
            200,
            b"{}",
            &mut s,
        );
        assert_eq!(sent.emails, 3);
        let refused = usage(
            &op("ses", "SendEmail"),
            &[],
            mail.to_string().as_bytes(),
            400,
            b"{}",
            &mut s,
        );
        assert_eq!((refused.emails, refused.failed), (0, 1));
    }

    #[test]
    fn s3_requests_fall_in_their_pricing_class_and_counts_add_up() {
        let mut s = sizes();
        let class =
            |name: &str, s: &mut Sizes| usage(&op("s3", name), &[], b"", 200, b"", s).s3_class;
        assert_eq!(class("PutObject", &mut s), Some("put-copy-post-list"));
        assert_eq!(class("ListObjectsV2", &mut s), Some("put-copy-post-list"));
        assert_eq!(class("GetObject", &mut s), Some("get-and-other"));
        assert_eq!(class("DeleteObject", &mut s), Some("free"));
        let mut counts = Counts::default();
        let one = Tally {
            requests: 1,
            read_units: 0.5,
            ..Tally::default()
        };
        counts.record("ApiFunction", "dynamodb:GetItem", &one);
        counts.record("ApiFunction", "dynamodb:GetItem", &one);
        counts.record(
            "EmailFunction",
            "ses:SendEmail",
            &Tally {
                requests: 1,
                emails: 1,
                ..Tally::default()
            },
        );
        assert_eq!(
            counts
                .get("ApiFunction", "dynamodb:GetItem")
                .unwrap()
                .read_units,
            1.0
        );
        let total = counts.total();
        assert_eq!(
            (total.requests, total.emails, total.read_units),
            (3, 1, 1.0)
        );
        let json = serde_json::to_value(&counts).unwrap();
        assert_eq!(
            json["principals"]["ApiFunction"]["dynamodb:GetItem"]["requests"],
            2
        );
    }
}
