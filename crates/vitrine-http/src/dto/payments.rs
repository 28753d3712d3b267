//! Payments: Pix charges and their QR codes, card payments and installments, the providers'
//! webhooks.

use super::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vitrine_app::payments::{LatePayment, Payment};
use vitrine_domain::Money;
use vitrine_domain::card::InstallmentPlan;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardInputDto {
    /// The sandbox only (test numbers): a real provider takes a `token` from its own script.
    /// Not stored: only the brand and the last four digits are kept.
    #[schema(example = "4111 1111 1111 1111")]
    pub number: Option<String>,
    #[schema(example = "MARIA SILVA")]
    pub holder: Option<String>,
    /// The one-time card token made by the provider's script in the browser.
    pub token: Option<String>,
    /// The provider's id of the card's brand, as its script reports it (`visa`, `master`, …).
    pub payment_method_id: Option<String>,
    pub issuer_id: Option<String>,
    /// The card's first 6 to 8 digits, as the provider's script reports them.
    pub bin: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayInputDto {
    /// `pix`, `card` or `boleto`: the order's payment method.
    #[schema(example = "pix")]
    pub method: String,
    /// Card payments only.
    pub card: Option<CardInputDto>,
    /// Card payments: how many installments (default 1).
    pub installments: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PixDto {
    pub txid: String,
    /// The "copia e cola" text.
    pub br_code: String,
    /// The same as a QR code (SVG).
    pub qr_code_url: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoletoDto {
    /// The "linha digitável".
    pub digitable_line: String,
    pub barcode: String,
    pub pdf_url: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardDto {
    #[schema(example = "visa")]
    pub brand: String,
    pub last4: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstallmentPlanDto {
    pub count: u32,
    /// The first (largest) installment: "count× de installment".
    pub installment_centavos: i64,
    /// Every installment; they add up to `total_centavos`.
    pub installments_centavos: Vec<i64>,
    pub total_centavos: i64,
    pub interest_centavos: i64,
    /// 0: without interest ("sem juros").
    pub monthly_rate_bp: u32,
}

impl InstallmentPlanDto {
    pub fn new(plan: &InstallmentPlan, price: Money) -> Self {
        Self {
            count: plan.count,
            installment_centavos: plan.installment().centavos(),
            installments_centavos: plan.installments.iter().map(|m| m.centavos()).collect(),
            total_centavos: plan.total.centavos(),
            interest_centavos: plan.interest(price).centavos(),
            monthly_rate_bp: plan.monthly_rate_bp,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// What to give back, in centavos: at most what was paid minus earlier refunds.
    pub amount_centavos: i64,
    /// Why (shown to the admins; 1 to 200 characters).
    #[schema(example = "item arrived damaged")]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartialRefundDto {
    pub id: String,
    pub amount_centavos: i64,
    pub reason: String,
    pub requested_at: String,
    /// The provider's id of the refund, once made.
    pub reference: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LatePaymentDto {
    pub reference: String,
    pub amount_centavos: i64,
    pub at: String,
    #[schema(example = "order_expired")]
    pub reason: String,
    /// The refund's reference, once made.
    pub refund: Option<String>,
}

impl From<&LatePayment> for LatePaymentDto {
    fn from(l: &LatePayment) -> Self {
        Self {
            reference: l.reference.clone(),
            amount_centavos: l.amount.centavos(),
            at: rfc3339(l.at),
            reason: l.reason.as_str().to_owned(),
            refund: l.refund.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentDto {
    pub order_id: String,
    pub provider: String,
    #[schema(example = "pix")]
    pub method: String,
    /// `pending`, `failed`, `confirmed`, `refunded` or `withdrawn` (the unpaid charge was taken back).
    #[schema(example = "pending")]
    pub status: String,
    /// What the payer pays: the order total, or the installment plan's total.
    pub amount_centavos: i64,
    pub pix: Option<PixDto>,
    pub boleto: Option<BoletoDto>,
    pub card: Option<CardDto>,
    /// A 3-D Secure challenge to complete at the card's issuer (status `pending`).
    pub challenge_url: Option<String>,
    pub installments: Option<InstallmentPlanDto>,
    pub reference: Option<String>,
    /// The provider's id of the charge while it waits (a boleto, a Pix charge, a card payment in
    /// 3-D Secure): what the provider's own pages and support name.
    pub charge_reference: Option<String>,
    pub attempts: u32,
    /// Why the last attempt failed.
    pub failure: Option<String>,
    pub refund_reference: Option<String>,
    /// Parts given back while the order stands.
    pub partial_refunds: Vec<PartialRefundDto>,
    /// Payments that arrived after the order could take them; each is refunded.
    pub late_payments: Vec<LatePaymentDto>,
    pub version: u64,
}

impl PaymentDto {
    pub fn new(p: &Payment, order_total: Money) -> Self {
        let pix = match (&p.txid, &p.br_code) {
            (Some(txid), Some(br_code)) => Some(PixDto {
                txid: txid.clone(),
                br_code: br_code.clone(),
                qr_code_url: format!("/api/v1/orders/{}/payment/qr.svg", p.order_id),
                expires_at: rfc3339(p.expires_at),
            }),
            _ => None,
        };
        Self {
            order_id: p.order_id.clone(),
            provider: p.provider.clone(),
            method: p.method.as_str().to_owned(),
            status: serde_json::to_value(p.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            amount_centavos: p.amount.centavos(),
            pix,
            boleto: p.boleto.as_ref().map(|b| BoletoDto {
                digitable_line: b.digitable_line.clone(),
                barcode: b.barcode.clone(),
                pdf_url: b.pdf_url.clone(),
                expires_at: rfc3339(b.expires_at),
            }),
            challenge_url: p.challenge_url.clone(),
            card: p.card.as_ref().map(|c| CardDto {
                brand: serde_json::to_value(c.brand)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                last4: c.last4.clone(),
            }),
            installments: p
                .installments
                .as_ref()
                .map(|plan| InstallmentPlanDto::new(plan, order_total)),
            reference: p.reference.clone(),
            charge_reference: p.charge_reference.clone(),
            attempts: p.attempts,
            failure: p.failure.clone(),
            refund_reference: p.refund.as_ref().map(|r| r.reference.clone()),
            partial_refunds: p
                .partial_refunds
                .iter()
                .map(|r| PartialRefundDto {
                    id: r.id.clone(),
                    amount_centavos: r.amount.centavos(),
                    reason: r.reason.clone(),
                    requested_at: rfc3339(r.requested_at),
                    reference: r.reference.clone(),
                })
                .collect(),
            late_payments: p.late.iter().map(Into::into).collect(),
            version: p.version,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InstallmentsParams {
    /// The price to split, in centavos.
    pub total_centavos: i64,
    /// The card's first 6 to 8 digits: the card provider's own plans for that card, when it has
    /// them.
    pub bin: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstallmentsDto {
    pub total_centavos: i64,
    pub plans: Vec<InstallmentPlanDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResultDto {
    /// `paid`: the order is paid now; `already_paid`: the same payment again, nothing changed;
    /// `refund`: the money was not accepted (order expired, cancelled, already paid, or another
    /// amount) and will be refunded.
    #[schema(example = "paid")]
    pub result: &'static str,
    /// One result per payment the notice named (a bank may batch several Pix); `result` is the
    /// first. `failed`: a card refused after 3-D Secure or review; `ignored`: nothing to do.
    pub results: Vec<&'static str>,
}
