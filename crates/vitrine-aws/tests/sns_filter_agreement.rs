//! The local filter-policy matcher (`vitrine_filter_policy`) against SNS as the AWS
//! emulator (moto) implements it, through real SNS → SQS deliveries:
//!
//! 1. every documented case of `crates/vitrine-filter-policy/tests/data/cases.json` (the
//!    Amazon SNS Developer Guide's examples): one topic and one queue per case, subscribed with the
//!    case's `FilterPolicy` and `FilterPolicyScope`; the case's message is published, and the
//!    queue says whether SNS delivered it. moto's verdict (delivered, filtered out, the policy
//!    refused at `Subscribe`, or `Publish` failing) is compared with the local matcher's. Where moto is known to differ
//!    from SNS, the case is listed in [`DEVIATIONS`] with the reason, and the test asserts that it
//!    still differs (so it notices when moto changes); every other case must agree.
//! 2. the store's own subscriptions (`vitrine_app::events::subscriptions`), one queue each on one
//!    topic, against representative events: each queue must get exactly the events the local
//!    matcher admits.
//!
//! Everything is created first, then everything published, then the queues are read in a few
//! bounded rounds (moto delivers during `Publish`; the rounds only allow for a slower emulator).
//! A queue still empty after the last round counts as "filtered out": no assertion depends on
//! timing beyond that bound.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Deserialize;
use serde_json::{Value, json};
use vitrine_app::Settings;
use vitrine_app::events::subscriptions;
use vitrine_app::events::subscriptions::message_attributes;
use vitrine_aws::{AwsConfig, sdk_config};
use vitrine_domain::catalog::{Fiscal, Sku};
use vitrine_domain::order::{
    Address, Buyer, Channels, NewOrder, Order, OrderLine, PaymentMethod, ShippingChoice,
};
use vitrine_domain::{Cep, Event, EventAttr, Money, TaxId, Timestamp, Uf};
use vitrine_filter_policy::{FilterPolicy, FilterScope, MessageAttribute, to_sns_attributes};
use vitrine_testkit::moto;

const CASES: &str = include_str!("../../vitrine-filter-policy/tests/data/cases.json");

/// Rounds of reading the queues after publishing, and the pause between two rounds.
const POLL_ROUNDS: u32 = 3;
const POLL_PAUSE: Duration = Duration::from_millis(150);
/// Attempts at a `Publish` before it counts as failing (without the SDK's back-off).
const PUBLISH_ATTEMPTS: u32 = 3;

// ---------------------------------------------------------------------------------------------
// Where moto differs from SNS.

/// One way moto's filtering differs from SNS's documented behaviour (which the local matcher
/// follows). `known`: noted by the matcher's author before this test existed; the others were
/// found by it. Each names the moto 5.2 code (`moto/sns/utils.py`, `FilterPolicyMatcher`, and
/// `moto/sns/models.py`, `_validate_filter_policy`) that explains it.
#[derive(Debug)]
struct Quirk {
    name: &'static str,
    known: bool,
    what: &'static str,
}

// Known before this test: the three the matcher's author noted.
const ANYTHING_BUT_ON_ARRAYS: Quirk = Quirk {
    name: "anything-but on a JSON array",
    known: true,
    what: "SNS's examples match an array when any element is outside the anything-but list \
           (string-value-matching page); moto requires every element to be outside it \
           (`all(v not in undesired_values ...)`, and `all(not v.startswith(...))` for a prefix)",
};
const DECIMAL_PLACES: Quirk = Quirk {
    name: "decimal places",
    known: true,
    what: "SNS keeps five decimal places (constraints page: 100.000001 equals 100); moto \
           compares `numeric` conditions as plain floats (and exact numbers to six places)",
};
const PREFIX_SUFFIX_ON_STRINGS_ONLY: Quirk = Quirk {
    name: "prefix/suffix on a String.Array",
    known: true,
    what: "moto's prefix and suffix look only at attributes of type String, never at the \
           elements of a String.Array",
};

// Found by this test.
const STRING_ARRAY_AS_TEXT: Quirk = Quirk {
    name: "anything-but on a String.Array attribute",
    known: false,
    what: "moto takes a String.Array attribute's value as its JSON text and compares each \
           character (`list(attr[\"Value\"])`): no element is ever in the list, so every array \
           passes (string-11 agrees only by this accident)",
};
const ANYTHING_BUT_PREFIX_ONLY: Quirk = Quirk {
    name: "anything-but with suffix or wildcard",
    known: false,
    what: "moto's anything-but knows only `prefix` inside it: `{\"anything-but\": {\"suffix\" | \
           \"wildcard\": ...}}` is accepted and never matches",
};
const NO_CIDR: Quirk = Quirk {
    name: "cidr",
    known: false,
    what: "moto refuses the `cidr` operator at Subscribe (\"Unrecognized match type cidr\")",
};
const NO_WILDCARD: Quirk = Quirk {
    name: "wildcard",
    known: false,
    what: "moto refuses the `wildcard` operator at Subscribe (\"Unrecognized match type \
           wildcard\")",
};
const OR_COMPLEXITY: Quirk = Quirk {
    name: "$or complexity",
    known: false,
    what: "moto counts the combinations of a `$or` differently (each branch list's length \
           times its depth, multiplied) and refuses the and-or-logic page's nested examples as \
           \"too complex\"; the page counts 7 and 32 for them (the limit is 150)",
};
const OR_AS_PROPERTY: Quirk = Quirk {
    name: "$or as a property name",
    known: false,
    what: "moto reads every `$or` array as an OR, so the and-or-logic page's `$or` property \
           whose objects use reserved keywords is refused at Subscribe",
};
const OR_IN_BODY: Quirk = Quirk {
    name: "$or in the MessageBody scope",
    known: false,
    what: "moto applies a body policy's `$or` branches as if to message attributes and crashes \
           (HTTP 500 on Publish) when the body has one of the branch keys",
};
const NUMERIC_ON_A_STRING: Quirk = Quirk {
    name: "numeric on a string body value",
    known: false,
    what: "a `numeric` condition on a body string (\"100\") makes moto compare str with int \
           and crash (HTTP 500 on Publish); SNS just does not match",
};
const STRING_EQUALS_NUMBER: Quirk = Quirk {
    name: "string value against a Number attribute",
    known: false,
    what: "moto compares attribute values as text: the string \"100\" in a policy matches the \
           Number attribute 100, which SNS keeps apart (numeric-value-matching page)",
};
const EXISTS_FALSE_WITHOUT_ATTRIBUTES: Quirk = Quirk {
    name: "exists: false on a message without attributes",
    known: false,
    what: "moto matches `exists: false` on a message with no attributes at all; SNS only if \
           at least one attribute is present (attribute-key-matching page)",
};
const EXISTS_ON_ANY_VALUE: Quirk = Quirk {
    name: "exists: true on null, [] and objects",
    known: false,
    what: "moto's `exists: true` only checks that the key is present; SNS needs a non-null, \
           non-empty leaf value (attribute-key-matching page)",
};
const FIRST_CONDITION_ON_ABSENCE: Quirk = Quirk {
    name: "absent key and a later exists: false",
    known: false,
    what: "when the key is absent, moto gives up at the first condition of the list that needs \
           a value (`if field not in dict_body: return False`), so a later `exists: false` in \
           the same list is never tried",
};
const NO_NUMERIC_RANGE: Quirk = Quirk {
    name: "numbers beyond 1e9",
    known: false,
    what: "moto applies no range to message values; SNS matches numbers only within -1e9 to \
           1e9 (constraints page)",
};
const NESTED_ARRAY_SIBLINGS: Quirk = Quirk {
    name: "nested policy over an array of objects",
    known: false,
    what: "moto lets the sibling keys of a nested policy match different elements of an array \
           of objects; the local matcher needs one element to match them all",
};

/// Every case where moto's verdict differs from the local matcher's: (case id, moto's verdict,
/// why). The local matcher is right in each (it follows the cited page); see the quirk.
const DEVIATIONS: &[(&str, Verdict, &Quirk)] = &[
    ("numeric-09", Verdict::FilteredOut, &ANYTHING_BUT_ON_ARRAYS),
    ("string-14", Verdict::FilteredOut, &ANYTHING_BUT_ON_ARRAYS),
    ("string-27", Verdict::FilteredOut, &ANYTHING_BUT_ON_ARRAYS),
    ("constraints-02", Verdict::FilteredOut, &DECIMAL_PLACES),
    (
        "string-51",
        Verdict::FilteredOut,
        &PREFIX_SUFFIX_ON_STRINGS_ONLY,
    ),
    ("string-16", Verdict::Delivered, &STRING_ARRAY_AS_TEXT),
    ("string-28", Verdict::FilteredOut, &ANYTHING_BUT_PREFIX_ONLY),
    ("string-30", Verdict::FilteredOut, &ANYTHING_BUT_PREFIX_ONLY),
    ("string-31", Verdict::FilteredOut, &ANYTHING_BUT_PREFIX_ONLY),
    ("string-39", Verdict::Refused, &NO_CIDR),
    ("string-40", Verdict::Refused, &NO_CIDR),
    ("string-41", Verdict::Refused, &NO_CIDR),
    ("string-42", Verdict::Refused, &NO_CIDR),
    ("string-43", Verdict::Refused, &NO_CIDR),
    ("string-44", Verdict::Refused, &NO_CIDR),
    ("string-58", Verdict::Refused, &NO_WILDCARD),
    ("string-59", Verdict::Refused, &NO_WILDCARD),
    ("string-60", Verdict::Refused, &NO_WILDCARD),
    ("string-61", Verdict::Refused, &NO_WILDCARD),
    ("and-or-15", Verdict::Refused, &OR_COMPLEXITY),
    ("and-or-16", Verdict::Refused, &OR_COMPLEXITY),
    ("and-or-17", Verdict::Refused, &OR_COMPLEXITY),
    ("and-or-18", Verdict::Refused, &OR_COMPLEXITY),
    ("and-or-19", Verdict::Refused, &OR_COMPLEXITY),
    ("and-or-20", Verdict::Refused, &OR_COMPLEXITY),
    ("and-or-21", Verdict::Refused, &OR_COMPLEXITY),
    ("and-or-22", Verdict::Refused, &OR_COMPLEXITY),
    ("and-or-23", Verdict::Refused, &OR_COMPLEXITY),
    ("and-or-24", Verdict::Refused, &OR_AS_PROPERTY),
    ("and-or-25", Verdict::Refused, &OR_AS_PROPERTY),
    ("and-or-10", Verdict::PublishFails, &OR_IN_BODY),
    ("and-or-11", Verdict::PublishFails, &OR_IN_BODY),
    ("numeric-19", Verdict::PublishFails, &NUMERIC_ON_A_STRING),
    ("numeric-21", Verdict::Delivered, &STRING_EQUALS_NUMBER),
    (
        "key-matching-09",
        Verdict::Delivered,
        &EXISTS_FALSE_WITHOUT_ATTRIBUTES,
    ),
    ("key-matching-10", Verdict::Delivered, &EXISTS_ON_ANY_VALUE),
    ("key-matching-11", Verdict::Delivered, &EXISTS_ON_ANY_VALUE),
    ("key-matching-12", Verdict::Delivered, &EXISTS_ON_ANY_VALUE),
    (
        "string-19",
        Verdict::FilteredOut,
        &FIRST_CONDITION_ON_ABSENCE,
    ),
    ("constraints-05", Verdict::Delivered, &NO_NUMERIC_RANGE),
    ("constraints-06", Verdict::Delivered, &NO_NUMERIC_RANGE),
    ("scope-06", Verdict::Delivered, &NESTED_ARRAY_SIBLINGS),
];

// ---------------------------------------------------------------------------------------------
// The cases.

#[derive(Debug, Deserialize)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    scope: FilterScope,
    policy: Value,
    #[serde(default)]
    attributes: BTreeMap<String, MessageAttribute>,
    body: Option<String>,
}

/// What happens to a message at a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Delivered,
    FilteredOut,
    /// The policy is refused when subscribing (SNS refuses some, e.g. nested policies for the
    /// attribute scope; moto refuses operators it lacks).
    Refused,
    /// `Publish` fails with a server error (moto crashing on the policy).
    PublishFails,
}

impl Case {
    /// The SNS `Message`: the body for the body scope; for the attribute scope, any text.
    fn message(&self) -> String {
        match &self.body {
            Some(body) => body.clone(),
            None => format!("filter policy case {}", self.id),
        }
    }

    fn local_verdict(&self) -> Verdict {
        let Ok(policy) = FilterPolicy::parse_scoped(&self.policy, self.scope) else {
            return Verdict::Refused;
        };
        let body = self
            .body
            .as_deref()
            .map(|text| serde_json::from_str(text).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        if policy.matches(self.scope, &self.attributes, &body) {
            Verdict::Delivered
        } else {
            Verdict::FilteredOut
        }
    }
}

fn scope_name(scope: FilterScope) -> &'static str {
    match scope {
        FilterScope::MessageAttributes => "MessageAttributes",
        FilterScope::MessageBody => "MessageBody",
    }
}

// ---------------------------------------------------------------------------------------------
// The emulator.

/// What the emulator said, in one line: its message, or the HTTP status when it has none (a
/// crash answers 500 with an HTML page).
fn short<E: ProvideErrorMetadata>(
    error: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> String {
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => match error.raw_response() {
            Some(response) => format!("HTTP {}", response.status().as_u16()),
            None => error.to_string(),
        },
    }
}

struct Clients {
    sns: aws_sdk_sns::Client,
    /// SNS without retries, for `Publish`: a message that crashes moto's matcher fails at once
    /// instead of being retried ten times with back-off.
    sns_once: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
}

async fn clients() -> Clients {
    let config = AwsConfig {
        region: "us-east-1".into(),
        endpoint: Some(moto::endpoint().into()),
        static_credentials: Some(("testing".into(), "testing".into())),
        emulator: true,
    };
    let sdk = sdk_config(&config).await;
    let once = aws_sdk_sns::config::Builder::from(&sdk)
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
        .build();
    Clients {
        sns: aws_sdk_sns::Client::new(&sdk),
        sns_once: aws_sdk_sns::Client::from_conf(once),
        sqs: aws_sdk_sqs::Client::new(&sdk),
    }
}

impl Clients {
    async fn topic(&self, name: &str) -> String {
        let created = self.sns.create_topic().name(name).send().await;
        let created =
            created.unwrap_or_else(|e| panic!("topic {name}: {}", DisplayErrorContext(e)));
        created.topic_arn().expect("a topic ARN").to_owned()
    }

    /// A queue: its URL and its ARN.
    async fn queue(&self, name: &str) -> (String, String) {
        let created = self.sqs.create_queue().queue_name(name).send().await;
        let created =
            created.unwrap_or_else(|e| panic!("queue {name}: {}", DisplayErrorContext(e)));
        let url = created.queue_url().expect("a queue URL").to_owned();
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("queue {name}: {}", DisplayErrorContext(e)));
        let arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .expect("a queue ARN")
            .clone();
        (url, arn)
    }

    /// Subscribe the queue as the template does (sqs, raw delivery off); the error text when
    /// the policy is refused.
    async fn subscribe(
        &self,
        topic: &str,
        queue_arn: &str,
        scope: FilterScope,
        policy: &Value,
    ) -> Result<(), String> {
        self.sns
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "false")
            .attributes("FilterPolicyScope", scope_name(scope))
            .attributes("FilterPolicy", policy.to_string())
            .return_subscription_arn(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| short(&e))
    }

    /// Publish once; the error text when the emulator fails.
    async fn publish(
        &self,
        topic: &str,
        message: &str,
        attributes: &BTreeMap<String, MessageAttribute>,
    ) -> Result<(), String> {
        let mut request = self.sns_once.publish().topic_arn(topic).message(message);
        for (name, data_type, value) in to_sns_attributes(attributes) {
            let value = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(value)
                .build()
                .expect("the data type is set");
            request = request.message_attributes(name, value);
        }
        // A few quick attempts: a crash on the policy fails every time; a passing hiccup of an
        // emulator shared with other tests does not.
        let mut last = String::new();
        for _ in 0..PUBLISH_ATTEMPTS {
            match request.clone().send().await {
                Ok(_) => return Ok(()),
                Err(e) => last = short(&e),
            }
        }
        Err(last)
    }

    /// The SNS messages (the `Message` of each envelope) waiting in a queue, taken off it.
    async fn take(&self, queue_url: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap_or_else(|e| panic!("reading {queue_url}: {}", DisplayErrorContext(e)));
            let messages = received.messages();
            if messages.is_empty() {
                return out;
            }
            for message in messages {
                let envelope: Value = serde_json::from_str(message.body().unwrap_or_default())
                    .expect("an SNS envelope (raw delivery is off)");
                let text = envelope["Message"]
                    .as_str()
                    .expect("the envelope's Message");
                out.push(text.to_owned());
            }
        }
    }

    /// Read every queue in bounded rounds: what each got, once nothing more arrives.
    async fn drain(
        &self,
        queues: &[String],
        settled: impl Fn(&[String]) -> bool,
    ) -> Vec<Vec<String>> {
        let mut got = vec![Vec::new(); queues.len()];
        for round in 0..POLL_ROUNDS {
            if round > 0 {
                tokio::time::sleep(POLL_PAUSE).await;
            }
            for (url, messages) in queues.iter().zip(&mut got) {
                if !settled(messages) {
                    messages.extend(self.take(url).await);
                }
            }
        }
        got
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The documented cases.

#[tokio::test]
async fn moto_filters_the_documented_cases_as_the_local_matcher_does_but_for_listed_deviations() {
    let file: CaseFile = serde_json::from_str(CASES).expect("the cases file");
    let cases = file.cases;
    let aws = clients().await;

    // Create: a topic, a queue and a subscription per case.
    let mut topics = Vec::new();
    let mut queues = Vec::new();
    let mut verdicts = vec![None; cases.len()];
    for (i, case) in cases.iter().enumerate() {
        let name = moto::unique(&format!("fp-{}", case.id));
        let topic = aws.topic(&name).await;
        let (url, arn) = aws.queue(&name).await;
        if let Err(error) = aws.subscribe(&topic, &arn, case.scope, &case.policy).await {
            verdicts[i] = Some((Verdict::Refused, error));
        }
        topics.push(topic);
        queues.push(url);
    }
    // Publish every message of a subscribed case.
    for (i, case) in cases.iter().enumerate() {
        if verdicts[i].is_none()
            && let Err(error) = aws
                .publish(&topics[i], &case.message(), &case.attributes)
                .await
        {
            verdicts[i] = Some((Verdict::PublishFails, error));
        }
    }
    // Read.
    let got = aws.drain(&queues, |messages| !messages.is_empty()).await;
    for (i, case) in cases.iter().enumerate() {
        if verdicts[i].is_some() {
            continue;
        }
        let verdict = match got[i].as_slice() {
            [] => Verdict::FilteredOut,
            [one] if *one == case.message() => Verdict::Delivered,
            other => panic!("{}: the queue got {other:?}", case.id),
        };
        verdicts[i] = Some((verdict, String::new()));
    }

    // Compare.
    let listed: BTreeMap<&str, (Verdict, &Quirk)> = DEVIATIONS
        .iter()
        .map(|(id, verdict, quirk)| (*id, (*verdict, *quirk)))
        .collect();
    assert_eq!(listed.len(), DEVIATIONS.len(), "a case is listed twice");
    let ids: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    for id in listed.keys() {
        assert!(
            ids.contains(id),
            "DEVIATIONS lists {id}, which is not a case"
        );
    }
    let mut problems = Vec::new();
    let mut agreements = 0;
    // Keyed by (found, name): the known quirks are printed first.
    let mut by_quirk: BTreeMap<(bool, &str), Vec<&str>> = BTreeMap::new();
    for (case, found) in cases.iter().zip(&verdicts) {
        let (moto_verdict, error) = found.clone().expect("a verdict for every case");
        let local = case.local_verdict();
        let detail = || {
            format!(
                "{}: local {local:?}, moto {moto_verdict:?} {error} — policy {} ({}) on {}",
                case.id,
                case.policy,
                scope_name(case.scope),
                case.body
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", case.attributes))
            )
        };
        match listed.get(case.id.as_str()) {
            None if moto_verdict == local => agreements += 1,
            None => problems.push(format!("unlisted deviation: {}", detail())),
            Some((expected, _)) if moto_verdict == local => problems.push(format!(
                "listed as a deviation (moto {expected:?}) but moto now agrees: {}",
                detail()
            )),
            Some((expected, _)) if moto_verdict != *expected => problems.push(format!(
                "listed deviation changed (moto was {expected:?}): {}",
                detail()
            )),
            Some((_, quirk)) => {
                by_quirk
                    .entry((!quirk.known, quirk.name))
                    .or_default()
                    .push(case.id.as_str());
            }
        }
    }

    let deviations: usize = by_quirk.values().map(Vec::len).sum();
    println!(
        "filter policies, moto vs the local matcher: {} cases, {agreements} agree, {deviations} listed deviations",
        cases.len()
    );
    for ((found, name), ids) in &by_quirk {
        let origin = if *found { "found" } else { "known" };
        println!("  {origin}: {name}: {} ({})", ids.len(), ids.join(", "));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for quirk in [
        &ANYTHING_BUT_ON_ARRAYS,
        &DECIMAL_PLACES,
        &PREFIX_SUFFIX_ON_STRINGS_ONLY,
    ] {
        assert!(
            by_quirk.contains_key(&(false, quirk.name)),
            "the known deviation {:?} ({}) is shown by no case",
            quirk.name,
            quirk.what
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2. The store's subscriptions.

fn sample_order(id: &str, unit_centavos: i64, sms_opt_in: bool) -> Order {
    let line = OrderLine {
        sku: Sku::parse("CAM-M").expect("a SKU"),
        product_id: "p1".into(),
        name: "Camiseta".into(),
        options: BTreeMap::new(),
        unit_price: Money::from_centavos(unit_centavos),
        quantity: 1,
        weight_g: 200,
        fiscal: Fiscal::default(),
    };
    let (order, _) = Order::place(NewOrder {
        id: id.into(),
        customer_id: "c1".into(),
        lines: vec![line],
        buyer: Buyer {
            name: "Ana".into(),
            email: "ana@example.com".into(),
            tax_id: TaxId::parse("52998224725").expect("a CPF"),
            phone: sms_opt_in.then(|| "+5511987654321".into()),
        },
        shipping_address: Address {
            recipient: "Ana".into(),
            street: "Av. Paulista".into(),
            number: "1000".into(),
            complement: None,
            district: "Bela Vista".into(),
            city: "São Paulo".into(),
            uf: Uf::parse("SP").expect("a UF"),
            cep: Cep::parse("01310100").expect("a CEP"),
        },
        shipping: ShippingChoice {
            method_id: "pac".into(),
            name: "PAC".into(),
            price: Money::from_centavos(1_590),
            days: 3,
        },
        coupon: None,
        payment_method: PaymentMethod::Pix,
        payment_provider: "sandbox".into(),
        now: Timestamp::from_secs(1_000),
        pay_within_secs: 1_800,
        channels: Channels {
            language: "pt-BR".into(),
            sms_opt_in,
        },
    })
    .expect("a valid order");
    order
}

/// Representative events, each with a label, built the way the store builds them: orders by the
/// domain (`Order::place`, `Order::pay`); `stock.low` and `customer.registered` with the
/// attributes `catalog.rs` and `customers.rs` give them.
fn representative_events() -> Vec<(&'static str, Event)> {
    let threshold = Settings::default().large_order_centavos;
    let placed = |id: &str, total: i64| {
        let order = sample_order(id, total - 1_590, false);
        assert_eq!(order.total.centavos(), total);
        order.event("order.placed")
    };
    let paid = |id: &str, sms_opt_in: bool| {
        let mut order = sample_order(id, 8_410, sms_opt_in);
        order
            .pay(Timestamp::from_secs(1_100), "pix-e2e-1")
            .expect("an unpaid order can be paid")
    };
    vec![
        ("order.placed small", placed("o-small", 10_000)),
        (
            "order.placed just below the threshold",
            placed("o-below", threshold - 1),
        ),
        (
            "order.placed large (at the threshold)",
            placed("o-large", threshold),
        ),
        ("order.paid, sms opt-in", paid("o-sms", true)),
        ("order.paid, no sms", paid("o-nosms", false)),
        (
            "stock.low",
            Event::new(
                "stock.low",
                "CAM-M",
                json!({ "items": [{ "sku": "CAM-M", "available": 2 }] }),
            )
            .attr("available", EventAttr::Number(2))
            .attr(
                "skus",
                EventAttr::StringArray(vec!["CAM-M".into(), "CAM-G".into()]),
            ),
        ),
        (
            "customer.registered",
            Event::new(
                "customer.registered",
                "sub-1",
                json!({ "customer_id": "sub-1" }),
            )
            .for_customer("sub-1")
            .attr("language", EventAttr::String("pt-BR".into())),
        ),
    ]
}

#[tokio::test]
async fn moto_delivers_the_store_events_to_exactly_the_queues_the_local_matcher_admits() {
    let aws = clients().await;
    let subscriptions = subscriptions(&Settings::default());
    let events = representative_events();

    let topic = aws.topic(&moto::unique("vitrine-events")).await;
    let mut queues = Vec::new();
    for subscription in &subscriptions {
        let (url, arn) = aws.queue(&moto::unique(subscription.name)).await;
        aws.subscribe(&topic, &arn, subscription.scope, &subscription.policy)
            .await
            .unwrap_or_else(|e| panic!("the {} subscription: {e}", subscription.name));
        queues.push(url);
    }
    // The message is the label and the event's body, so each delivery says which event it is.
    for (label, event) in &events {
        let message = json!({ "label": label, "event_type": event.event_type, "data": event.data });
        aws.publish(
            &topic,
            &message.to_string(),
            &message_attributes(&event.attributes),
        )
        .await
        .unwrap_or_else(|e| panic!("publishing {label}: {e}"));
    }
    // Read until no queue gets anything more.
    let got = aws.drain(&queues, |_| false).await;

    let mut problems = Vec::new();
    for (subscription, messages) in subscriptions.iter().zip(got) {
        let received: Vec<String> = messages
            .iter()
            .map(|m| {
                let m: Value = serde_json::from_str(m).expect("the published JSON");
                m["label"].as_str().expect("a label").to_owned()
            })
            .collect();
        let admitted: Vec<String> = events
            .iter()
            .filter(|(_, event)| subscription.admits(&event.attributes, &event.data))
            .map(|(label, _)| (*label).to_owned())
            .collect();
        println!("  {}: {}", subscription.name, received.join("; "));
        let mut sorted = received.clone();
        sorted.sort();
        let mut expected = admitted.clone();
        expected.sort();
        if sorted != expected {
            problems.push(format!(
                "{}: moto delivered {received:?}, the local matcher admits {admitted:?}",
                subscription.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
