//! The default payment providers, needing no contract with a PSP:
//!
//! - [`PixSandbox`] (`pix`): each charge is a BR Code for the store's own Pix key with the order's
//!   txid and amount. The store learns of the payment from a webhook signed with the shared
//!   secret ([`WebhookSigner`]): a PSP's notification relay, the `vitrine pix confirm` command, or
//!   a test. Its refunds are recorded, not sent: the shop returns the money from its bank app
//!   (the admin sees each refund with its amount and reference).
//! - [`CardSandbox`] (`card`): test card numbers with fixed outcomes
//!   (`vitrine_domain::card::SANDBOX_CARDS`); any other valid number is approved. No money moves.
//!
//! Webhook signature (`Vitrine-Signature` header): `t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `"{t}.{body}"` with the shared secret, the scheme of docs/payments.md. A notice older or newer
//! than the tolerance (5 minutes) is refused as stale; replays within it are refused by the store
//! by notice id.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use vitrine_domain::Money;
use vitrine_domain::card::{SandboxOutcome, sandbox_outcome};
use vitrine_domain::order::PaymentMethod;
use vitrine_domain::pix::{BrCode, txid_for};

use crate::ports::payments::{
    CardInput, CardSummary, Charge, ChargeKey, ChargeMethod, ChargeRequest, DeclineReason,
    NoticeItem, PaymentError, PaymentProvider, ProviderPayment, ProviderStatus, Refunded,
    WebhookError, WebhookRequest,
};
use vitrine_domain::Timestamp;

/// The header that carries a webhook's signature.
pub const SIGNATURE_HEADER: &str = "vitrine-signature";
/// How far a webhook's timestamp may be from now.
pub const TOLERANCE_SECS: i64 = 300;

/// Signs and checks webhook bodies with a shared secret.
#[derive(Clone)]
pub struct WebhookSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSigner(..)")
    }
}

impl WebhookSigner {
    /// A secret of at least 16 bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, String> {
        let secret = secret.into();
        if secret.len() < 16 {
            return Err("the webhook secret must be at least 16 bytes long".into());
        }
        Ok(Self { secret })
    }

    fn mac(&self, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `Vitrine-Signature` value for `body` sent at `timestamp` (unix seconds).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(timestamp, body).finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        format!("t={timestamp},v1={hex}")
    }

    /// Check the signature header of `request` and the freshness of its timestamp.
    pub fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), WebhookError> {
        let header = (request.header)(SIGNATURE_HEADER).ok_or(WebhookError::BadSignature)?;
        let mut timestamp = None;
        let mut tags = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                Some(("v1", v)) => tags.push(decode_hex(v).ok_or(WebhookError::BadSignature)?),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(WebhookError::BadSignature)?;
        // The signature first: an unsigned request learns nothing about the clock.
        let signed = tags
            .iter()
            .any(|tag| self.mac(timestamp, request.body).verify_slice(tag).is_ok());
        if !signed {
            return Err(WebhookError::BadSignature);
        }
        let now_secs = request.now.millis() / 1000;
        if (now_secs - timestamp).abs() > TOLERANCE_SECS {
            return Err(WebhookError::Stale);
        }
        Ok(())
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The store's Pix account, as printed in each BR Code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixAccount {
    /// The Pix key: CNPJ digits, e-mail, `+55…` phone or random key.
    pub key: String,
    pub merchant_name: String,
    pub merchant_city: String,
}

/// Pix charges from the store's own key, confirmed by signed webhooks (see the module docs).
pub struct PixSandbox {
    account: PixAccount,
    signer: WebhookSigner,
}

impl PixSandbox {
    /// Checks the account once: a key or name that cannot make a BR Code fails here, at start-up.
    pub fn new(account: PixAccount, signer: WebhookSigner) -> Result<Self, String> {
        BrCode::new(
            &account.key,
            &account.merchant_name,
            &account.merchant_city,
            None,
            None,
        )
        .map_err(|e| format!("the Pix account cannot make a BR Code: {}", e.describe()))?;
        Ok(Self { account, signer })
    }
}

/// A sandbox webhook's body (docs/payments.md).
#[derive(Debug, Deserialize)]
struct PixNotice {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    txid: String,
    amount_centavos: i64,
    end_to_end_id: String,
}

#[async_trait]
impl PaymentProvider for PixSandbox {
    fn name(&self) -> &'static str {
        "pix"
    }

    fn methods(&self) -> &'static [PaymentMethod] {
        &[PaymentMethod::Pix]
    }

    fn is_sandbox(&self) -> bool {
        true
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let ChargeMethod::Pix { .. } = request.method else {
            return Err(PaymentError::Invalid("this provider takes Pix only".into()));
        };
        let txid = txid_for(&request.order_id)
            .ok_or_else(|| PaymentError::Invalid("the order id makes no Pix txid".into()))?;
        let code = BrCode::new(
            &self.account.key,
            &self.account.merchant_name,
            &self.account.merchant_city,
            Some(request.amount),
            Some(&txid),
        )
        .map_err(|e| PaymentError::Invalid(e.describe()))?;
        Ok(Charge::PixPending {
            br_code: code.payload(),
            reference: txid.clone(),
            txid,
        })
    }

    async fn refund(
        &self,
        reference: &str,
        _amount: Money,
        refund_id: &str,
    ) -> Result<Refunded, PaymentError> {
        Ok(Refunded {
            reference: format!("devolucao-{}", short_hash(&[reference, refund_id])),
        })
    }

    async fn cancel(&self, _reference: &str) -> Result<(), PaymentError> {
        // A BR Code made by the store itself cannot be withdrawn: a payment that still arrives
        // is a late payment, refunded.
        Ok(())
    }

    async fn lookup(&self, _reference: &str) -> Result<Option<ProviderPayment>, PaymentError> {
        // Nothing to ask: the sandbox's notices are signed by the store's own secret.
        Ok(None)
    }

    async fn received(
        &self,
        _from: Timestamp,
        _to: Timestamp,
    ) -> Result<Vec<ProviderPayment>, PaymentError> {
        Ok(Vec::new())
    }

    async fn webhook(&self, request: &WebhookRequest<'_>) -> Result<Vec<NoticeItem>, WebhookError> {
        self.signer.verify(request)?;
        let notice: PixNotice = serde_json::from_slice(request.body)
            .map_err(|e| WebhookError::Malformed(e.to_string()))?;
        if notice.kind != "pix.paid" {
            return Err(WebhookError::Malformed(format!(
                "unknown notice type {:?}",
                notice.kind
            )));
        }
        let valid_id = |s: &str| !s.is_empty() && s.len() <= 64 && s.is_ascii();
        if !valid_id(&notice.id) || !valid_id(&notice.end_to_end_id) || !valid_id(&notice.txid) {
            return Err(WebhookError::Malformed(
                "id, txid and end_to_end_id are 1 to 64 ASCII characters".into(),
            ));
        }
        if notice.amount_centavos <= 0 {
            return Err(WebhookError::Malformed(
                "amount_centavos must be above zero".into(),
            ));
        }
        // Signed with the store's own secret: the notice is the proof.
        Ok(vec![NoticeItem {
            notice_id: notice.id,
            reference: notice.end_to_end_id.clone(),
            verified: Some(ProviderPayment {
                reference: notice.end_to_end_id,
                charge: ChargeKey::Txid(notice.txid),
                status: ProviderStatus::Paid,
                amount: Money::from_centavos(notice.amount_centavos),
                refunded: Money::ZERO,
                authorization: None,
                card: None,
            }),
        }])
    }
}

/// Test cards with fixed outcomes (see the module docs).
#[derive(Debug, Default)]
pub struct CardSandbox;

#[async_trait]
impl PaymentProvider for CardSandbox {
    fn name(&self) -> &'static str {
        "card"
    }

    fn methods(&self) -> &'static [PaymentMethod] {
        &[PaymentMethod::Card]
    }

    fn is_sandbox(&self) -> bool {
        true
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let ChargeMethod::Card { card, .. } = &request.method else {
            return Err(PaymentError::Invalid(
                "this provider takes cards only".into(),
            ));
        };
        let CardInput::Number { number, .. } = card else {
            return Err(PaymentError::Invalid(
                "the card sandbox takes test card numbers, not another provider's tokens".into(),
            ));
        };
        let card = Some(CardSummary {
            brand: number.brand(),
            last4: number.last4().to_owned(),
        });
        let declined = |reason| {
            Ok(Charge::Declined {
                reason,
                card: card.clone(),
            })
        };
        match sandbox_outcome(number) {
            SandboxOutcome::Approve => {
                let hash = short_hash(&[&request.idempotency_key]);
                // Six digits, as issuers' authorization codes are.
                let authorization = format!(
                    "{:06}",
                    u64::from_str_radix(&hash[..8], 16).unwrap_or(0) % 1_000_000
                );
                Ok(Charge::Approved {
                    reference: format!("card-{hash}"),
                    authorization,
                    card,
                })
            }
            SandboxOutcome::Decline => declined(DeclineReason::Declined),
            SandboxOutcome::InsufficientFunds => declined(DeclineReason::InsufficientFunds),
            SandboxOutcome::ProcessorError => Err(PaymentError::Unavailable(anyhow::anyhow!(
                "the sandbox acquirer did not answer (test card 4000000000000119)"
            ))),
        }
    }

    async fn refund(
        &self,
        reference: &str,
        _amount: Money,
        refund_id: &str,
    ) -> Result<Refunded, PaymentError> {
        Ok(Refunded {
            reference: format!("reversal-{}", short_hash(&[reference, refund_id])),
        })
    }

    async fn cancel(&self, _reference: &str) -> Result<(), PaymentError> {
        Ok(())
    }

    async fn lookup(&self, _reference: &str) -> Result<Option<ProviderPayment>, PaymentError> {
        Ok(None)
    }

    async fn received(
        &self,
        _from: Timestamp,
        _to: Timestamp,
    ) -> Result<Vec<ProviderPayment>, PaymentError> {
        Ok(Vec::new())
    }

    async fn webhook(
        &self,
        _request: &WebhookRequest<'_>,
    ) -> Result<Vec<NoticeItem>, WebhookError> {
        // Card charges are answered synchronously; nothing is ever notified later.
        Err(WebhookError::Malformed(
            "the card sandbox sends no webhooks".into(),
        ))
    }
}

/// 16 hex digits of SHA-256 over `parts`: a stable id for the same inputs (idempotency).
fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use vitrine_domain::Timestamp;
    use vitrine_domain::card::{CardNumber, InstallmentTable};

    use super::*;

    fn signer() -> WebhookSigner {
        WebhookSigner::new(b"0123456789abcdef0123".to_vec()).unwrap()
    }

    fn request<'a>(
        header: &'a (dyn Fn(&str) -> Option<String> + Sync),
        body: &'a [u8],
        now_secs: i64,
    ) -> WebhookRequest<'a> {
        WebhookRequest {
            header,
            query: &|_: &str| None,
            subpath: "",
            body,
            now: Timestamp::from_millis(now_secs * 1000),
        }
    }

    #[test]
    fn a_signed_fresh_webhook_verifies() {
        let body = br#"{"id":"n1"}"#;
        let sig = signer().sign(1_700_000_000, body);
        let header = move |name: &str| (name == SIGNATURE_HEADER).then(|| sig.clone());
        assert!(
            signer()
                .verify(&request(&header, body, 1_700_000_100))
                .is_ok()
        );
    }

    #[test]
    fn wrong_secret_changed_body_missing_header_and_stale_are_refused() {
        let body = br#"{"id":"n1"}"#;
        let sig = signer().sign(1_700_000_000, body);
        let header = move |name: &str| (name == SIGNATURE_HEADER).then(|| sig.clone());
        let other = WebhookSigner::new(b"another-secret-of-16".to_vec()).unwrap();
        assert!(matches!(
            other.verify(&request(&header, body, 1_700_000_000)),
            Err(WebhookError::BadSignature)
        ));
        assert!(matches!(
            signer().verify(&request(&header, br#"{"id":"n2"}"#, 1_700_000_000)),
            Err(WebhookError::BadSignature)
        ));
        let none = |_: &str| None;
        assert!(matches!(
            signer().verify(&request(&none, body, 1_700_000_000)),
            Err(WebhookError::BadSignature)
        ));
        assert!(matches!(
            signer().verify(&request(&header, body, 1_700_000_000 + TOLERANCE_SECS + 1)),
            Err(WebhookError::Stale)
        ));
        assert!(WebhookSigner::new(b"short".to_vec()).is_err());
    }

    fn payer() -> crate::ports::payments::Payer {
        crate::ports::payments::Payer {
            name: "Maria Silva".into(),
            email: "maria@example.com".into(),
            document: "12345678909".into(),
        }
    }

    fn pix() -> PixSandbox {
        PixSandbox::new(
            PixAccount {
                key: "12345678000195".into(),
                merchant_name: "Loja Exemplo".into(),
                merchant_city: "São Paulo".into(),
            },
            signer(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_pix_charge_is_a_br_code_with_the_orders_txid_and_amount() {
        let charge = pix()
            .charge(&ChargeRequest {
                order_id: "01JORDERAAAABBBBCCCCDDDDEE".into(),
                idempotency_key: "k".into(),
                amount: Money::from_centavos(12_345),
                payer: payer(),
                description: "Pedido".into(),
                method: ChargeMethod::Pix {
                    expires_at: Timestamp::from_millis(0),
                },
            })
            .await
            .unwrap();
        let Charge::PixPending { txid, br_code, .. } = charge else {
            panic!("expected a pending Pix charge");
        };
        assert_eq!(txid, "1JORDERAAAABBBBCCCCDDDDEE");
        assert!(br_code.contains("5406123.45"));
        assert!(br_code.contains(&format!("0525{txid}")));
        assert!(vitrine_domain::pix::crc_matches(&br_code));
    }

    #[tokio::test]
    async fn a_pix_notice_is_read_after_its_signature() {
        let body = br#"{"id":"n1","type":"pix.paid","txid":"T1","amount_centavos":990,"end_to_end_id":"E1"}"#;
        let sig = signer().sign(100, body);
        let header = move |name: &str| (name == SIGNATURE_HEADER).then(|| sig.clone());
        let items = pix().webhook(&request(&header, body, 100)).await.unwrap();
        let [item] = &items[..] else {
            panic!("expected one notice item, got {items:?}");
        };
        let paid = item
            .verified
            .as_ref()
            .expect("the sandbox vouches for its own notices");
        assert_eq!(paid.charge, ChargeKey::Txid("T1".into()));
        assert_eq!(paid.amount, Money::from_centavos(990));
        assert_eq!(paid.reference, "E1");
        assert_eq!(item.notice_id, "n1");
        let bad = br#"{"id":"n1","type":"pix.paid","txid":"T1","amount_centavos":0,"end_to_end_id":"E1"}"#;
        let sig = signer().sign(100, bad);
        let header = move |name: &str| (name == SIGNATURE_HEADER).then(|| sig.clone());
        assert!(matches!(
            pix().webhook(&request(&header, bad, 100)).await,
            Err(WebhookError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn test_cards_approve_decline_or_fail_and_approval_is_stable_per_key() {
        let charge = |number: &str, key: &str| {
            let request = ChargeRequest {
                order_id: "o1".into(),
                idempotency_key: key.into(),
                amount: Money::from_centavos(10_000),
                payer: payer(),
                description: "Pedido".into(),
                method: ChargeMethod::Card {
                    card: CardInput::Number {
                        number: CardNumber::parse(number).unwrap(),
                        holder: "Maria".into(),
                    },
                    price: Money::from_centavos(10_000),
                    plan: InstallmentTable::default()
                        .plan(Money::from_centavos(10_000), 3)
                        .unwrap(),
                },
            };
            async move { CardSandbox.charge(&request).await }
        };
        let first = charge("4111111111111111", "o1-1").await.unwrap();
        assert_eq!(first, charge("4111111111111111", "o1-1").await.unwrap());
        let Charge::Approved {
            authorization,
            card,
            ..
        } = first
        else {
            panic!("expected an approval");
        };
        assert_eq!(authorization.len(), 6);
        assert_eq!(card.unwrap().last4, "1111");
        assert!(matches!(
            charge("4000000000000002", "k").await.unwrap(),
            Charge::Declined {
                reason: DeclineReason::Declined,
                ..
            }
        ));
        assert!(matches!(
            charge("4000000000009995", "k").await.unwrap(),
            Charge::Declined {
                reason: DeclineReason::InsufficientFunds,
                ..
            }
        ));
        assert!(matches!(
            charge("4000000000000119", "k").await,
            Err(PaymentError::Unavailable(_))
        ));
    }
}
