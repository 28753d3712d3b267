//! Abandoned cart reminders: a signed-in customer's cart left untouched for
//! `Settings::abandoned_cart_secs` gets one e-mail (its lines at today's prices, a link back to
//! the cart, a link that turns the reminders off), and the dashboard counts the reminders sent
//! and the carts recovered. See docs/abandoned-carts.md.
//!
//! How a sweep ([`App::remind_abandoned_carts`], run every few minutes: `vitrine serve`'s
//! worker, the `expire` function's `abandoned-carts` job on AWS) finds and mails them:
//! - It reads one range of one index partition: the customer carts awaiting a reminder
//!   (`store::carts`, gsi1 `CARTS#TOUCHED`), last touched between [`MAX_IDLE_MS`] and the idle
//!   time ago, oldest first; never the table, never a cart touched more recently or longer ago.
//!   A cart enters that partition when a line is added, changed or removed, and leaves it when
//!   it is emptied, checked out, erased, reminded or skipped.
//! - It skips (takes out of the partition, until the next touch) the carts of customers who
//!   turned the reminders off or whose profile is gone, and carts with nothing left for sale.
//! - For the others it first claims the reminder — a write conditioned on the cart's version
//!   read and on no reminder having been claimed for that version — then sends the e-mail, then
//!   records it among the customer's e-mails sent (their data export) and in the dashboard's
//!   index. Two sweeps at once claim each cart once: one e-mail per cart state. A touch makes a
//!   new state: the cart is reminded again once it is idle again.
//! - A transport that refuses or fails gives the claim back (the cart awaits its reminder again;
//!   a refused address is skipped instead); a process that dies between the claim and the send
//!   loses that one reminder (better than mailing twice).
//! - Each run sends at most [`MAX_PER_RUN`] e-mails and reads at most [`BUDGET`] index items;
//!   the next run goes on where the partition still holds carts.
//!
//! A cart is **recovered** when its customer checks it out (places an order from the cart, as
//! it stood or changed since) within [`RECOVERY_WINDOW_MS`] of its last reminder
//! ([`recovered_by`], written in the checkout's batch); the dashboard counts, among the
//! reminders sent in its period, those whose cart was recovered.

use std::sync::Arc;

use vitrine_domain::Timestamp;

use crate::app::App;
use crate::cart::CartOwner;
use crate::customers::Profile;
use crate::error::{AppError, AppResult};
use crate::links::{self, LinkKey, LinkPurpose};
use crate::notify::{self, CartReminder, ReminderLine, Shop};
use crate::ports::MailError;
use crate::store::carts::{IdleCart, ReminderMark};
use crate::store::privacy::SentMail;
use crate::store::{self, Batch, Part, WriteFailed};

/// A cart untouched for longer than this is not reminded: a week-old cart was not abandoned a
/// moment ago (the store was down, or the reminders were off, when it became idle).
pub const MAX_IDLE_MS: i64 = 7 * 86_400_000;

/// An order placed from a reminded cart within this time of the reminder recovers it.
pub const RECOVERY_WINDOW_MS: i64 = 7 * 86_400_000;

/// The most reminders one sweep sends.
pub const MAX_PER_RUN: usize = 200;

/// The most index items one sweep reads.
pub const BUDGET: usize = 2_000;

/// Carts examined per round (their profiles read in one request).
const ROUND: usize = 25;

/// The `kind` of a reminder among a customer's e-mails sent.
pub const MAIL_KIND: &str = "cart.reminder";

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReminderRun {
    /// Reminders e-mailed.
    pub sent: usize,
    /// Carts taken out without a reminder (opted out, no profile, nothing for sale, a refused
    /// address).
    pub skipped: usize,
    /// Carts another sweep claimed first, or their customer touched meanwhile.
    pub taken: usize,
}

/// The storefront's pages a reminder links to, under `store_url` (`https://loja.example`).
fn cart_url(store_url: &str) -> String {
    format!("{}/#/carrinho", store_url.trim_end_matches('/'))
}

fn opt_out_url(store_url: &str, token: &str) -> String {
    format!(
        "{}/#/lembretes?token={token}",
        store_url.trim_end_matches('/')
    )
}

/// The reminder a checkout of a cart recovers: the cart's last one, if it is recent enough.
pub fn recovered_by(reminder: Option<ReminderMark>, now: Timestamp) -> Option<ReminderMark> {
    reminder.filter(|r| now.millis() - r.at.millis() <= RECOVERY_WINDOW_MS)
}

impl App {
    /// Remind the customers whose carts were left untouched (see the module docs), as of `now`;
    /// links point to the storefront at `store_url`. Nothing when the reminders are off
    /// (`abandoned_cart_hours = 0`).
    pub async fn remind_abandoned_carts(
        &self,
        now: Timestamp,
        store_url: &str,
    ) -> AppResult<ReminderRun> {
        let mut run = ReminderRun::default();
        let idle_ms = self.settings.abandoned_cart_secs * 1000;
        if idle_ms <= 0 {
            return Ok(run);
        }
        let table = &*self.ports.table;
        let from = Timestamp::from_millis(now.millis() - MAX_IDLE_MS);
        let until = Timestamp::from_millis(now.millis() - idle_ms);
        let mut carts = store::carts::idle_carts(table, from, until, BUDGET);
        let mut shop: Option<Shop> = None;
        while run.sent < MAX_PER_RUN {
            let round = carts.next(ROUND.min(MAX_PER_RUN - run.sent)).await?;
            if round.is_empty() {
                break;
            }
            let subs: Vec<String> = round.iter().map(|c| c.sub.clone()).collect();
            let profiles: Vec<Option<Profile>> =
                store::customers::load_profiles(table, &subs).await?;
            for (cart, profile) in round.iter().zip(profiles) {
                let Some(profile) = profile.filter(|p| p.cart_reminders) else {
                    self.skip_reminder(cart, &mut run).await?;
                    continue;
                };
                let lines = self.reminder_lines(cart).await?;
                if lines.is_empty() {
                    self.skip_reminder(cart, &mut run).await?;
                    continue;
                }
                let shop = match &shop {
                    Some(s) => s,
                    None => shop.insert(self.shop_for_messages().await?),
                };
                let reminder = ReminderMark {
                    id: self.ports.ids.new_id(),
                    at: now,
                };
                self.remind(cart, &profile, lines, &reminder, shop, store_url, &mut run)
                    .await?;
            }
        }
        if run != ReminderRun::default() {
            tracing::info!(
                sent = run.sent,
                skipped = run.skipped,
                taken = run.taken,
                "abandoned cart reminders"
            );
        }
        Ok(run)
    }

    /// Write `cart`'s reminder, claim it, send it, record it.
    #[expect(
        clippy::too_many_arguments,
        reason = "the steps of one reminder, each needing what the sweep already holds"
    )]
    async fn remind(
        &self,
        cart: &IdleCart,
        profile: &Profile,
        lines: Vec<ReminderLine>,
        reminder: &ReminderMark,
        shop: &Shop,
        store_url: &str,
        run: &mut ReminderRun,
    ) -> AppResult<()> {
        let token = self
            .link_key()
            .await?
            .sign(LinkPurpose::CartRemindersOff, &cart.sub);
        let email = notify::cart_reminder_email(&CartReminder {
            id: &reminder.id,
            to: &profile.email,
            name: &profile.name,
            language: profile.language,
            shop,
            lines,
            cart_url: cart_url(store_url),
            opt_out_url: opt_out_url(store_url, &token),
        })
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("the cart reminder")))?;
        let subject = email.subject.clone();
        // Whatever may fail before the send is done before the claim; a failed send gives it back.
        let mut batch = Batch::new();
        batch.claim_cart_reminder(cart, reminder);
        match self.write(batch).await {
            Ok(()) => {}
            Err(WriteFailed::Condition { .. }) => {
                run.taken += 1;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = self.ports.mailer.send(email).await {
            let refused = matches!(e, MailError::Invalid(_));
            let mut batch = Batch::new();
            batch.release_cart_reminder(cart, reminder, !refused);
            if let Err(w) = self.write(batch).await {
                tracing::warn!(error = %w, "a cart reminder that was not sent could not be given back");
            }
            return match e {
                MailError::Invalid(why) => {
                    tracing::warn!(reason = %why, "the mailer refused a cart reminder: skipped");
                    run.skipped += 1;
                    Ok(())
                }
                MailError::Unavailable(e) => {
                    Err(AppError::Unavailable(e.context("sending a cart reminder")))
                }
            };
        }
        run.sent += 1;
        let mut batch = Batch::new();
        batch.record_cart_reminder(
            &cart.sub,
            &SentMail {
                event_id: reminder.id.clone(),
                kind: MAIL_KIND.into(),
                subject,
                at_ms: reminder.at.millis(),
            },
        );
        // The e-mail went out: a record that fails is logged, not a reason to mail again.
        if let Err(e) = self.write(batch).await {
            tracing::warn!(error = %e, "the record of a cart reminder sent was not written");
        }
        Ok(())
    }

    /// Take `cart` out of the carts awaiting a reminder, without one.
    async fn skip_reminder(&self, cart: &IdleCart, run: &mut ReminderRun) -> AppResult<()> {
        let mut batch = Batch::new();
        batch.skip_cart_reminder(cart);
        match self.write(batch).await {
            Ok(()) => run.skipped += 1,
            Err(WriteFailed::Condition { .. }) => run.taken += 1,
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// The lines of `cart` still for sale, at today's prices.
    async fn reminder_lines(&self, cart: &IdleCart) -> AppResult<Vec<ReminderLine>> {
        let owner = CartOwner::Customer(cart.sub.clone());
        let view = self.price_cart(&owner, cart.cart.clone(), None).await?;
        Ok(view
            .lines
            .into_iter()
            .filter_map(|l| {
                let product = l.product?;
                let unit_price = l.unit_price?;
                let options = product
                    .variant(&l.line.sku)
                    .map(|v| {
                        v.options
                            .iter()
                            .map(|(k, v)| format!("{k}: {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                Some(ReminderLine {
                    name: product.name.clone(),
                    options,
                    quantity: l.line.quantity.get(),
                    unit_price,
                })
            })
            .collect())
    }

    /// Turn off the cart reminders of the customer `token` names (the link in a reminder; no
    /// sign-in). A token the store did not sign is a field error on `token`; a customer who is
    /// gone has nothing to turn off.
    pub async fn cart_reminders_off_by_link(&self, token: &str) -> AppResult<()> {
        let sub = self
            .link_key()
            .await?
            .verify(LinkPurpose::CartRemindersOff, token)
            .ok_or_else(|| {
                AppError::field(
                    "token",
                    "this link is not valid: open the one in the e-mail, whole, or turn the \
                     reminders off in your account",
                )
            })?;
        match self
            .edit_profile(&sub, |profile| profile.cart_reminders = false)
            .await
        {
            Ok(_) | Err(AppError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The key the reminders' links are signed with (`crate::links`): read from the table once
    /// per process, made there by the first process that needs it (another one making it at the
    /// same time wins, and both use it).
    pub(crate) async fn link_key(&self) -> AppResult<Arc<LinkKey>> {
        self.link_key
            .get_or_try_init(|| async {
                let table = &*self.ports.table;
                if let Some(secret) = store::cart_reminders::link_key_secret(table).await? {
                    return links::decode_secret(&secret);
                }
                let (key, secret) = links::fresh_secret();
                let mut batch = Batch::new();
                batch.put_new_link_key(&secret);
                match self.write(batch).await {
                    Ok(()) => Ok(key),
                    Err(e) if e.part() == Some(&Part::LinkKey) => {
                        let secret = store::cart_reminders::link_key_secret(table)
                            .await?
                            .ok_or_else(|| {
                                AppError::Internal(anyhow::anyhow!(
                                    "the link key was made by another process but cannot be read"
                                ))
                            })?;
                        links::decode_secret(&secret)
                    }
                    Err(e) => Err(e.into()),
                }
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::testing::Harness;

    #[test]
    fn the_links_lead_to_the_storefront_s_pages() {
        assert_eq!(
            cart_url("https://loja.example/"),
            "https://loja.example/#/carrinho"
        );
        assert_eq!(
            opt_out_url("https://loja.example", "abc.def"),
            "https://loja.example/#/lembretes?token=abc.def"
        );
    }

    #[test]
    fn a_checkout_recovers_a_reminder_of_the_last_seven_days_only() {
        let sent = Timestamp::from_millis(1_000_000_000_000);
        let mark = ReminderMark {
            id: "r".into(),
            at: sent,
        };
        let after = |ms: i64| Timestamp::from_millis(sent.millis() + ms);
        assert_eq!(
            recovered_by(Some(mark.clone()), after(RECOVERY_WINDOW_MS)),
            Some(mark.clone())
        );
        assert_eq!(
            recovered_by(Some(mark.clone()), after(RECOVERY_WINDOW_MS + 1)),
            None
        );
        assert_eq!(recovered_by(None, after(0)), None);
    }

    #[tokio::test]
    async fn two_processes_that_need_the_link_key_at_once_agree_on_it() {
        let h = Harness::new();
        let other = h.second_instance();
        let (a, b) = tokio::join!(h.app.link_key(), other.link_key());
        let (a, b) = (a.unwrap(), b.unwrap());
        let token = a.sign(LinkPurpose::CartRemindersOff, "sub-ana");
        assert_eq!(
            b.verify(LinkPurpose::CartRemindersOff, &token).as_deref(),
            Some("sub-ana")
        );
        // A process started later reads the same key from the table.
        let later = h.second_instance().link_key().await.unwrap();
        assert!(
            later
                .verify(LinkPurpose::CartRemindersOff, &token)
                .is_some()
        );
    }
}
