//! The admin's search entries for a table from before they existed: the backfill builds them
//! once, from every order of every status and the profile of each customer who ordered (a
//! customer who never ordered gets theirs at their next sign-in: `tests/admin_search.rs` of the
//! binary, with the real identity provider).

use vitrine_app::admin_search::OrderSearchInput;
use vitrine_app::ports::Key;
use vitrine_app::store::order_index::OrderSearch;

use crate::world::World;

/// Delete every search entry and the mark that they were built, as in a table written by a
/// version from before them.
async fn forget_the_entries(w: &World, tax_ids: &[&str]) {
    let mut partitions = vec![
        "ORDERS".to_owned(),
        "CUSTOMERS".to_owned(),
        "CUSTOMERS#FIND".to_owned(),
    ];
    partitions.extend(tax_ids.iter().map(|t| format!("ORDERS#TAX#{t}")));
    w.forget(&partitions, &[Key::new("ADMININDEX", "ADMININDEX")])
        .await;
}

#[tokio::test]
async fn a_table_from_before_the_search_entries_gets_them_once() {
    let w = World::new();
    w.product("caneca", "CANECA-1", 100).await;
    let ana = w.customer("ana@example.com").await;
    let bia = w.customer("bia@example.com").await;
    w.customer("caio@example.com").await;
    let mut placed = Vec::new();
    for (i, who) in [&ana, &bia, &ana, &bia, &ana].into_iter().enumerate() {
        placed.push(
            w.place(who, "CANECA-1", 1, &format!("key-{i}"))
                .await
                .unwrap(),
        );
    }
    let every = OrderSearch::default();
    assert_eq!(
        w.app
            .search_orders(&every, 100, None)
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    forget_the_entries(&w, &["52998224725"]).await;
    assert!(
        w.app
            .search_orders(&every, 100, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        w.app
            .search_customers("", 100, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let seen = std::sync::Mutex::new(Vec::new());
    let built = w
        .app
        .ensure_admin_indexes(&|n| seen.lock().unwrap().push(n))
        .await
        .unwrap();
    assert_eq!(built, 5);
    assert_eq!(seen.into_inner().unwrap().last(), Some(&5));
    let found = w.app.search_orders(&every, 100, None).await.unwrap().items;
    let mut ids: Vec<String> = placed.iter().map(|p| p.order.id.clone()).collect();
    ids.reverse();
    assert_eq!(found.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), ids);
    let by_cpf = OrderSearchInput {
        tax_id: Some("529.982.247-25".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    assert_eq!(
        w.app
            .search_orders(&by_cpf, 100, None)
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    // The customers who ordered.
    let emails = |page: vitrine_app::admin_search::CustomerPage| -> Vec<String> {
        let mut e: Vec<String> = page.items.into_iter().map(|p| p.email).collect();
        e.sort();
        e
    };
    assert_eq!(
        emails(w.app.search_customers("", 100, None).await.unwrap()),
        ["ana@example.com", "bia@example.com"]
    );
    assert_eq!(
        w.app.ensure_admin_indexes(&|_| {}).await.unwrap(),
        0,
        "once"
    );
}
