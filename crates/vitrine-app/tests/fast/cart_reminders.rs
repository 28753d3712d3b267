//! The cart reminder sweep when the mail transport fails, refuses, or the reminders are off or
//! have no one to go to (`vitrine_app::cart_reminders`); the happy paths, on the real server, are
//! `crates/vitrine/tests/abandoned_carts.rs`.

use vitrine_app::cart::CartOwner;
use vitrine_app::cart_reminders::{MAIL_KIND, ReminderRun};
use vitrine_app::customers::{Language, ProfileUpdate};
use vitrine_app::ports::Clock;
use vitrine_app::{AppError, AppResult, Settings};
use vitrine_domain::cart::Quantity;
use vitrine_domain::catalog::Sku;
use vitrine_testkit::doubles::Failure;

use crate::world::World;

const STORE: &str = "https://loja.example";
const HOUR: i64 = 3_600;

/// `sub`'s cart with `qty` of `Produto caneca` (R$ 50,00), touched now.
async fn cart_of(w: &World, sub: &str, qty: i64) {
    let sku = Sku::parse("LEMB-U").unwrap();
    if w.app.available(&sku).await.unwrap().is_none() {
        w.product("caneca", sku.as_str(), 50).await;
    }
    w.app
        .add_to_cart(
            Some(CartOwner::Customer(sub.into())),
            sku,
            Quantity::parse(qty).unwrap(),
        )
        .await
        .unwrap();
}

/// A sweep `hours` after the world's now.
async fn sweep(w: &World, hours: i64) -> AppResult<ReminderRun> {
    let at = w.clock.now().plus_secs(hours * HOUR);
    w.app.remind_abandoned_carts(at, STORE).await
}

#[tokio::test]
async fn a_transport_that_is_down_gives_the_claim_back_for_the_next_sweep() {
    let w = World::new();
    let ana = w.customer("ana@example.com").await;
    w.app
        .update_profile(
            &ana.sub,
            ProfileUpdate {
                name: "Ana Souza".into(),
                tax_id: None,
                phone: None,
                sms_opt_in: false,
                language: Language::En,
                marketing_emails: None,
                cart_reminders: None,
            },
        )
        .await
        .unwrap();
    cart_of(&w, &ana.sub, 2).await;
    w.mailer.fail_with(Failure::Unavailable);
    let err = sweep(&w, 25).await.unwrap_err();
    assert!(matches!(err, AppError::Unavailable(_)), "{err}");
    assert!(w.mailer.sent().is_empty());

    w.mailer.recover();
    let run = sweep(&w, 25).await.unwrap();
    assert_eq!(run.sent, 1, "{run:?}");
    let sent = w.mailer.sent();
    assert!(sent[0].subject.contains("Your cart"), "{}", sent[0].subject);
    assert!(
        sent[0]
            .text
            .contains("2 x Produto caneca (tamanho: M): R$ 100,00"),
        "{}",
        sent[0].text
    );
    // Among the customer's e-mails sent, under the reminder's id.
    let data = w.app.export_personal_data(&ana.sub).await.unwrap();
    assert_eq!(data.emails_sent.len(), 1);
    assert_eq!(data.emails_sent[0].kind, MAIL_KIND);
    assert_eq!(
        sent[0].idempotency_key.as_deref(),
        Some(format!("{}.cart-reminder", data.emails_sent[0].event_id).as_str())
    );
}

#[tokio::test]
async fn a_refused_address_is_skipped_until_the_cart_is_touched_again() {
    let w = World::new();
    let bia = w.customer("bia@example.com").await;
    let owner = CartOwner::Customer(bia.sub.clone());
    cart_of(&w, &bia.sub, 1).await;
    w.mailer.fail_with(Failure::Invalid);
    let run = sweep(&w, 25).await.unwrap();
    assert_eq!((run.sent, run.skipped), (0, 1), "{run:?}");
    w.mailer.recover();
    assert_eq!(sweep(&w, 26).await.unwrap(), ReminderRun::default());
    // Nothing went out: the cart has no last reminder, its checkout would recover nothing.
    assert_eq!(w.app.cart(&owner).await.unwrap().reminder, None);

    cart_of(&w, &bia.sub, 1).await;
    assert_eq!(sweep(&w, 25).await.unwrap().sent, 1);
    assert!(
        w.app.cart(&owner).await.unwrap().reminder.is_some(),
        "the reminder sent is the cart's last"
    );
}

#[tokio::test]
async fn a_cart_without_a_profile_is_skipped_and_reminders_off_do_nothing() {
    let w = World::new();
    cart_of(&w, "no-profile", 1).await;
    let run = sweep(&w, 25).await.unwrap();
    assert_eq!((run.sent, run.skipped), (0, 1), "{run:?}");

    let off = vitrine_app::App::new(
        w.ports.clone(),
        Settings {
            abandoned_cart_secs: 0,
            ..Settings::default()
        },
    );
    let cai = w.customer("cai@example.com").await;
    cart_of(&w, &cai.sub, 1).await;
    let at = w.clock.now().plus_secs(25 * HOUR);
    assert_eq!(
        off.remind_abandoned_carts(at, STORE).await.unwrap(),
        ReminderRun::default()
    );
    assert!(w.mailer.sent().is_empty());
}
