//! Sessions that end before their tokens: a revocation counts at once in the process that made
//! it and within a minute in every other process on the same table (each keeps the list in
//! memory, read again once a minute).

use vitrine_app::App;
use vitrine_app::auth::Principal;
use vitrine_app::settings::Settings;

use crate::world::{T0, World};

fn principal(sub: &str, session: &str, issued_at: i64) -> Principal {
    Principal {
        sub: sub.into(),
        groups: vec!["customer".into()],
        username: Some(sub.into()),
        email: None,
        session: Some(session.into()),
        issued_at,
    }
}

#[tokio::test]
async fn a_revocation_counts_at_once_here_and_within_a_minute_in_another_process() {
    let w = World::new();
    let here = &w.app;
    let there = App::new(w.app.ports.clone(), Settings::default());
    let phone = principal("ana", "S-PHONE", T0);
    let laptop = principal("ana", "S-LAPTOP", T0);
    // The other process reads (and keeps) the list before the sign-out.
    assert!(!there.is_revoked(&phone).await.unwrap());

    here.revoke_session(&phone).await.unwrap();
    assert!(
        here.is_revoked(&phone).await.unwrap(),
        "at once where it was made"
    );
    assert!(!here.is_revoked(&laptop).await.unwrap(), "one session only");
    w.clock.advance_secs(30);
    assert!(
        !there.is_revoked(&phone).await.unwrap(),
        "the other process's list is at most a minute old"
    );
    w.clock.advance_secs(31);
    assert!(there.is_revoked(&phone).await.unwrap(), "within a minute");

    // A password reset: tokens issued before it are refused, the ones after it are not.
    w.clock.advance_secs(10);
    let now = T0 + 71;
    here.revoke_user_tokens("ana").await.unwrap();
    assert!(
        here.is_revoked(&principal("ana", "S-OLD", now - 1))
            .await
            .unwrap()
    );
    assert!(
        !here
            .is_revoked(&principal("ana", "S-NEW", now))
            .await
            .unwrap()
    );
    assert!(
        !here
            .is_revoked(&principal("bia", "S-BIA", now - 1))
            .await
            .unwrap()
    );

    // Once the tokens it concerns have expired, a revocation is gone from the table.
    w.clock.advance_secs(vitrine_app::sessions::KEEP_SECS + 61);
    assert!(!there.is_revoked(&phone).await.unwrap());
}
