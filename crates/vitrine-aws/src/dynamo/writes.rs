//! Writes: single operations and `TransactWriteItems` batches, with the port's expiry rule and
//! the index of the operation whose condition failed.

use anyhow::anyhow;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update as DynamoUpdate,
};
use vitrine_app::ports::table::{
    Condition, Key, TTL, TableError, Update, WriteOp, apply_updates, evaluate, is_expired,
};

use super::DynamoTable;
use super::errors::Failure;
use super::expressions::{
    Atom, Cond, Placeholders, constant, expired, fold_updates, render_condition, render_updates,
    translate,
};
use super::items::{RawItem, check_key, item_av, item_from_attributes, key_av};

/// Why a single-item request did not apply.
pub(super) enum Refused {
    /// Its condition failed; on an item expired with this `ttl`, if it was.
    Condition(Option<i64>),
    /// The request failed.
    Request(Failure),
}

/// How one operation of a batch is sent.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Plan {
    /// As the port wrote it.
    AsIs,
    /// An update of an item found expired (with this `ttl`): sent as a put of the item the
    /// updates make from nothing, conditioned on the expired item still being there.
    Replace { expired_ttl: i64 },
}

/// The old item a failed condition reported, when it is expired at `now`: its `ttl`.
pub(super) fn expired_ttl(old: Option<&RawItem>, now: i64) -> Option<i64> {
    let item = item_from_attributes(old?).ok()?;
    is_expired(&item, now).then(|| item.num(TTL)).flatten()
}

/// An update is conditioned on the item not being expired: DynamoDB would update the expired
/// item in place (keeping its old attributes and `ttl`), while the port treats it as absent.
/// A failure on an expired item is then redone as a [`Plan::Replace`].
pub(super) fn update_condition(condition: Option<&Condition>, now: i64) -> Cond {
    Cond::and(vec![translate(condition, now), Cond::negate(expired(now))])
}

/// Whether the port's condition holds on an absent item — and so on an expired one, which an
/// update then replaces; when it does not, the failure is genuine.
pub(super) fn holds_when_absent(condition: Option<&Condition>) -> bool {
    condition.is_none_or(|c| evaluate(c, None))
}

/// The put that replaces an expired item: what the updates make from nothing, written only
/// while the expired item (same `ttl`) is still there.
pub(super) fn replace_put(
    key: &Key,
    updates: &[Update],
    expired_ttl: i64,
) -> Result<(RawItem, Cond), TableError> {
    let item = apply_updates(key, None, updates)?;
    let raw = item_av(&item)?;
    let still = Cond::and(vec![
        Cond::atom(Atom::Type(TTL.into(), "N")),
        Cond::atom(Atom::Cmp(
            TTL.into(),
            "=",
            AttributeValue::N(expired_ttl.to_string()),
        )),
    ]);
    Ok((raw, still))
}

impl DynamoTable {
    pub(super) fn transact_item(
        &self,
        op: &WriteOp,
        plan: &Plan,
        now: i64,
    ) -> Result<TransactWriteItem, TableError> {
        let mut p = Placeholders::default();
        let built = match (op, plan) {
            (WriteOp::Put { item, condition }, _) => {
                let raw = item_av(item)?;
                let expr = render_condition(&translate(condition.as_ref(), now), &mut p);
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(raw))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(build_error)?,
                )
            }
            (WriteOp::Update { key, updates, .. }, Plan::Replace { expired_ttl }) => {
                let (raw, still) = replace_put(key, updates, *expired_ttl)?;
                let expr = render_condition(&still, &mut p);
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(raw))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .map_err(build_error)?,
                )
            }
            (
                WriteOp::Update {
                    key,
                    updates,
                    condition,
                },
                Plan::AsIs,
            ) => {
                check_key(key)?;
                let changes = fold_updates(updates)?;
                if changes.is_empty() {
                    // A transaction's update needs an update expression, and there is no
                    // harmless one; no caller needs an update that changes nothing.
                    return Err(TableError::Invalid(
                        "an update needs at least one change".into(),
                    ));
                }
                let update_expr = render_updates(&changes, &mut p);
                let expr = render_condition(&update_condition(condition.as_ref(), now), &mut p);
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().update(
                    DynamoUpdate::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .update_expression(update_expr)
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .map_err(build_error)?,
                )
            }
            (WriteOp::Delete { key, condition }, _) => {
                check_key(key)?;
                let expr = render_condition(&translate(condition.as_ref(), now), &mut p);
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(build_error)?,
                )
            }
            (WriteOp::Check { key, condition }, _) => {
                check_key(key)?;
                // A check needs an expression even when its condition always holds.
                let cond = translate(Some(condition), now);
                let expr =
                    render_condition(&cond, &mut p).unwrap_or_else(|| constant(true, &mut p));
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(build_error)?,
                )
            }
        };
        Ok(built.build())
    }

    /// Decide what a cancelled transaction means. `Ok(true)`: retry after a pause (a conflict
    /// or throttling); `Ok(false)`: retry now with the adjusted plans; `Err`: the answer.
    pub(super) fn on_cancel(
        ops: &[WriteOp],
        plans: &mut [Plan],
        reasons: &[CancellationReason],
        now: i64,
        message: Option<&str>,
    ) -> Result<bool, TableError> {
        let mut pause = false;
        let mut replanned = false;
        for (index, reason) in reasons.iter().enumerate() {
            match reason.code() {
                None | Some("None") => {}
                Some("ConditionalCheckFailed") => {
                    let (Some(op), Some(plan)) = (ops.get(index), plans.get_mut(index)) else {
                        return Err(TableError::ConditionFailed { index });
                    };
                    let WriteOp::Update { condition, .. } = op else {
                        return Err(TableError::ConditionFailed { index });
                    };
                    let old_ttl = expired_ttl(reason.item(), now);
                    match (&*plan, old_ttl) {
                        // The item is expired: absent, for the port.
                        (_, Some(ttl)) => {
                            if !holds_when_absent(condition.as_ref()) {
                                return Err(TableError::ConditionFailed { index });
                            }
                            *plan = Plan::Replace { expired_ttl: ttl };
                            replanned = true;
                        }
                        // The expired item we meant to replace changed meanwhile: start over.
                        (Plan::Replace { .. }, None) => {
                            *plan = Plan::AsIs;
                            replanned = true;
                        }
                        (Plan::AsIs, None) => return Err(TableError::ConditionFailed { index }),
                    }
                }
                // Another transaction held one of the items (moto never reports this: it has no
                // transaction isolation at all, so this path only runs on AWS).
                Some(
                    "TransactionConflict"
                    | "ThrottlingError"
                    | "ProvisionedThroughputExceeded"
                    | "RequestLimitExceeded",
                ) => pause = true,
                Some("ValidationError") => {
                    return Err(TableError::Invalid(
                        reason
                            .message()
                            .unwrap_or("rejected by DynamoDB")
                            .to_owned(),
                    ));
                }
                Some(other) => {
                    return Err(TableError::Unavailable(anyhow!(
                        "transaction cancelled: {other} at operation {index}: {}",
                        reason.message().or(message).unwrap_or_default()
                    )));
                }
            }
        }
        if pause || replanned {
            Ok(pause)
        } else {
            Err(TableError::Unavailable(anyhow!(
                "transaction cancelled without a reason: {}",
                message.unwrap_or_default()
            )))
        }
    }
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> TableError {
    TableError::Unavailable(anyhow!(e).context("building a DynamoDB request"))
}
