//! The event sources Lambda drives itself: SQS mappings, the DynamoDB stream mapping and
//! schedules, as the template declares them. Every poller calls AWS as its target function
//! (its endpoint and credentials, [`Functions::endpoint_for`]), as Lambda uses the function's
//! execution role to read the source.
//!
//! - SQS (<https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html>): long polling (20 s),
//!   `BatchSize` messages a batch (up to 10 a receive; more within
//!   `MaximumBatchingWindowInSeconds`); a batch that succeeds is deleted; with
//!   `ReportBatchItemFailures` only the messages not listed in `batchItemFailures` are deleted,
//!   and a response naming an id that is not in the batch (or none) fails the whole batch
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>); a function
//!   error deletes nothing. Undeleted messages come back after the queue's visibility timeout
//!   and, past the `RedrivePolicy`'s `maxReceiveCount`, the queue moves them to its dead-letter
//!   queue (the emulator does that, as SQS does).
//! - DynamoDB stream (<https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>): each shard
//!   read from `StartingPosition`, four times a second; records not matching `FilterCriteria`
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html>) are dropped
//!   before batching; batches of up to `BatchSize` records in order; a function error retries the
//!   batch; with `ReportBatchItemFailures` the batch is retried from the first failed record
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html>).
//!   Each shard's checkpoint (the last record handled) is kept by the poller, not the
//!   function: a restarted function resumes where the shard's checkpoint is. Each read starts
//!   from the checkpoint with a fresh iterator (the emulator's cancelled transactions would
//!   strand a kept one; see [`read_shard`]).
//! - Schedules (`AWS::Events::Rule` with a `ScheduleExpression`;
//!   <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html>):
//!   `rate(…)` every period after the start, `cron(…)` at its next minute in UTC; each target
//!   function is invoked with the "Scheduled Event" document (asynchronously, retried twice on
//!   an error, as Lambda retries asynchronous invocations). A target needs an
//!   `AWS::Lambda::Permission` for `events.amazonaws.com`; [`Sources::fire`] fires a rule now.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::functions::{Functions, sdk_config};
use super::resources::text;
use super::{ACCOUNT, Invoke, InvokeError, REGION, Resolved, RunnerError, Source};

/// One SQS event source mapping.
#[derive(Debug, Clone)]
pub struct SqsMapping {
    pub mapping: String,
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: usize,
    pub window: Duration,
    pub report_failures: bool,
}

/// One DynamoDB stream event source mapping.
#[derive(Debug, Clone)]
pub struct StreamMapping {
    pub mapping: String,
    pub function: String,
    pub stream_arn: String,
    pub batch_size: usize,
    pub latest: bool,
    pub report_failures: bool,
    /// The `FilterCriteria` patterns (a record passes when it matches one; none: all pass).
    pub filters: Vec<Value>,
}

/// One scheduled rule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub rule: String,
    pub name: String,
    pub arn: String,
    pub expression: String,
    /// Target functions (logical ids) and their constant `Input`, if any.
    pub targets: Vec<(String, Option<Value>)>,
}

/// The SQS mappings, stream mappings and schedules a template declares.
pub type Planned = (Vec<SqsMapping>, Vec<StreamMapping>, Vec<Schedule>);

/// The pollers and timers, running.
pub struct Sources {
    functions: Functions,
    pub sqs: Vec<SqsMapping>,
    pub streams: Vec<StreamMapping>,
    pub schedules: BTreeMap<String, Schedule>,
    stop: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

fn flag(props: &Value, key: &str) -> Option<bool> {
    props.get(key).map(|v| text(v) == "true")
}

fn number(props: &Value, key: &str) -> Option<u64> {
    props.get(key).and_then(|v| text(v).parse().ok())
}

impl Sources {
    /// Read the mappings and rules of `resolved`; a mapping or target naming no function or
    /// source of the template, a target without its invoke permission, or an expression the
    /// runner cannot read is an error naming it.
    pub fn plan(resolved: &Resolved, functions: &Functions) -> Result<Planned, RunnerError> {
        let mut sqs = Vec::new();
        let mut streams = Vec::new();
        for (id, res) in resolved.of_kind("AWS::Lambda::EventSourceMapping") {
            let p = &res.properties;
            if flag(p, "Enabled") == Some(false) {
                continue;
            }
            let target = p.get("FunctionName").map(text).unwrap_or_default();
            let function = functions
                .logical_id(&target)
                .ok_or_else(|| {
                    RunnerError(format!(
                        "{id}: FunctionName {target} is not a function of the template"
                    ))
                })?
                .to_owned();
            let arn = p.get("EventSourceArn").map(text).unwrap_or_default();
            let report_failures = p
                .get("FunctionResponseTypes")
                .and_then(Value::as_array)
                .is_some_and(|a| {
                    a.iter()
                        .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
                });
            if let Some((_, queue)) = resolved
                .of_kind("AWS::SQS::Queue")
                .find(|(_, q)| q.attributes.get("Arn") == Some(&arn))
            {
                sqs.push(SqsMapping {
                    mapping: id.to_owned(),
                    function,
                    queue_url: queue.physical_id.clone(),
                    queue_arn: arn,
                    // Lambda's default batch size for SQS is 10.
                    batch_size: number(p, "BatchSize").unwrap_or(10).max(1) as usize,
                    window: Duration::from_secs(
                        number(p, "MaximumBatchingWindowInSeconds").unwrap_or(0),
                    ),
                    report_failures,
                });
            } else if resolved
                .of_kind("AWS::DynamoDB::Table")
                .any(|(_, t)| t.attributes.get("StreamArn") == Some(&arn))
            {
                let mut filters = Vec::new();
                for f in p
                    .pointer("/FilterCriteria/Filters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let pattern = f.get("Pattern").map(text).unwrap_or_default();
                    filters.push(serde_json::from_str(&pattern).map_err(|e| {
                        RunnerError(format!(
                            "{id}: a FilterCriteria pattern is not JSON ({e}): {pattern}"
                        ))
                    })?);
                }
                let position = p.get("StartingPosition").map(text).unwrap_or_default();
                if position != "TRIM_HORIZON" && position != "LATEST" {
                    return Err(RunnerError(format!(
                        "{id}: StartingPosition {position:?} is not TRIM_HORIZON or LATEST"
                    )));
                }
                streams.push(StreamMapping {
                    mapping: id.to_owned(),
                    function,
                    stream_arn: arn,
                    // Lambda's default batch size for DynamoDB streams is 100.
                    batch_size: number(p, "BatchSize").unwrap_or(100).max(1) as usize,
                    latest: position == "LATEST",
                    report_failures,
                    filters,
                });
            } else {
                return Err(RunnerError(format!(
                    "{id}: its EventSourceArn {arn} is neither a queue nor a table stream of the template"
                )));
            }
        }
        let mut schedules = Vec::new();
        for (id, res) in resolved.of_kind("AWS::Events::Rule") {
            let p = &res.properties;
            let Some(expression) = p.get("ScheduleExpression").map(text) else {
                continue;
            };
            if p.get("State").map(text).is_some_and(|s| s != "ENABLED") {
                continue;
            }
            Cadence::parse(&expression).map_err(|e| RunnerError(format!("{id}: {e}")))?;
            let arn = res.attributes.get("Arn").cloned().unwrap_or_default();
            let mut targets = Vec::new();
            for t in p
                .get("Targets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let target = t.get("Arn").map(text).unwrap_or_default();
                let function = functions
                    .logical_id(&target)
                    .ok_or_else(|| {
                        RunnerError(format!(
                            "{id}: its target {target} is not a function of the template"
                        ))
                    })?
                    .to_owned();
                let permitted = resolved
                    .of_kind("AWS::Lambda::Permission")
                    .any(|(_, perm)| {
                        let pp = &perm.properties;
                        let named = pp.get("FunctionName").map(text).unwrap_or_default();
                        pp.get("Principal").map(text).as_deref() == Some("events.amazonaws.com")
                            && functions.logical_id(&named) == Some(function.as_str())
                            && pp.get("SourceArn").is_none_or(|s| text(s) == arn)
                    });
                if !permitted {
                    return Err(RunnerError(format!(
                        "{id}: no AWS::Lambda::Permission lets events.amazonaws.com invoke {function} from {arn}"
                    )));
                }
                let input = match t.get("Input") {
                    Some(i) => Some(serde_json::from_str(&text(i)).map_err(|e| {
                        RunnerError(format!("{id}: a target's Input is not JSON: {e}"))
                    })?),
                    None => None,
                };
                targets.push((function, input));
            }
            schedules.push(Schedule {
                rule: id.to_owned(),
                name: res.physical_id.clone(),
                arn,
                expression,
                targets,
            });
        }
        Ok((sqs, streams, schedules))
    }

    /// Start a poller per mapping and a timer per schedule.
    pub fn start(resolved: &Resolved, functions: &Functions) -> Result<Self, RunnerError> {
        let (sqs, streams, schedules) = Self::plan(resolved, functions)?;
        let (stop, _) = watch::channel(false);
        let mut tasks = Vec::new();
        for m in &sqs {
            tasks.push(tokio::spawn(poll_queue(
                m.clone(),
                functions.clone(),
                stop.subscribe(),
            )));
        }
        for m in &streams {
            tasks.push(tokio::spawn(poll_stream(
                m.clone(),
                functions.clone(),
                stop.subscribe(),
            )));
        }
        for s in &schedules {
            tasks.push(tokio::spawn(run_schedule(
                s.clone(),
                functions.clone(),
                stop.subscribe(),
            )));
        }
        Ok(Self {
            functions: functions.clone(),
            sqs,
            streams,
            schedules: schedules.into_iter().map(|s| (s.rule.clone(), s)).collect(),
            stop,
            tasks: std::sync::Mutex::new(tasks),
        })
    }

    /// Fire `rule` (logical id or name) now: each target invoked once; their results.
    pub async fn fire(&self, rule: &str) -> Result<Vec<Result<Value, InvokeError>>, RunnerError> {
        let schedule = self
            .schedules
            .values()
            .find(|s| s.rule == rule || s.name == rule)
            .ok_or_else(|| RunnerError(format!("the template has no scheduled rule {rule}")))?;
        let mut results = Vec::new();
        for (function, input) in &schedule.targets {
            let event = input.clone().unwrap_or_else(|| scheduled_event(schedule));
            results.push(
                self.functions
                    .invoke(function, Source::Schedule, event)
                    .await,
            );
        }
        Ok(results)
    }

    /// Stop polling: each poller finishes the batch it is handing over (within `grace`;
    /// then it is abandoned), then ends.
    pub async fn stop(&self, grace: Duration) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        if tokio::time::timeout(grace, futures::future::join_all(tasks))
            .await
            .is_err()
        {
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

// ------------------------------------------------------------------------------------- SQS

async fn poll_queue(m: SqsMapping, functions: Functions, mut stop: watch::Receiver<bool>) {
    let config = sdk_config(&functions.endpoint_for(&m.function)).await;
    let client = aws_sdk_sqs::Client::new(&config);
    while !*stop.borrow() {
        let mut batch = Vec::new();
        let deadline = tokio::time::Instant::now() + m.window;
        loop {
            let want = (m.batch_size - batch.len()).min(10) as i32;
            // Long polling, as Lambda polls; the first receive waits up to 20 s, later ones
            // (filling a batching window) only up to the window's end.
            let wait = if batch.is_empty() {
                20
            } else {
                deadline
                    .saturating_duration_since(tokio::time::Instant::now())
                    .as_secs()
                    .min(20) as i32
            };
            let receive = client
                .receive_message()
                .queue_url(&m.queue_url)
                .max_number_of_messages(want)
                .wait_time_seconds(wait)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send();
            let received = tokio::select! {
                r = receive => r,
                () = stopped(&mut stop) => return,
            };
            match received {
                Ok(out) => batch.extend(out.messages.unwrap_or_default()),
                Err(e) => {
                    tracing::warn!(mapping = %m.mapping, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "receiving from the queue failed");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {},
                        () = stopped(&mut stop) => return,
                    }
                }
            }
            if batch.len() >= m.batch_size
                || batch.is_empty()
                || tokio::time::Instant::now() >= deadline
            {
                break;
            }
        }
        if batch.is_empty() {
            continue;
        }
        let records: Vec<Value> = batch
            .iter()
            .map(|msg| sqs_record(msg, &m.queue_arn))
            .collect();
        let ids: Vec<String> = batch
            .iter()
            .map(|msg| msg.message_id().unwrap_or_default().to_owned())
            .collect();
        let result = functions
            .invoke(&m.function, Source::Sqs, json!({"Records": records}))
            .await;
        let keep = match &result {
            Ok(response) if m.report_failures => failed_items(response, &ids),
            Ok(_) => Some(Vec::new()),
            Err(e) => {
                tracing::warn!(mapping = %m.mapping, error = %e, "the batch failed; its messages return after the visibility timeout");
                None
            }
        };
        let Some(keep) = keep else { continue };
        let delete: Vec<_> = batch
            .iter()
            .filter(|msg| !keep.iter().any(|k| Some(k.as_str()) == msg.message_id()))
            .collect();
        for chunk in delete.chunks(10) {
            let mut request = client.delete_message_batch().queue_url(&m.queue_url);
            for (i, msg) in chunk.iter().enumerate() {
                if let Ok(entry) = aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(msg.receipt_handle().unwrap_or_default())
                    .build()
                {
                    request = request.entries(entry);
                }
            }
            if let Err(e) = request.send().await {
                tracing::warn!(mapping = %m.mapping, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "deleting handled messages failed");
            }
        }
    }
}

/// The ids a partial-batch response asks to keep: `Some(ids)`, or `None` when the response is
/// a whole-batch failure (an identifier missing, empty or not of the batch).
pub fn failed_items(response: &Value, batch_ids: &[String]) -> Option<Vec<String>> {
    let Some(failures) = response.get("batchItemFailures") else {
        return Some(Vec::new());
    };
    let Some(failures) = failures.as_array() else {
        return if failures.is_null() {
            Some(Vec::new())
        } else {
            None
        };
    };
    let mut keep = Vec::new();
    for f in failures {
        let id = f.get("itemIdentifier").and_then(Value::as_str)?;
        if id.is_empty() || !batch_ids.iter().any(|b| b == id) {
            return None;
        }
        keep.push(id.to_owned());
    }
    Some(keep)
}

fn sqs_record(msg: &aws_sdk_sqs::types::Message, queue_arn: &str) -> Value {
    let attributes: Map<String, Value> = msg
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                .collect()
        })
        .unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD;
    let message_attributes: Map<String, Value> = msg
        .message_attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| {
                    let mut attr = json!({
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": v.data_type(),
                    });
                    if let Some(s) = v.string_value() {
                        attr["stringValue"] = json!(s);
                    }
                    if let Some(b) = v.binary_value() {
                        attr["binaryValue"] = json!(b64.encode(b.as_ref()));
                    }
                    (k.clone(), attr)
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "messageId": msg.message_id(),
        "receiptHandle": msg.receipt_handle(),
        "body": msg.body().unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": msg.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    })
}

// ---------------------------------------------------------------------------- DynamoDB stream

struct Shard {
    id: String,
    /// The last record handed over successfully (or filtered out).
    checkpoint: Option<String>,
    /// Records read and not yet handled, in order.
    pending: VecDeque<Value>,
    closed: bool,
}

async fn poll_stream(m: StreamMapping, functions: Functions, mut stop: watch::Receiver<bool>) {
    let config = sdk_config(&functions.endpoint_for(&m.function)).await;
    let client = aws_sdk_dynamodbstreams::Client::new(&config);
    let mut shards: Vec<Shard> = Vec::new();
    let mut first = true;
    while !*stop.borrow() {
        // New shards (the first look, and whenever every known shard is closed).
        if shards.is_empty() || shards.iter().all(|s| s.closed && s.pending.is_empty()) {
            match client
                .describe_stream()
                .stream_arn(&m.stream_arn)
                .send()
                .await
            {
                Ok(out) => {
                    for s in out
                        .stream_description()
                        .map(|d| d.shards())
                        .unwrap_or_default()
                    {
                        let id = s.shard_id().unwrap_or_default().to_owned();
                        if !shards.iter().any(|k| k.id == id) {
                            shards.push(Shard {
                                id,
                                checkpoint: None,
                                pending: VecDeque::new(),
                                closed: false,
                            });
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(mapping = %m.mapping, error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e), "describing the stream failed")
                }
            }
        }
        let mut busy = false;
        for shard in shards
            .iter_mut()
            .filter(|s| !(s.closed && s.pending.is_empty()))
        {
            if shard.pending.is_empty() && !shard.closed {
                let start_at_end = m.latest && first && shard.checkpoint.is_none();
                let read = match read_shard(&client, &m.stream_arn, shard, start_at_end).await {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::warn!(mapping = %m.mapping, error = %e, "reading the stream failed");
                        continue;
                    }
                };
                let Some(records) = read else {
                    shard.closed = true;
                    continue;
                };
                if start_at_end {
                    // LATEST: what is in the shard now is behind the starting position.
                    if let Some(last) = records.last() {
                        shard.checkpoint = last
                            .dynamodb()
                            .and_then(|d| d.sequence_number())
                            .map(str::to_owned);
                    }
                    continue;
                }
                for record in &records {
                    let json = stream_record(record, &m.stream_arn);
                    let seq = json
                        .pointer("/dynamodb/SequenceNumber")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    if m.filters.is_empty() || m.filters.iter().any(|f| matches(f, &json)) {
                        shard.pending.push_back(json);
                    } else if shard.pending.is_empty() {
                        shard.checkpoint = seq;
                    }
                }
            }
            if shard.pending.is_empty() {
                continue;
            }
            busy = true;
            let n = shard.pending.len().min(m.batch_size);
            let records: Vec<Value> = shard.pending.iter().take(n).cloned().collect();
            let seqs: Vec<String> = records
                .iter()
                .map(|r| {
                    r.pointer("/dynamodb/SequenceNumber")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            let result = functions
                .invoke(&m.function, Source::Stream, json!({"Records": records}))
                .await;
            let handled = match &result {
                Ok(response) if m.report_failures => match failed_items(response, &seqs) {
                    // Retry from the first failed record (the earliest in the batch).
                    Some(failed) => seqs.iter().position(|s| failed.contains(s)).unwrap_or(n),
                    None => 0,
                },
                Ok(_) => n,
                Err(e) => {
                    tracing::warn!(mapping = %m.mapping, error = %e, "the stream batch failed; it is retried");
                    0
                }
            };
            for _ in 0..handled {
                if let Some(r) = shard.pending.pop_front() {
                    shard.checkpoint = r
                        .pointer("/dynamodb/SequenceNumber")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
            }
            if handled < n {
                // A failed batch is retried after a pause, as Lambda backs off.
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {},
                    () = stopped(&mut stop) => return,
                }
            }
        }
        first = false;
        if !busy {
            // Lambda polls a shard four times a second.
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {},
                () = stopped(&mut stop) => return,
            }
        }
    }
}

/// One read of `shard`, from just after its checkpoint (from its start without one): the records
/// (up to 1,000), or `None` when the shard is closed and has nothing more.
///
/// Every read takes a fresh iterator, and a read that finds records is made twice and only what
/// both agree on is kept. Lambda keeps one iterator per shard; here that is not safe, because the
/// emulator (moto) cancels a `TransactWriteItems` by putting back a copy of the table taken before
/// it: an iterator taken earlier goes on reading the replaced table's stream, which never grows
/// again (the stream "stops") and holds the records of the cancelled writes. A fresh iterator reads
/// the live table; the second read drops a record of a transaction cancelled between the two calls.
/// `to_end`: read everything (a `LATEST` mapping's first look, to find where the shard ends).
async fn read_shard(
    client: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
    shard: &Shard,
    to_end: bool,
) -> Result<Option<Vec<aws_sdk_dynamodbstreams::types::Record>>, String> {
    use aws_sdk_dynamodbstreams::types::Record;
    let once = |after: Option<String>| async move {
        let mut all: Vec<Record> = Vec::new();
        let mut after = after;
        loop {
            let (records, open) =
                read_once(client, stream_arn, &shard.id, after.as_deref()).await?;
            let more = to_end && !records.is_empty();
            if let Some(last) = records.last() {
                after = last
                    .dynamodb()
                    .and_then(|d| d.sequence_number())
                    .map(str::to_owned);
            }
            all.extend(records);
            if !more {
                return Ok::<_, String>((all, open));
            }
        }
    };
    let (first, open) = once(shard.checkpoint.clone()).await?;
    if first.is_empty() {
        return Ok(open.then_some(first));
    }
    let (second, _) = once(shard.checkpoint.clone()).await?;
    let key = |r: &Record| {
        let d = r.dynamodb();
        (
            d.and_then(|d| d.sequence_number()).map(str::to_owned),
            r.event_name().map(|e| e.as_str().to_owned()),
            d.and_then(|d| d.keys()).map(|k| {
                // Sorted: the SDK's map iterates in no fixed order.
                let sorted: BTreeMap<&String, String> =
                    k.iter().map(|(name, v)| (name, format!("{v:?}"))).collect();
                format!("{sorted:?}")
            }),
        )
    };
    let agreed = first
        .into_iter()
        .zip(second.iter())
        .take_while(|(a, b)| key(a) == key(b))
        .map(|(a, _)| a)
        .collect();
    Ok(Some(agreed))
}

/// `GetShardIterator` (after `after`, or at the trim horizon) and one `GetRecords`: the records
/// and whether the shard is still open.
async fn read_once(
    client: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
    shard_id: &str,
    after: Option<&str>,
) -> Result<(Vec<aws_sdk_dynamodbstreams::types::Record>, bool), String> {
    use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let request = client
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(shard_id);
    let request = match after {
        Some(seq) => request
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(seq),
        None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
    };
    let iterator = request
        .send()
        .await
        .map_err(|e| format!("GetShardIterator: {}", DisplayErrorContext(&e)))?;
    let Some(iterator) = iterator.shard_iterator() else {
        return Ok((Vec::new(), false));
    };
    let out = client
        .get_records()
        .shard_iterator(iterator)
        .limit(1000)
        .send()
        .await
        .map_err(|e| format!("GetRecords: {}", DisplayErrorContext(&e)))?;
    Ok((out.records().to_vec(), out.next_shard_iterator().is_some()))
}

fn attribute_json(v: &aws_sdk_dynamodbstreams::types::AttributeValue) -> Value {
    use aws_sdk_dynamodbstreams::types::AttributeValue as A;
    let b64 = base64::engine::general_purpose::STANDARD;
    match v {
        A::S(s) => json!({"S": s}),
        A::N(n) => json!({"N": n}),
        A::B(b) => json!({"B": b64.encode(b.as_ref())}),
        A::Ss(s) => json!({"SS": s}),
        A::Ns(n) => json!({"NS": n}),
        A::Bs(b) => json!({"BS": b.iter().map(|x| b64.encode(x.as_ref())).collect::<Vec<_>>()}),
        A::M(m) => json!({"M": image_json(m)}),
        A::L(l) => json!({"L": l.iter().map(attribute_json).collect::<Vec<_>>()}),
        A::Null(b) => json!({"NULL": b}),
        A::Bool(b) => json!({"BOOL": b}),
        _ => Value::Null,
    }
}

fn image_json(
    m: &std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect(),
    )
}

fn stream_record(r: &aws_sdk_dynamodbstreams::types::Record, stream_arn: &str) -> Value {
    let mut dynamodb = Map::new();
    if let Some(d) = r.dynamodb() {
        if let Some(t) = d.approximate_creation_date_time() {
            dynamodb.insert("ApproximateCreationDateTime".into(), json!(t.secs()));
        }
        if let Some(k) = d.keys() {
            dynamodb.insert("Keys".into(), image_json(k));
        }
        if let Some(i) = d.new_image() {
            dynamodb.insert("NewImage".into(), image_json(i));
        }
        if let Some(i) = d.old_image() {
            dynamodb.insert("OldImage".into(), image_json(i));
        }
        if let Some(s) = d.sequence_number() {
            dynamodb.insert("SequenceNumber".into(), json!(s));
        }
        if let Some(s) = d.size_bytes() {
            dynamodb.insert("SizeBytes".into(), json!(s));
        }
        if let Some(v) = d.stream_view_type() {
            dynamodb.insert("StreamViewType".into(), json!(v.as_str()));
        }
    }
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str()),
        "eventVersion": r.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

/// Whether `event` matches the event filter `pattern` (EventBridge pattern semantics: every
/// key of the pattern must match; a list is "any of"; matchers `prefix`, `suffix`,
/// `anything-but`, `exists`, `numeric`, `equals-ignore-case`).
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html>
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(pattern) = pattern.as_object() else {
        return false;
    };
    pattern.iter().all(|(key, p)| {
        let field = event.get(key);
        match p {
            Value::Object(_) => match field {
                Some(f @ Value::Object(_)) => matches(p, f),
                // A nested pattern on a missing field matches only if every leaf asks for
                // absence.
                _ => matches(p, &Value::Object(Map::new())),
            },
            Value::Array(rules) => rules.iter().any(|rule| rule_matches(rule, field)),
            scalar => field == Some(scalar),
        }
    })
}

fn rule_matches(rule: &Value, field: Option<&Value>) -> bool {
    let values: Vec<&Value> = match field {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    match rule {
        Value::Object(m) => {
            if let Some(exists) = m.get("exists").and_then(Value::as_bool) {
                return exists == field.is_some();
            }
            values.iter().any(|v| {
                m.iter().all(|(op, arg)| match (op.as_str(), v) {
                    ("prefix", Value::String(s)) => arg.as_str().is_some_and(|a| s.starts_with(a)),
                    ("suffix", Value::String(s)) => arg.as_str().is_some_and(|a| s.ends_with(a)),
                    ("equals-ignore-case", Value::String(s)) => {
                        arg.as_str().is_some_and(|a| s.eq_ignore_ascii_case(a))
                    }
                    ("anything-but", v) => match arg {
                        Value::Array(list) => !list.contains(v),
                        Value::Object(inner) => {
                            !rule_matches(&Value::Object(inner.clone()), Some(v))
                        }
                        other => *v != other,
                    },
                    ("numeric", v) => {
                        let Some(x) = v
                            .as_f64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        else {
                            return false;
                        };
                        let ops = arg.as_array().cloned().unwrap_or_default();
                        ops.chunks(2).all(|pair| {
                            let bound = pair.get(1).and_then(Value::as_f64).unwrap_or(f64::NAN);
                            match pair[0].as_str() {
                                Some("<") => x < bound,
                                Some("<=") => x <= bound,
                                Some(">") => x > bound,
                                Some(">=") => x >= bound,
                                Some("=") => x == bound,
                                _ => false,
                            }
                        })
                    }
                    _ => false,
                })
            })
        }
        literal => values.contains(&literal),
    }
}

// ------------------------------------------------------------------------------------ schedules

fn scheduled_event(s: &Schedule) -> Value {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    let time = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string().to_lowercase(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [s.arn],
        "detail": {},
    })
}

async fn run_schedule(s: Schedule, functions: Functions, mut stop: watch::Receiver<bool>) {
    let Ok(cadence) = Cadence::parse(&s.expression) else {
        return;
    };
    loop {
        let wait = match cadence.next_after(OffsetDateTime::now_utc()) {
            Some(at) => (at - OffsetDateTime::now_utc())
                .try_into()
                .unwrap_or(Duration::ZERO),
            None => return,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {},
            () = stopped(&mut stop) => return,
        }
        for (function, input) in &s.targets {
            let event = input.clone().unwrap_or_else(|| scheduled_event(&s));
            // An asynchronous invocation: Lambda retries a failed one twice.
            for _ in 0..3 {
                match functions
                    .invoke(function, Source::Schedule, event.clone())
                    .await
                {
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(rule = %s.rule, error = %e, "a scheduled invocation failed")
                    }
                }
            }
        }
    }
}

/// A schedule expression: `rate(N unit)` or `cron(minutes hours day-of-month month
/// day-of-week year)`, in UTC.
#[derive(Debug, Clone, PartialEq)]
pub enum Cadence {
    Rate(Duration),
    Cron(Box<Cron>),
}

/// The fields of a cron expression, each the set of values it allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Option<Vec<bool>>,
    months: Vec<bool>,
    weekdays: Option<Vec<bool>>,
    years: Option<Vec<bool>>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn field(text: &str, lo: u32, hi: u32, names: &[&str]) -> Result<Vec<bool>, String> {
    let mut set = vec![false; hi as usize + 1];
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(lo + i as u32);
        }
        s.parse()
            .map_err(|_| format!("{s:?} is not a value of this field"))
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| format!("bad step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        let (a, b) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, hi),
                None => (value(r)?, value(r)?),
            },
        };
        if a < lo || b > hi || a > b || step == 0 {
            return Err(format!("{part:?} is out of {lo}-{hi}"));
        }
        let mut x = a;
        while x <= b {
            set[x as usize] = true;
            x += step;
        }
    }
    Ok(set)
}

impl Cadence {
    pub fn parse(expression: &str) -> Result<Self, String> {
        let e = expression.trim();
        if let Some(inner) = e.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
            let (n, unit) = inner
                .trim()
                .split_once(' ')
                .ok_or_else(|| format!("{e}: rate(N unit)"))?;
            let n: u64 = n.parse().map_err(|_| format!("{e}: {n} is not a number"))?;
            let secs = match unit.trim() {
                "minute" | "minutes" => 60,
                "hour" | "hours" => 3600,
                "day" | "days" => 86400,
                other => {
                    return Err(format!(
                        "{e}: the unit {other} is not minute(s), hour(s) or day(s)"
                    ));
                }
            };
            if n == 0 {
                return Err(format!("{e}: a rate must be positive"));
            }
            return Ok(Cadence::Rate(Duration::from_secs(n * secs)));
        }
        if let Some(inner) = e.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
            let parts: Vec<&str> = inner.split_whitespace().collect();
            if parts.len() != 6 {
                return Err(format!("{e}: a cron expression has six fields"));
            }
            if parts.iter().any(|p| {
                p.contains(['L', 'W', '#'])
                    && !WEEKDAYS.iter().chain(MONTHS.iter()).any(|n| p.contains(n))
            }) {
                return Err(format!(
                    "{e}: the runner does not handle L, W or # in cron expressions"
                ));
            }
            let wrap = |r: Result<Vec<bool>, String>| r.map_err(|m| format!("{e}: {m}"));
            let optional = |p: &str, lo, hi, names: &[&str]| -> Result<Option<Vec<bool>>, String> {
                if p == "?" {
                    Ok(None)
                } else {
                    wrap(field(p, lo, hi, names)).map(Some)
                }
            };
            let days = optional(parts[2], 1, 31, &[])?;
            let weekdays = optional(parts[4], 1, 7, &WEEKDAYS)?;
            if days.is_some() == weekdays.is_some() {
                return Err(format!(
                    "{e}: one of day-of-month and day-of-week must be ?"
                ));
            }
            return Ok(Cadence::Cron(Box::new(Cron {
                minutes: wrap(field(parts[0], 0, 59, &[]))?,
                hours: wrap(field(parts[1], 0, 23, &[]))?,
                days,
                months: wrap(field(parts[3], 1, 12, &MONTHS))?,
                weekdays,
                years: if parts[5] == "*" {
                    None
                } else {
                    Some(wrap(field(parts[5], 1970, 2199, &[]))?)
                },
            })));
        }
        Err(format!("{e}: not rate(...) or cron(...)"))
    }

    /// The first firing after `now`.
    pub fn next_after(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Cadence::Rate(period) => Some(now + *period),
            Cadence::Cron(c) => {
                let start = now.replace_second(0).ok()?.replace_nanosecond(0).ok()?
                    + time::Duration::minutes(1);
                // A minute at a time, up to five years ahead (leap days included).
                let mut t = start;
                for _ in 0..(5 * 366 * 24 * 60) {
                    let ok = c.minutes[t.minute() as usize]
                        && c.hours[t.hour() as usize]
                        && c.months[u8::from(t.month()) as usize]
                        && c.days.as_ref().is_none_or(|d| d[t.day() as usize])
                        && c.weekdays
                            .as_ref()
                            .is_none_or(|w| w[t.weekday().number_from_sunday() as usize])
                        && c.years.as_ref().is_none_or(|y| {
                            usize::try_from(t.year()).is_ok_and(|yr| yr < y.len() && y[yr])
                        });
                    if ok {
                        return Some(t);
                    }
                    t += time::Duration::minutes(1);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn filter_patterns_match_as_eventbridge_does() {
        let pattern = json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "EVENT#"}]}, "sk": {"S": ["EVENT"]}}}});
        let record = |name: &str, pk: &str, sk: &str| json!({"eventName": name, "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}}});
        assert!(matches(&pattern, &record("INSERT", "EVENT#01", "EVENT")));
        assert!(!matches(&pattern, &record("MODIFY", "EVENT#01", "EVENT")));
        assert!(!matches(&pattern, &record("INSERT", "ORDER#01", "EVENT")));
        assert!(!matches(&pattern, &record("INSERT", "EVENT#01", "META")));
        assert!(!matches(&pattern, &json!({"eventName": "INSERT"})));
        assert!(matches(
            &json!({"a": [{"exists": false}]}),
            &json!({"b": 1})
        ));
        assert!(!matches(
            &json!({"a": [{"exists": true}]}),
            &json!({"b": 1})
        ));
        assert!(matches(
            &json!({"a": [{"anything-but": ["x"]}]}),
            &json!({"a": "y"})
        ));
        assert!(!matches(
            &json!({"a": [{"anything-but": ["x"]}]}),
            &json!({"a": "x"})
        ));
        assert!(matches(
            &json!({"n": [{"numeric": [">=", 10, "<", 20]}]}),
            &json!({"n": 15})
        ));
        assert!(!matches(
            &json!({"n": [{"numeric": [">=", 10, "<", 20]}]}),
            &json!({"n": 20})
        ));
        assert!(matches(
            &json!({"s": [{"suffix": ".png"}, "x"]}),
            &json!({"s": "a.png"})
        ));
    }

    #[test]
    fn partial_batch_responses() {
        let ids = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            failed_items(&json!({"batchItemFailures": []}), &ids),
            Some(vec![])
        );
        assert_eq!(failed_items(&json!(null), &ids), Some(vec![]));
        assert_eq!(
            failed_items(
                &json!({"batchItemFailures": [{"itemIdentifier": "b"}]}),
                &ids
            ),
            Some(vec!["b".to_owned()])
        );
        assert_eq!(
            failed_items(
                &json!({"batchItemFailures": [{"itemIdentifier": "zz"}]}),
                &ids
            ),
            None
        );
        assert_eq!(
            failed_items(
                &json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
                &ids
            ),
            None
        );
        assert_eq!(
            failed_items(&json!({"batchItemFailures": [{}]}), &ids),
            None
        );
    }

    #[test]
    fn schedule_expressions() {
        assert_eq!(
            Cadence::parse("rate(1 minute)"),
            Ok(Cadence::Rate(Duration::from_secs(60)))
        );
        assert_eq!(
            Cadence::parse("rate(2 hours)"),
            Ok(Cadence::Rate(Duration::from_secs(7200)))
        );
        assert!(Cadence::parse("rate(0 minutes)").is_err());
        assert!(Cadence::parse("rate(5 weeks)").is_err());
        assert!(
            Cadence::parse("cron(0 12 * * * *)").is_err(),
            "both day fields given"
        );
        assert!(Cadence::parse("cron(0 12 L * ? *)").is_err());
        let daily = Cadence::parse("cron(30 6 * * ? *)").expect("parses");
        assert_eq!(
            daily.next_after(datetime!(2026-12-05 03:00 UTC)),
            Some(datetime!(2026-12-05 06:30 UTC))
        );
        assert_eq!(
            daily.next_after(datetime!(2026-12-05 06:30 UTC)),
            Some(datetime!(2026-12-06 06:30 UTC))
        );
        let weekly = Cadence::parse("cron(0/15 9-10 ? * MON-FRI *)").expect("parses");
        // 2026-12-05 is a Saturday: the next is Monday 09:00.
        assert_eq!(
            weekly.next_after(datetime!(2026-12-05 12:00 UTC)),
            Some(datetime!(2026-12-07 09:00 UTC))
        );
        assert_eq!(
            weekly.next_after(datetime!(2026-12-07 09:00 UTC)),
            Some(datetime!(2026-12-07 09:15 UTC))
        );
        let yearly = Cadence::parse("cron(0 0 1 JAN ? 2027)").expect("parses");
        assert_eq!(
            yearly.next_after(datetime!(2026-12-05 12:00 UTC)),
            Some(datetime!(2027-01-01 00:00 UTC))
        );
        assert_eq!(yearly.next_after(datetime!(2027-01-01 00:00 UTC)), None);
    }
}
